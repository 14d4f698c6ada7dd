"""What every stage's config shares; each stage's own config sits beside its loop.

    trainer/sft_config.py        SFTConfig        (loop: trainer/sft.py)
    trainer/reward_config.py     RewardConfig     (trainer/reward.py)
    trainer/dpo_config.py        DPOConfig        (trainer/dpo.py)
    trainer/ppo_config.py        PPOConfig        (trainer/ppo.py)
    trainer/best_of_k_config.py  BestOfKConfig    (trainer/best_of_k.py)

Config modules import neither torch nor transformers, so the stage registry
(trainer/stages.py), the CLI's ``--help`` and the web app can read them cheaply.
Every field carries its help text in ``metadata={"help": ...}``: the CLI is
built from these dataclasses (``transformers.HfArgumentParser``), so a flag and
its help cannot drift from the field. ``metadata["aliases"]`` adds short flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

__all__ = [
    "MODEL_FIELDS",
    "CommonConfig",
    "ConfigError",
    "EvaluationOptions",
    "MixedPrecision",
    "RewardModelOptions",
    "TrainConfig",
    "as_choice",
    "check_at_least",
]


class ConfigError(ValueError):
    """A config value that cannot be used; ``field`` names it (the CLI flag is
    ``--field``), so the message can point at what to change."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


class MixedPrecision(StrEnum):
    no = "no"
    bf16 = "bf16"
    fp16 = "fp16"


# Fields that name a model folder (checked before a run starts; see trainer/setup.py).
MODEL_FIELDS = ("model", "reward_model", "safety_reward_model", "ref_model", "value_model")


E = TypeVar("E", bound=StrEnum)


def as_choice(name: str, value: object, choices: type[E]) -> E:
    """``value`` as a member of ``choices`` (configs read from JSON hold plain strings);
    ``ConfigError`` naming the field and the allowed values otherwise."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return choices(value)
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise ConfigError(name, f"must be one of {allowed}, not {value!r}") from None


def check_at_least(config: object, names: tuple[str, ...], minimum: int = 1) -> None:
    for name in names:
        if getattr(config, name) < minimum:
            raise ConfigError(name, f"must be at least {minimum}")


@dataclass
class CommonConfig:
    data: str = field(
        default="",
        metadata={"help": "Export folder (or .zip/.tar) written by the app; see "
                          "docs/data-contract.md."},
    )
    model: str = field(
        default="",
        metadata={"help": "Starting model: a Hugging Face folder or hub id (a Rankwise output "
                          "folder works too)."},
    )
    out: str = field(
        default="",
        metadata={"help": "Output folder: final model, rankwise.json, metrics.jsonl, "
                          "checkpoints/, best/."},
    )
    epochs: int = field(
        default=1,
        metadata={"help": "Passes over the training data."},
    )
    learning_rate: float = field(
        default=1e-5,
        metadata={"help": "Peak learning rate of AdamW.", "aliases": ["--lr"]},
    )
    batch_size: int = field(
        default=8,
        metadata={"help": "Examples per device per micro-batch (for the listwise reward "
                          "model: rankings)."},
    )
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={"help": "Micro-batches per optimizer update.", "aliases": ["--grad-accum"]},
    )
    max_length: int = field(
        default=512,
        metadata={"help": "Longest tokenized sequence. A longer one loses its oldest prompt "
                          "tokens (the head and the answer header stay), then the end of its "
                          "answer; see docs/training.md, Truncation."},
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed for initialisation and data order."},
    )
    mixed_precision: MixedPrecision = field(
        default=MixedPrecision.no,
        metadata={"help": "'no', 'bf16' or 'fp16' (accelerate autocast)."},
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in the backward pass to save memory."},
    )
    lora: bool = field(
        default=False,
        metadata={"help": "Train a LoRA adapter (peft) instead of every weight; merged on "
                          "save."},
    )
    lora_r: int = field(
        default=16,
        metadata={"help": "LoRA rank."},
    )
    lora_alpha: int = field(
        default=32,
        metadata={"help": "LoRA scaling numerator (scale = alpha / r)."},
    )
    lora_dropout: float = field(
        default=0.05,
        metadata={"help": "Dropout on the LoRA branch."},
    )
    weight_decay: float = field(
        default=0.0,
        metadata={"help": "AdamW weight decay."},
    )
    warmup_ratio: float = field(
        default=0.0,
        metadata={"help": "Fraction of updates spent warming the learning rate up."},
    )
    lr_scheduler: str = field(
        default="cosine",
        metadata={"help": "transformers schedule name: cosine, linear, constant, ..."},
    )
    max_grad_norm: float = field(
        default=1.0,
        metadata={"help": "Clip the global gradient norm to this (0 = no clipping)."},
    )
    save_steps: int = field(
        default=0,
        metadata={"help": "Write a resumable checkpoint every N updates (0 = only when "
                          "cancelled)."},
    )
    resume: bool = field(
        default=False,
        metadata={"help": "Continue from the latest checkpoint in `out`, if there is one."},
    )

    def __post_init__(self) -> None:
        self.mixed_precision = as_choice("mixed_precision", self.mixed_precision,
                                         MixedPrecision)
        check_at_least(self, ("epochs", "batch_size", "gradient_accumulation_steps",
                              "max_length"))
        check_at_least(self, ("save_steps",), 0)


@dataclass
class EvaluationOptions:
    """Evaluation during training and the best checkpoint: the stages with a validation
    set (SFT, reward model, DPO: trainer/loop.py; PPO: held-out prompts). A base placed
    before ``CommonConfig``."""

    eval_steps: int = field(
        default=0,
        metadata={"help": "Evaluate on the validation split before the first update and every "
                          "N updates (0 = at the end of every epoch)."},
    )
    metric_for_best_model: str = field(
        default="",
        metadata={"help": "Validation metric that picks the best checkpoint (saved to "
                          "out/best/); empty = the stage's default (docs/training.md)."},
    )
    save_best: bool = field(
        default=True,
        metadata={"help": "Keep the best evaluated model in out/best/ besides the last one "
                          "in out/ (needs a validation split)."},
    )

    def __post_init__(self) -> None:
        check_at_least(self, ("eval_steps",), 0)
        super().__post_init__()  # type: ignore[misc]  # CommonConfig's, next in the MRO


@dataclass
class TrainConfig(EvaluationOptions, CommonConfig):
    """What SFT, reward-model and DPO configs share: CommonConfig plus evaluation."""


@dataclass
class RewardModelOptions:
    """Which reward model(s) score samples; a base of PPOConfig and BestOfKConfig."""

    reward_model: str = field(
        default="",
        metadata={"help": "Reward model folder (Rankwise reward-model output). With two heads "
                          "(objective 'both') head 0 is helpfulness, head 1 safety."},
    )
    safety_reward_model: str | None = field(
        default=None,
        metadata={"help": "Separate safety reward model; enables Llama 2's combination rule "
                          "R = R_safety if the prompt is a safety prompt or "
                          "σ(R_safety) < safety_threshold, else R_helpful."},
    )
    safety_threshold: float = field(
        default=0.15,
        metadata={"help": "Llama 2's threshold on the safety score, in probability (sigmoid) "
                          "space."},
    )
    safety_categories: list[str] = field(
        default_factory=lambda: ["safety"],
        metadata={"help": "Prompt categories that count as safety prompts (IS_SAFETY(p))."},
    )
