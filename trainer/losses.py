"""The losses of docs/training.md, one named function each.

Shapes in the comments: B batch, T sequence length, V vocabulary, K completions
of one ranking, P pairs. Every loss returns a scalar averaged the way the cited
paper averages it; log-sigmoid is used instead of log(sigmoid(.)) for stability.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "center_rewards_penalty",
    "dpo_loss",
    "grouped_ranking_loss",
    "listwise_ranking_loss",
    "margin_ranking_loss",
    "ranking_pairs",
    "sequence_logprobs",
    "sft_loss",
]

IGNORE_INDEX = -100


def sft_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Masked next-token cross-entropy (InstructGPT §3.5 SFT).

    logits [B, T, V] at position t predict token t+1, so both are shifted by one;
    labels [B, T] hold -100 on prompt/system/user/padding tokens, which drop out.
    The mean is over the remaining (assistant) tokens of the whole batch.
    """
    shift_logits = logits[:, :-1, :].float()  # [B, T-1, V]
    shift_labels = labels[:, 1:]  # [B, T-1]
    return F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
    )


def sequence_logprobs(logits: Tensor, input_ids: Tensor, completion_mask: Tensor) -> Tensor:
    """log π(y|x) = Σ_t log π(y_t | x, y_<t) over completion tokens → [B].

    logits [B, T, V]; input_ids [B, T]; completion_mask [B, T] is 1 on completion
    tokens (0 on prompt and padding). Token t is scored by the logits at t-1.
    """
    logps = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)  # [B, T-1, V]
    targets = input_ids[:, 1:]  # [B, T-1]
    token_logps = logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # [B, T-1]
    return (token_logps * completion_mask[:, 1:].to(token_logps.dtype)).sum(-1)


def ranking_pairs(ranking: list[list[int]]) -> Tensor:
    """(winner, loser) indices [P, 2] of a best-first ranking of tie groups; ties give none."""
    pairs = [(w, lo) for i, tier in enumerate(ranking)
             for lower in ranking[i + 1:] for w in tier for lo in lower]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def listwise_ranking_loss(scores: Tensor, pairs: Tensor) -> Tensor:
    """InstructGPT's reward loss for one ranking (arXiv:2203.02155 eq. 1).

    scores [K]: r_θ(x, y_k), each completion forwarded once. pairs [P, 2] long:
    (w, l) with y_w ranked above y_l, all C(K,2) untied pairs. The 1/C(K,2) average
    makes the whole ranking one batch element:

        loss = −1/P · Σ_(w,l) log σ(r_w − r_l)
    """
    diff = scores[pairs[:, 0]] - scores[pairs[:, 1]]  # [P]
    return -F.logsigmoid(diff).mean()


def margin_ranking_loss(r_chosen: Tensor, r_rejected: Tensor, margin: Tensor | float = 0.0
                        ) -> Tensor:
    """Llama 2's pairwise loss with margin (arXiv:2307.09288 §3.2.2, eq. 2).

    r_chosen, r_rejected [B]; margin [B] (or a float) = m(r) from the rating:

        loss = −mean log σ(r_c − r_r − m(r))
    """
    return -F.logsigmoid(r_chosen - r_rejected - margin).mean()


def grouped_ranking_loss(
    r_better: Tensor, r_worse: Tensor, group: Tensor, margin: Tensor | None = None
) -> Tensor:
    """A batch of rankings and margin pairs in one call: the mean over groups of each
    group's mean pair loss. A ranking is one group (→ ``listwise_ranking_loss``), a
    pairwise record a group of one pair (→ ``margin_ranking_loss``).

    r_better, r_worse [P]; group [P] long in [0, G) — every group must have a pair;
    margin [P] or None (0).
    """
    m = torch.zeros_like(r_better) if margin is None else margin
    pair_loss = -F.logsigmoid(r_better - r_worse - m)  # [P]
    n_groups = int(group.max().item()) + 1
    sums = torch.zeros(n_groups, dtype=pair_loss.dtype, device=pair_loss.device)
    sums = sums.index_add(0, group, pair_loss)  # [G] Σ over each group's pairs
    counts = torch.bincount(group, minlength=n_groups).to(pair_loss.dtype)  # [G]
    return (sums / counts).mean()


def center_rewards_penalty(r_chosen: Tensor, r_rejected: Tensor, coefficient: float) -> Tensor:
    """coefficient · mean((r_c + r_r)²): keeps scores centred on 0 (Eisenstein et al.
    2023, arXiv:2312.09244; TRL's ``center_rewards_coefficient``). r_chosen, r_rejected [P]."""
    return coefficient * torch.mean((r_chosen + r_rejected) ** 2)


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """DPO (Rafailov et al. 2023, arXiv:2305.18290 eq. 7). All inputs [B] sequence log-probs.

        loss = −mean log σ(β[log π_θ(y_w) − log π_ref(y_w)] − β[log π_θ(y_l) − log π_ref(y_l)])

    Returns (loss, chosen_rewards [B], rejected_rewards [B]); the implicit rewards
    β·log(π_θ/π_ref) are detached — they are metrics, not part of the graph.
    """
    chosen_logratio = policy_chosen_logps - ref_chosen_logps  # [B]
    rejected_logratio = policy_rejected_logps - ref_rejected_logps  # [B]
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, beta * chosen_logratio.detach(), beta * rejected_logratio.detach()
