"""Reward model training (docs/training.md §2).

The loop, as in InstructGPT §3.5 and Llama 2 §3.2.2:

    for each batch of B preference groups (a ranking of K, or a pair with margin m):
        r = r_θ(x, y) for every completion of every group   # one forward per completion
        loss = mean over groups of  −mean_(w,l) log σ(r_w − r_l − m)
             (+ c · mean (r_w + r_l)²)                       # optional centring term
        step
    offset = mean r_θ over the training demonstrations      # InstructGPT: demos score 0

Evaluation (before the first step and every ``eval_steps``), the best checkpoint
and saving are trainer/loop.py's. Every saved model (best and last) is shifted so
the training demonstrations score 0 on average; where the architecture has an
additive parameter before the head the shift is folded into it, so plain
``AutoModelForSequenceClassification`` logits equal ``score()`` (see
``reward_model.fold_offset``).

``listwise=False`` makes every pair of a ranking its own group (TRL's way; the
benchmark bench/bench_reward_listwise.py compares the two). With
``objective="both"`` the trunk carries two heads, helpfulness and safety
(Llama 2), each trained on its own comparisons in the same batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

import torch
from accelerate import Accelerator
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from trainer.chat import encode_prompt_completion, pad_token_id
from trainer.collate import MARGIN_LABELS, collate_groups, right_pad
from trainer.config import ConfigError
from trainer.contract import ContractError, Export, Split
from trainer.data import Examples, PreferenceGroup, build_preference_groups
from trainer.loop import SaveExtras, fit, open_session
from trainer.losses import center_rewards_penalty, grouped_ranking_loss
from trainer.reward_config import RewardConfig
from trainer.reward_model import fold_offset, load_reward_model, score, set_reward_offset
from trainer.runtime import ProgressCallback

__all__ = ["RewardConfig", "demonstration_offset", "evaluate", "train"]

Head = Literal["helpful", "safety"]
HEADS_BY_OBJECTIVE: dict[str, list[Head]] = {
    "helpful": ["helpful"], "safety": ["safety"], "both": ["helpful", "safety"],
}
MAX_K = 9  # the contract's largest ranking


def _groups(export: Export, split: Split, tokenizer: PreTrainedTokenizerBase,
            config: RewardConfig, heads: list[Head]) -> Examples[tuple[PreferenceGroup, int]]:
    """(group, head index) for every head's comparisons in ``split``."""
    out: Examples[tuple[PreferenceGroup, int]] = Examples()
    for h, name in enumerate(heads):
        groups = build_preference_groups(
            export, split, tokenizer, config.max_length,
            listwise=config.listwise, margin_scale=config.margin_scale,
            margin_mapping=config.margin_mapping, objective=name,
        )
        out.extend((g, h) for g in groups)
        out.truncated += groups.truncated
        out.dropped += groups.dropped
    return out


