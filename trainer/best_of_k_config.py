"""BestOfKConfig: rejection-sampling fine-tuning (loop: trainer/best_of_k.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trainer.config import (
    CommonConfig,
    ConfigError,
    RewardModelOptions,
    as_choice,
    check_at_least,
)

__all__ = ["BestOfKConfig", "Selection"]


class Selection(StrEnum):
    best = "best"  # the top-scored sample per prompt (Llama 2)
    threshold = "threshold"  # every sample scoring ≥ τ (ReST)


@dataclass
class BestOfKConfig(RewardModelOptions, CommonConfig):
    """Rejection sampling on the export's prompts; ``model`` is the policy to improve
    (SFT or an earlier RLHF round), ``epochs`` the SFT passes per round."""

    k: int = field(
        default=4,
        metadata={"help": "Completions sampled per prompt (Llama 2 used up to 10+)."},
    )
    rounds: int = field(
        default=1,
        metadata={"help": "Sample → select → fine-tune rounds (Llama 2: RLHF-V1..V5)."},
    )
    selection: Selection = field(
        default=Selection.best,
        metadata={"help": "'best': keep the top-scored sample per prompt (Llama 2); "
                          "'threshold': keep every sample scoring ≥ τ (ReST)."},
    )
    threshold: float = field(
        default=0.0,
        metadata={"help": "τ of round 1 for selection='threshold', in reward-model units."},
    )
    threshold_step: float = field(
        default=0.0,
        metadata={"help": "Added to τ every round (ReST's rising thresholds τ_1 < τ_2 < …)."},
    )
    pool_rounds: bool = field(
        default=False,
        metadata={"help": "Fine-tune on the kept samples of all rounds so far, not only this "
                          "one (Llama 2 from RLHF-V4 on)."},
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "Sampling temperature (Llama 2 found 1.2–1.3 best after RLHF)."},
    )
    top_p: float = field(
        default=1.0,
        metadata={"help": "Nucleus sampling mass (1 = off)."},
    )
    max_new_tokens: int = field(
        default=128,
        metadata={"help": "Longest sampled completion."},
    )
    max_length: int = field(
        default=512,
        metadata={"help": "Longest prompt in tokens (a longer one loses its oldest tokens, "
                          "keeping its head and the answer header); the reward model and the "
                          "fine-tuning read at most max_length + max_new_tokens."},
    )
    sample_batch_size: int = field(
        default=16,
        metadata={"help": "Sequences generated per forward batch (K × prompts are split into "
                          "batches of this many)."},
    )
    max_prompts: int = field(
        default=0,
        metadata={"help": "Use at most this many prompts per round (0 = all)."},
    )
    learning_rate: float = field(
        default=1e-5,
        metadata={"help": "Peak learning rate of the per-round fine-tuning.",
                  "aliases": ["--lr"]},
    )
    lr_scheduler: str = field(
        default="constant",
        metadata={"help": "transformers schedule over all rounds' updates."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.selection = as_choice("selection", self.selection, Selection)
        check_at_least(self, ("k", "rounds", "max_new_tokens", "sample_batch_size"))
        check_at_least(self, ("max_prompts",), 0)
        if self.temperature <= 0:
            raise ConfigError("temperature", "must be positive")
