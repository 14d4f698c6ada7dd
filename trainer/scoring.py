"""Scoring samples with reward models — shared by PPO and best-of-K.

:class:`Samples` is what a reward function sees (prompt records, sampled token
ids, decoded texts); :class:`RewardFunction` is the interface (one scalar per
sample); :class:`RewardModelScorer` implements it with the frozen reward
model(s) of trainer/reward_model.py, including Llama 2's helpful/safety
combination (arXiv:2307.09288 §3.2.3). The config fields both stages share are
``RewardModelOptions`` (trainer/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from trainer.chat import encode_prompt_completion, pad_token_id
from trainer.collate import right_pad
from trainer.config import RewardModelOptions
from trainer.contract import PromptRecord
from trainer.generation import Generation
from trainer.reward_model import (
    RunningMoments,
    combine_rewards,
    load_reward_model,
    reward_heads,
    score,
)

__all__ = [
    "RewardFunction",
    "RewardModelScorer",
    "Samples",
    "freeze",
    "score_conversations",
    "scorer_from_options",
]


def freeze(model: nn.Module) -> nn.Module:
    """eval mode (no dropout) and no gradients: the reference and reward models."""
    model.eval()
    model.requires_grad_(False)
    return model


@dataclass(frozen=True)
class Samples:
    """What a reward function sees: the prompts, the sampled tokens and their texts."""

    prompts: list[PromptRecord]
    generation: Generation
    texts: list[str]


class RewardFunction(Protocol):
    """r(x, y): one scalar per sample, [B]. :class:`RewardModelScorer` implements it
    with reward models; tests pass rule-based ones."""

    def __call__(self, samples: Samples) -> Tensor: ...


class RewardModelScorer:
    """r_φ(x, y) from frozen reward model(s) (trainer/reward_model.py).

    Each response is decoded and re-encoded with the reward model's own tokenizer
    and chat template — exactly the prompt ⊕ completion layout the RM was trained
    on (trainer/chat.py), whatever tokenizer the policy has.

    With a safety model (``safety_path``, or a second "safety" head on the same
    trunk) the two scores are combined by Llama 2's rule (§3.2.3): the safety
    score on safety prompts or where σ(R_s) < ``safety_threshold``, else the
    helpfulness score, then whitened with running statistics.
    """

    def __init__(
        self,
        path: str,
        *,
        safety_path: str | None = None,
        safety_threshold: float = 0.15,
        safety_categories: set[str] | None = None,
        max_length: int = 512,
        device: torch.device | str = "cpu",
        batch_size: int = 16,
    ) -> None:
        self.device, self.max_length, self.batch_size = torch.device(device), max_length, batch_size
        self.threshold = safety_threshold
        self.safety_categories = safety_categories or {"safety"}
        self.model = freeze(load_reward_model(path)).to(self.device)
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(path)
        heads = reward_heads(self.model)
        self.helpful_head = heads.index("helpful") if "helpful" in heads else 0
        self.safety: tuple[nn.Module, PreTrainedTokenizerBase, int] | None = None
        if safety_path:
            safety_model = freeze(load_reward_model(safety_path)).to(self.device)
            s_heads = reward_heads(safety_model)
            self.safety = (safety_model, AutoTokenizer.from_pretrained(safety_path),
                           s_heads.index("safety") if "safety" in s_heads else 0)
        elif "safety" in heads and len(heads) > 1:
            self.safety = (self.model, self.tokenizer, heads.index("safety"))
        self.moments = RunningMoments()
        # Sequences scored, and how many of them had to be cut to max_length.
        self.scored = 0
        self.truncated = 0

    @torch.no_grad()
    def _scores(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, head: int,
                samples: Samples) -> Tensor:
        pad = pad_token_id(tokenizer)
        encoded = [
            encode_prompt_completion(tokenizer, rec.prompt,
                                     [{"role": "assistant", "content": text}], self.max_length)
            for rec, text in zip(samples.prompts, samples.texts, strict=True)
        ]
        self.scored += len(encoded)
        self.truncated += sum(e.truncated or e.completion_truncated for e in encoded)
        rows = [e.input_ids for e in encoded]
        out = []
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            ids = right_pad(chunk, pad).to(self.device)
            mask = right_pad([[1] * len(r) for r in chunk], 0).to(self.device)
            out.append(score(model, ids, mask)[:, head])
        return torch.cat(out).float().cpu()

    def __call__(self, samples: Samples) -> Tensor:
        helpful = self._scores(self.model, self.tokenizer, self.helpful_head, samples)
        if self.safety is None:
            return helpful
        safety = self._scores(*self.safety, samples)
        is_safety = torch.tensor([rec.category in self.safety_categories
                                  for rec in samples.prompts])
        return combine_rewards(helpful, safety, is_safety, self.threshold, self.moments)


def scorer_from_options(
    options: RewardModelOptions, max_length: int, device: torch.device | str
) -> RewardModelScorer:
    return RewardModelScorer(
        options.reward_model, safety_path=options.safety_reward_model,
        safety_threshold=options.safety_threshold,
        safety_categories=set(options.safety_categories),
        max_length=max_length, device=device,
    )


@torch.no_grad()
def score_conversations(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[dict[str, str]]],
    completions: list[str],
    *,
    max_length: int = 512,
    batch_size: int = 16,
    head: int = 0,
) -> list[float]:
    """r(x, y) of each (prompt, completion text) with a frozen reward model, laid out as
    it was trained (prompt ⊕ completion through the RM's own template), in order."""
    pad = pad_token_id(tokenizer)
    rows = [
        encode_prompt_completion(tokenizer, prompt, [{"role": "assistant", "content": text}], max_length).input_ids
        for prompt, text in zip(prompts, completions, strict=True)
    ]
    device = next(model.parameters()).device
    out: list[float] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        ids = right_pad(chunk, pad).to(device)
        mask = right_pad([[1] * len(r) for r in chunk], 0).to(device)
        out.extend(float(v) for v in score(model, ids, mask)[:, head])
    return out
