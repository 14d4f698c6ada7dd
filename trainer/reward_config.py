"""RewardConfig: reward-model training (loop: trainer/reward.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trainer.config import ConfigError, TrainConfig, as_choice

__all__ = ["MarginScaleChoice", "RewardConfig", "RewardObjective"]


class MarginScaleChoice(StrEnum):
    """Where m(r) of the margin loss comes from."""

    export = "export"  # the record's own `margin`
    small = "small"  # Llama 2 Table 27
    large = "large"
    none = "none"  # 0 everywhere
    custom = "custom"  # margin_mapping


class RewardObjective(StrEnum):
    helpful = "helpful"
    safety = "safety"
    both = "both"


@dataclass
class RewardConfig(TrainConfig):
    """Reward model training: listwise rankings (InstructGPT) and margin pairs (Llama 2)."""

    epochs: int = field(
        default=1,
        metadata={"help": "Passes over the comparisons (InstructGPT: 1; more over-fits)."},
    )
    learning_rate: float = field(
        default=9e-6,
        metadata={"help": "Peak learning rate (InstructGPT: 9e-6).", "aliases": ["--lr"]},
    )
    batch_size: int = field(
        default=8,
        metadata={"help": "Rankings or pairs per device per micro-batch (InstructGPT: 64 "
                          "prompts)."},
    )
    listwise: bool = field(
        default=True,
        metadata={"help": "One batch element per ranking with all its C(K,2) pairs "
                          "(InstructGPT). False: every pair its own example (TRL's way; kept "
                          "for the benchmark)."},
    )
    margin_scale: MarginScaleChoice = field(
        default=MarginScaleChoice.export,
        metadata={"help": "Llama 2 margin m(r): 'export' (the record's own), 'small', "
                          "'large', 'none', or 'custom' with margin_mapping."},
    )
    margin_mapping: dict[str, float] | None = field(
        default=None,
        metadata={"help": "margin_label -> margin for margin_scale='custom' (JSON or YAML, "
                          "e.g. '{better: 1, slightly_better: 0.5}')."},
    )
    objective: RewardObjective = field(
        default=RewardObjective.helpful,
        metadata={"help": "'helpful' (one head), 'safety' (one head, safety-ordered pairs) "
                          "or 'both' (two heads on one trunk, Llama 2's two objectives)."},
    )
    center_rewards_coefficient: float = field(
        default=0.0,
        metadata={"help": "Weight of mean((r_c + r_r)^2) keeping scores centred "
                          "(arXiv:2312.09244; 0 = off, paper suggests 0.01)."},
    )
    compute_offset: bool = field(
        default=True,
        metadata={"help": "After training, shift the score so the training demonstrations "
                          "score 0 on average (InstructGPT); folded into the score head's bias "
                          "when it has one."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.margin_scale = as_choice("margin_scale", self.margin_scale, MarginScaleChoice)
        self.objective = as_choice("objective", self.objective, RewardObjective)
        if self.margin_scale is MarginScaleChoice.custom and not self.margin_mapping:
            raise ConfigError("margin_mapping", "margin_scale='custom' needs margin_mapping")
