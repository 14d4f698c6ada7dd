"""The one list of training stages: name → config dataclass + lazily imported loop.

The CLI (trainer/cli.py), the package's lazy names (trainer/__init__.py) and
the app's training runner all read this table; adding a stage is one entry
here plus its ``*_config.py`` and its loop module. Importing this module does
not import torch (config modules are torch-free; ``Stage.train`` imports the
loop only when called)::

    from trainer.stages import STAGES, get_stage
    stage = get_stage("rm")
    config = stage.config(data="export/", model="sft/", out="rm/")
    metrics = stage.train(config, callback=print)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Protocol

from trainer.best_of_k_config import BestOfKConfig
from trainer.config import CommonConfig
from trainer.dpo_config import DPOConfig
from trainer.ppo_config import PPOConfig
from trainer.reward_config import RewardConfig
from trainer.sft_config import SFTConfig

__all__ = ["STAGES", "Stage", "TrainFunction", "get_stage"]


class TrainFunction(Protocol):
    """``train(config, *, callback=None, should_stop=None) -> metrics`` of every loop."""

    def __call__(self, config: Any, *, callback: Callable[[Any], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> dict[str, float]: ...


@dataclass(frozen=True)
class Stage:
    """One training stage.

    ``name`` is the CLI subcommand and the app's stage id; ``kind`` is what the
    output's ``rankwise.json`` records; ``api`` is the loop's name in the package
    (``from trainer import train_reward``); ``required`` are the config fields the
    command line must be given (the Python API can also pass a reward function
    instead of ``reward_model``).
    """

    name: str
    kind: str
    summary: str
    config: type[CommonConfig]
    module: str  # the loop; its ``train`` function is the entry point
    api: str
    required: tuple[str, ...] = ("data", "model", "out")

    @property
    def train(self) -> TrainFunction:
        fn: TrainFunction = import_module(self.module).train
        return fn


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("sft", "sft", "supervised fine-tuning on demonstrations", SFTConfig,
              "trainer.sft", "train_sft"),
        Stage("rm", "reward_model", "reward model from rankings and pairs", RewardConfig,
              "trainer.reward", "train_reward"),
        Stage("dpo", "dpo", "direct preference optimisation on pairs", DPOConfig,
              "trainer.dpo", "train_dpo"),
        Stage("ppo", "ppo", "RLHF with PPO against a reward model", PPOConfig, "trainer.ppo",
              "train_ppo", required=("data", "model", "out", "reward_model")),
        Stage("best-of-k", "best_of_k", "rejection-sampling fine-tuning (best-of-K, ReST)",
              BestOfKConfig, "trainer.best_of_k", "train_best_of_k",
              required=("data", "model", "out", "reward_model")),
    )
}


def get_stage(name: str) -> Stage:
    """The stage called ``name``; ``KeyError`` listing the known ones otherwise."""
    try:
        return STAGES[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known: {', '.join(STAGES)}") from None
