"""One dataclass per training stage; every field carries its help text.

The CLI builds these from defaults < ``--config FILE`` < flags < ``--set key=value``
(see ``trainer/cli.py``); the Python API takes them directly::

    from trainer import RewardConfig, train_reward
    metrics = train_reward(RewardConfig(data="export/", model="sft/", out="rm/"))

``CommonConfig`` holds what every loop shares; PPO and best-of-K configs
(trainer/ppo.py, trainer/best_of_k.py) build on it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CommonConfig", "DPOConfig", "RewardConfig", "SFTConfig"]

MIXED_PRECISION = ("no", "bf16", "fp16")
MARGIN_SCALE_CHOICES = ("export", "small", "large", "none", "custom")


@dataclass
class CommonConfig:
    data: str = field(
        default="",
        metadata={"help": "Export folder (or .zip/.tar) written by the app; see data-contract.md."},
    )
    model: str = field(
        default="",
        metadata={
            "help": "Starting model: a Hugging Face folder or hub id (a Rankwise output "
            "folder works too)."
        },
    )
    out: str = field(
        default="",
        metadata={
            "help": "Output folder: final model, rankwise.json, metrics.jsonl, checkpoints/."
        },
    )
    epochs: int = field(
        default=1,
        metadata={"help": "Passes over the training data."},
    )
    learning_rate: float = field(
        default=1e-5,
        metadata={"help": "Peak learning rate of AdamW."},
    )
    batch_size: int = field(
        default=8,
        metadata={
            "help": "Examples per device per micro-batch (for the listwise reward model: rankings)."
        },
    )
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={"help": "Micro-batches per optimizer update."},
    )
    max_length: int = field(
        default=512,
        metadata={"help": "Longest tokenized sequence; prompts lose tokens from the left first."},
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed for initialisation and data order."},
    )
    mixed_precision: str = field(
        default="no",
        metadata={"help": "'no', 'bf16' or 'fp16' (accelerate autocast)."},
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in the backward pass to save memory."},
    )
    lora: bool = field(
        default=False,
        metadata={"help": "Train a LoRA adapter (peft) instead of every weight; merged on save."},
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
        metadata={
            "help": "Write a resumable checkpoint every N updates (0 = only when cancelled)."
        },
    )
    resume: bool = field(
        default=False,
        metadata={"help": "Continue from the latest checkpoint in `out`, if there is one."},
    )

    def __post_init__(self) -> None:
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}")
        for name in ("epochs", "batch_size", "gradient_accumulation_steps", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass
class SFTConfig(CommonConfig):
    """Supervised fine-tuning on demonstrations (InstructGPT §3.5)."""

    epochs: int = field(
        default=2,
        metadata={
            "help": "Passes over the demonstrations (InstructGPT: 16, choosing the "
            "checkpoint by validation RM score)."
        },
    )
    learning_rate: float = field(
        default=2e-5,
        metadata={"help": "Peak learning rate of AdamW."},
    )


@dataclass
class RewardConfig(CommonConfig):
    """Reward model training: listwise rankings (InstructGPT) and margin pairs (Llama 2)."""

    epochs: int = field(
        default=1,
        metadata={"help": "Passes over the comparisons (InstructGPT: 1; more over-fits)."},
    )
    learning_rate: float = field(
        default=9e-6,
        metadata={"help": "Peak learning rate (InstructGPT: 9e-6)."},
    )
    batch_size: int = field(
        default=8,
        metadata={
            "help": "Rankings or pairs per device per micro-batch (InstructGPT: 64 prompts)."
        },
    )
    listwise: bool = field(
        default=True,
        metadata={
            "help": "One batch element per ranking with all its C(K,2) pairs "
            "(InstructGPT). False: every pair its own example (TRL's way; kept "
            "for the benchmark)."
        },
    )
    margin_scale: str = field(
        default="export",
        metadata={
            "help": "Llama 2 margin m(r): 'export' (the record's own), 'small', "
            "'large', 'none', or 'custom' with margin_mapping."
        },
    )
    margin_mapping: dict[str, float] | None = field(
        default=None,
        metadata={"help": "margin_label -> margin for margin_scale='custom'."},
    )
    objective: str = field(
        default="helpful",
        metadata={
            "help": "'helpful' (one head), 'safety' (one head, safety-ordered pairs) "
            "or 'both' (two heads on one trunk, Llama 2's two objectives)."
        },
    )
    center_rewards_coefficient: float = field(
        default=0.0,
        metadata={
            "help": "Weight of mean((r_c + r_r)^2) keeping scores centred (arXiv:2312.09244; 0 = off, "
            "paper suggests 0.01)."
        },
    )
    compute_offset: bool = field(
        default=True,
        metadata={
            "help": "After training, store the bias that makes the training "
            "demonstrations score 0 on average (InstructGPT)."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.margin_scale not in MARGIN_SCALE_CHOICES:
            raise ValueError(f"margin_scale must be one of {MARGIN_SCALE_CHOICES}")
        if self.margin_scale == "custom" and not self.margin_mapping:
            raise ValueError("margin_scale='custom' needs margin_mapping")
        if self.objective not in ("helpful", "safety", "both"):
            raise ValueError("objective must be 'helpful', 'safety' or 'both'")


@dataclass
class DPOConfig(CommonConfig):
    """Direct Preference Optimization (Rafailov et al. 2023)."""

    learning_rate: float = field(
        default=1e-6,
        metadata={"help": "Peak learning rate (DPO paper: 1e-6)."},
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
