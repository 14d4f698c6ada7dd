"""DPOConfig: Direct Preference Optimization (loop: trainer/dpo.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.config import ConfigError, TrainConfig, check_at_least

__all__ = ["DPOConfig"]


@dataclass
class DPOConfig(TrainConfig):
    """Direct Preference Optimization (Rafailov et al. 2023)."""

    learning_rate: float = field(
        default=1e-6,
        metadata={"help": "Peak learning rate (DPO paper: 1e-6).", "aliases": ["--lr"]},
    )
    beta: float = field(
        default=0.1,
        metadata={"help": "β: strength of the implicit KL constraint to the reference."},
    )
    ref_model: str | None = field(
        default=None,
        metadata={"help": "Frozen reference policy; default: a copy of `model` as it starts."},
    )
    expand_rankings: bool = field(
        default=True,
        metadata={"help": "Also train on every untied pair of every ranking."},
    )
    kl_samples: int = field(
        default=32,
        metadata={"help": "Validation prompts sampled at each evaluation to measure val_kl, "
                          "KL(π‖π_ref) in nats per response (0 = do not measure)."},
    )
    kl_max_new_tokens: int = field(
        default=64,
        metadata={"help": "Longest sampled response when measuring val_kl."},
    )
    target_kl: float | None = field(
        default=None,
        metadata={"help": "KL budget in nats per response (val_kl, measured on samples for "
                          "the validation prompts): the best checkpoint is chosen among the "
                          "evaluations within it, and training stops at the first evaluation "
                          "beyond it (None = no budget)."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta <= 0:
            raise ConfigError("beta", "must be positive")
        if self.target_kl is not None and self.target_kl <= 0:
            raise ConfigError("target_kl", "must be positive (or unset)")
        if self.target_kl is not None and self.kl_samples < 1:
            raise ConfigError("kl_samples", "target_kl needs kl_samples ≥ 1 to measure the KL")
        check_at_least(self, ("kl_samples",), 0)
        check_at_least(self, ("kl_max_new_tokens",))
