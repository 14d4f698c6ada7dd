"""The arithmetic of RLHF policy optimisation, as small pure functions.

Every function takes and returns tensors, touches no model and no global state,
and is unit-tested on hand-worked numbers (tests/trainer/test_rl_math.py). Shapes:

    B   sequences in the batch
    T   response tokens (right-padded; ``mask`` is 1 on real tokens, 0 on padding,
        and is a *prefix* mask: once 0 it stays 0)

Sources: PPO (Schulman et al. 2017, arXiv:1707.06347); GAE (Schulman et al.
2016, arXiv:1506.02438); the per-token KL reward and adaptive KL controller
(Ziegler et al. 2019, arXiv:1909.08593 §2.2); InstructGPT (Ouyang et al. 2022,
arXiv:2203.02155 §3.5); the implementation details follow "The N+ Implementation
Details of RLHF with PPO" (Huang et al. 2024, arXiv:2403.17031).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "AdaptiveKLController",
    "FixedKLController",
    "KLController",
    "PolicyLossOutput",
    "ValueLossOutput",
    "entropy_from_logits",
    "gae",
    "kl_penalized_rewards",
    "logprobs_from_logits",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "policy_loss",
    "value_loss",
]


# ---------------------------------------------------------------- masked statistics


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is 1 (all of them if ``dim`` is None)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of ``x`` over the masked positions (Bessel-corrected by default)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum().to(x.dtype)
        if n > 1:
            var = var * n / (n - 1)
    return var


def masked_whiten(x: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """(x − mean) / std over the masked positions; padding comes back as 0.

    PPO whitens advantages per batch so the step size does not depend on the
    reward's scale (Huang et al. 2024, detail 8). ``shift_mean=False`` only
    rescales — used for rewards, whose sign carries meaning.
    """
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask.to(x.dtype)


# ---------------------------------------------------------------- token statistics


def logprobs_from_logits(logits: Tensor, tokens: Tensor) -> Tensor:
    """log p(token) per position. logits [B, T, V], tokens [B, T] -> [B, T].

    ``log_softmax`` then ``gather`` is numerically the same as the cross-entropy
    of each token, without materialising a [B, T, V] one-hot.
    """
    logp = F.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of the next-token distribution per position. [B, T, V] -> [B, T].

    H = logsumexp(z) − Σ softmax(z)·z, which avoids log(0) for tokens of zero mass.
    """
    logits = logits.float()
    probs = F.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(-1)


# ---------------------------------------------------------------- reward shaping


def kl_penalized_rewards(
    scores: Tensor,
    logprobs: Tensor,
    ref_logprobs: Tensor,
    mask: Tensor,
    beta: float,
    score_clip: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-token rewards of InstructGPT / Ziegler et al.: the KL penalty at every
    generated token and the reward model's score on the last one.

        r_t = −β · (log π(y_t) − log π_ref(y_t))             for every real token t
        r_T += r_θ(x, y)                                     at the last real token T

    scores [B], logprobs/ref_logprobs/mask [B, T] -> (rewards [B, T], kl [B, T]).
    The sum over t of the KL term is the single-sample estimate of
    KL(π ‖ π_ref) for the sequence, so the return of the first token is the
    objective's ``r − β·KL``. Padding gets neither. ``score_clip`` clips the
    score to ±clip first (DeepSpeed-Chat uses 5).
    """
    mask = mask.to(logprobs.dtype)
    kl = (logprobs - ref_logprobs) * mask
    rewards = -beta * kl
    if score_clip is not None:
        scores = scores.clamp(-score_clip, score_clip)
    # Index of the last real token of each row; a row with no real token (empty
    # response) has nothing to reward, so its score is dropped.
    lengths = mask.sum(-1).long()
    last = (lengths - 1).clamp(min=0)
    has_tokens = (lengths > 0).to(rewards.dtype)
    rewards = rewards.clone()
    rewards[torch.arange(rewards.shape[0]), last] += scores.to(rewards.dtype) * has_tokens
    return rewards, kl


# ---------------------------------------------------------------- advantages


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16).

        δ_t = r_t + γ·V_{t+1} − V_t            (V_{T+1} = 0: the episode ends)
        A_t = δ_t + γλ·A_{t+1}
        returns_t = A_t + V_t                  (the value head's regression target)

    rewards, values, mask [B, T] -> (advantages [B, T], returns [B, T]).
    Values on padding are zeroed first, so the bootstrap value after the last
    real token is 0 and padded positions get advantage 0.
    """
    mask = mask.to(values.dtype)
    values = values * mask
    rewards = rewards * mask
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(values[:, t])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = delta + gamma * lam * next_advantage
        advantages[:, t] = next_advantage
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


# ---------------------------------------------------------------- PPO losses


@dataclass(frozen=True)
class PolicyLossOutput:
    loss: Tensor        # scalar, to minimise
    clip_fraction: Tensor  # share of tokens where the clipped branch was taken
    approx_kl: Tensor   # E[(ratio − 1) − log ratio]: KL(old ‖ new), low-variance (Schulman 2020)


def policy_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, clip_eps: float = 0.2
) -> PolicyLossOutput:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), as a loss to minimise.

        ρ_t = π_θ(y_t) / π_old(y_t)
        L = −E_t[ min(ρ_t·A_t, clip(ρ_t, 1−ε, 1+ε)·A_t) ]

    All [B, T]. The min takes the pessimistic branch: once ρ leaves [1−ε, 1+ε]
    in the direction the advantage rewards, the gradient is 0, so one batch
    cannot push the policy far from the one that sampled it.
    """
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped > unclipped).to(logprobs.dtype), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
    return PolicyLossOutput(loss, clip_fraction, approx_kl)


@dataclass(frozen=True)
class ValueLossOutput:
    loss: Tensor
    clip_fraction: Tensor


def value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip_eps: float = 0.2
) -> ValueLossOutput:
    """Clipped value loss (the PPO reference implementation, OpenAI baselines ppo2).

        V_clip = V_old + clip(V − V_old, −ε, ε)
        L = ½ · E_t[ max((V − R)², (V_clip − R)²) ]

    All [B, T]. Like the policy's clip, it keeps one batch from moving the
    value head far from the one that produced the advantages.
    """
    clipped_values = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((loss_clipped > loss_unclipped).to(values.dtype), mask)
    return ValueLossOutput(loss, clip_fraction)


# ---------------------------------------------------------------- KL coefficient


class KLController:
    """Holds β, the weight of the KL penalty."""

    def __init__(self, beta: float) -> None:
        self.value = beta

    def update(self, current_kl: float, n_steps: int) -> float:
        return self.value

    # accelerate's register_for_checkpointing saves β with the run's checkpoints.
    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


class FixedKLController(KLController):
    """β stays where it was set (InstructGPT β = 0.02, Llama 2 β = 0.01)."""


class AdaptiveKLController(KLController):
    """Ziegler et al. 2019 §2.2: steer the KL to a target with a proportional controller.

        e_t     = clip(KL_t / KL_target − 1, −0.2, 0.2)
        β_{t+1} = β_t · (1 + K_β · e_t)

    with K_β = n_steps / horizon as in their released code (lm-human-preferences):
    ``horizon`` is how many episodes it takes β to move by a factor of e at the
    maximum error. KL above target raises β (stronger pull to the reference);
    below target lowers it.
    """

    def __init__(self, beta: float, target: float, horizon: float = 10_000) -> None:
        if target <= 0:
            raise ValueError("the target KL must be positive")
        super().__init__(beta)
        self.target, self.horizon = target, horizon

    def update(self, current_kl: float, n_steps: int) -> float:
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
        return self.value
