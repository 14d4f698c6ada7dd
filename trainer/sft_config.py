"""SFTConfig: supervised fine-tuning on demonstrations (loop: trainer/sft.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.config import TrainConfig

__all__ = ["SFTConfig"]


@dataclass
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on demonstrations (InstructGPT §3.5)."""

    epochs: int = field(
        default=2,
        metadata={"help": "Passes over the demonstrations (InstructGPT: 16, choosing the "
                          "checkpoint by validation RM score)."},
    )
    learning_rate: float = field(
        default=2e-5,
        metadata={"help": "Peak learning rate of AdamW.", "aliases": ["--lr"]},
    )