def _pair_scores(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(r_w, r_l) [P] for every pair of the batch, from one forward of all N sequences."""
    scores = score(model, batch["input_ids"], batch["attention_mask"], raw=True)  # [N, H]
    return scores[batch["better"], batch["head"]], scores[batch["worse"], batch["head"]]


def _step(model: nn.Module, batch: dict[str, Tensor], center: float
          ) -> tuple[Tensor, dict[str, Tensor]]:
    r_w, r_l = _pair_scores(model, batch)  # [P] each
    loss = grouped_ranking_loss(r_w, r_l, batch["group"], batch["margin"])
    if center:
        loss = loss + center_rewards_penalty(r_w, r_l, center)
    r_w, r_l = r_w.detach(), r_l.detach()
    return loss, {"accuracy": (r_w > r_l).float(), "rewards/chosen": r_w,
                  "rewards/rejected": r_l, "rewards/margins": r_w - r_l}


def evaluate(model: nn.Module, loader: Any, accelerator: Accelerator, heads: Sequence[str]
             ) -> dict[str, float]:
    """Per head, over every validation pair: ``accuracy`` (overall, ``accuracy/<margin
    label>``, ``accuracy/k=<K>`` by ranking size), ``mean_margin`` r_w − r_l,
    ``rewards/chosen`` and ``rewards/rejected`` (mean and ``_std``) and ``loss`` (the
    training loss's mean over groups). Names: ``val_…`` for the first head,
    ``val_<head>_…`` after."""
    dev = accelerator.device
    n_heads, n_labels = len(heads), len(MARGIN_LABELS)
    correct = torch.zeros(n_heads, n_labels, device=dev)
    count = torch.zeros(n_heads, n_labels, device=dev)
    correct_k = torch.zeros(n_heads, MAX_K + 1, device=dev)
    count_k = torch.zeros(n_heads, MAX_K + 1, device=dev)
    # Σ r_w, Σ r_w², Σ r_l, Σ r_l², Σ group losses, groups
    sums = torch.zeros(n_heads, 6, device=dev)
    model.eval()
    with torch.no_grad():
        for batch in loader:
            r_w, r_l = _pair_scores(model, batch)
            diff = r_w - r_l
            for h in range(n_heads):
                sel = batch["head"] == h
                if not sel.any():
                    continue
                _, group = torch.unique(batch["group"][sel], return_inverse=True)
                n_groups = int(group.max().item()) + 1
                loss = grouped_ranking_loss(r_w[sel], r_l[sel], group, batch["margin"][sel])
                sums[h] += torch.stack([r_w[sel].sum(), (r_w[sel] ** 2).sum(), r_l[sel].sum(),
                                        (r_l[sel] ** 2).sum(), loss * n_groups,
                                        torch.tensor(float(n_groups), device=dev)])
                hit = (diff[sel] > 0).float()
                correct[h].index_add_(0, batch["label"][sel], hit)
                count[h].index_add_(0, batch["label"][sel], torch.ones_like(hit))
                ks = batch["k"][sel].clamp(max=MAX_K)
                correct_k[h].index_add_(0, ks, hit)
                count_k[h].index_add_(0, ks, torch.ones_like(hit))
    model.train()
    correct, count, correct_k, count_k, sums = (
        accelerator.reduce(t, "sum") for t in (correct, count, correct_k, count_k, sums))
    metrics: dict[str, float] = {}
    for h, name in enumerate(heads):
        total = count[h].sum().item()
        if total == 0:
            continue
        prefix = "val_" if h == 0 else f"val_{name}_"
        s_w, s_w2, s_l, s_l2, loss_sum, groups = sums[h].tolist()
        metrics[f"{prefix}accuracy"] = correct[h].sum().item() / total
        metrics[f"{prefix}mean_margin"] = (s_w - s_l) / total
        metrics[f"{prefix}loss"] = loss_sum / max(groups, 1.0)
        for side, s1, s2 in (("chosen", s_w, s_w2), ("rejected", s_l, s_l2)):
            mean = s1 / total
            metrics[f"{prefix}rewards/{side}"] = mean
            metrics[f"{prefix}rewards/{side}_std"] = max(s2 / total - mean**2, 0.0) ** 0.5
        for j, label in enumerate(MARGIN_LABELS):
            if count[h, j] > 0:
                metrics[f"{prefix}accuracy/{label}"] = (correct[h, j] / count[h, j]).item()
        for k in range(2, MAX_K + 1):
            if count_k[h, k] > 0:
                metrics[f"{prefix}accuracy/k={k}"] = (correct_k[h, k] / count_k[h, k]).item()
    return metrics


def _demonstration_sequences(export: Export, tokenizer: PreTrainedTokenizerBase,
                             max_length: int) -> list[list[int]]:
    """prompt ⊕ last assistant turn of every training demonstration."""
    return [encode_prompt_completion(tokenizer, d.messages[:-1], d.messages[-1:],
                                     max_length).input_ids for d in export.sft.get("train", [])]


def demonstration_offset(model: nn.Module, export: Export, tokenizer: PreTrainedTokenizerBase,
                         accelerator: Accelerator, max_length: int, batch_size: int,
                         head: int = 0, seqs: list[list[int]] | None = None) -> float:
    """Mean raw score of the training demonstrations (prompt ⊕ its last assistant turn).
    InstructGPT subtracts this so that demonstrations score 0 on average. ``seqs``: the
    demonstrations already encoded (``_demonstration_sequences``), when the caller has them."""
    if seqs is None:
        seqs = _demonstration_sequences(export, tokenizer, max_length)
    seqs = seqs[accelerator.process_index::accelerator.num_processes]
    total = torch.zeros(2, device=accelerator.device)  # (Σ score, count)
    pad = pad_token_id(tokenizer)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(seqs), batch_size):
            chunk = seqs[i:i + batch_size]
            ids = right_pad(chunk, pad).to(accelerator.device)
            mask = right_pad([[1] * len(s) for s in chunk], 0).to(accelerator.device)
            total[0] += score(model, ids, mask, raw=True)[:, head].sum()
            total[1] += len(chunk)
    model.train(was_training)
    total = accelerator.reduce(total, "sum")
    return (total[0] / total[1]).item() if total[1] > 0 else 0.0


def train(
    config: RewardConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """Train a reward model on ``config.data``; returns the final metrics (training means,
    example counts, the last validation evaluation and the demonstration offset)."""
    session = open_session(config)
    acc, export, tokenizer = session.accelerator, session.export, session.tokenizer
    heads = HEADS_BY_OBJECTIVE[config.objective]
    train_items = _groups(export, "train", tokenizer, config, heads)
    val_items = _groups(export, "validation", tokenizer, config, heads)
    if not train_items:
        raise ContractError("rankings.train.jsonl", None, "no comparisons (nor pairs.train.jsonl)"
                            f" for the {config.objective!r} objective")
    try:
        model: nn.Module = load_reward_model(config.model, heads)
    except OSError as exc:
        raise ConfigError("model", f"cannot load a model from {config.model}: {exc}") from None
    helpful = heads.index("helpful") if "helpful" in heads else None
    use_offset = config.compute_offset and helpful is not None and bool(export.sft.get("train"))
    # Encoded once: every saved model (each new best, the last) scores the same demonstrations.
    demos = _demonstration_sequences(export, tokenizer, config.max_length)

    def before_save(unwrapped: nn.Module) -> SaveExtras:
        """InstructGPT's offset for the weights being saved: demonstrations score 0.
        Only the helpfulness head: the demonstrations are helpful answers, and the safety
        head's 0.15 threshold (Llama 2) is defined on its uncorrected scale."""
        offsets = [0.0] * len(heads)
        if use_offset and helpful is not None:
            offsets[helpful] = demonstration_offset(unwrapped, export, tokenizer, acc,
                                                    config.max_length, config.batch_size,
                                                    head=helpful, seqs=demos)
        probe = demos[:8]
        undo = fold_offset(unwrapped, offsets, probe, session.pad_id) if probe else None
        set_reward_offset(unwrapped, [0.0] * len(heads) if undo else offsets)

        def restore() -> None:
            if undo is not None:
                undo()
            set_reward_offset(unwrapped, [0.0] * len(heads))  # training reads raw scores

        return SaveExtras(
            manifest={"reward_heads": heads, "reward_offset": offsets,
                      "reward_offset_folded": undo is not None},
            metrics={"reward_offset": offsets[helpful]} if use_offset and helpful is not None
            else {},
            restore=restore)

    fitted = fit(session, "rm", model, train_items, val_items,
                 partial(collate_groups, pad_id=session.pad_id),
                 partial(_step, center=config.center_rewards_coefficient),
                 partial(evaluate, accelerator=acc, heads=heads),
                 kind="reward_model", best_metric="val_accuracy", callback=callback,
                 should_stop=should_stop, lora_task_type="SEQ_CLS",
                 lora_modules_to_save=["score"], before_save=before_save,
                 counts={**train_items.counts("train"), **val_items.counts("val")})
    return fitted.metrics
