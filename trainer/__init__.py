"""Rankwise trainer: SFT, reward models, DPO, PPO and best-of-K on a Rankwise export.

Python API (``import trainer`` does not import torch: the loops load on first use)::

    from trainer import SFTConfig, train_sft
    metrics = train_sft(SFTConfig(data="export/", model="base/", out="sft/"))

Every ``train_*`` takes ``(config, *, callback=None, should_stop=None)`` and returns
the final metrics; ``callback`` receives ``ProgressEvent``s, ``should_stop`` is polled
after every optimizer update and ends the run with ``TrainingCancelled`` after
writing a checkpoint (``config.resume=True`` continues from it). The stages, their
configs and loops are listed once, in trainer/stages.py.

Errors: ``ContractError`` (a bad export; names file and line), ``ConfigError`` (a
config value that cannot be used; names the field), ``TrainingCancelled``.
Command line: ``python -m trainer --help`` (trainer/cli.py). Docs: docs/training.md,
docs/data-contract.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from trainer.best_of_k_config import BestOfKConfig
from trainer.config import CommonConfig, ConfigError
from trainer.contract import ContractError, load_export
from trainer.dpo_config import DPOConfig
from trainer.ppo_config import PPOConfig
from trainer.reward_config import RewardConfig
from trainer.sft_config import SFTConfig
from trainer.stages import STAGES, Stage, get_stage

__all__ = [
    "STAGES",
    "BestOfKConfig",
    "CommonConfig",
    "ConfigError",
    "ContractError",
    "DPOConfig",
    "PPOConfig",
    "ProgressCallback",
    "ProgressEvent",
    "RewardConfig",
    "SFTConfig",
    "Stage",
    "TrainingCancelled",
    "build_tiny_model",
    "get_stage",
    "load_export",
    "load_reward_model",
    "main",
    "score",
    "train_best_of_k",
    "train_dpo",
    "train_ppo",
    "train_reward",
    "train_sft",
]

# public name -> (module, attribute), imported on first access (they need torch);
# the train_* entry points come from the stage registry.
_LAZY: dict[str, tuple[str, str]] = {
    "ProgressCallback": ("trainer.runtime", "ProgressCallback"),
    "ProgressEvent": ("trainer.runtime", "ProgressEvent"),
    "TrainingCancelled": ("trainer.runtime", "TrainingCancelled"),
    "build_tiny_model": ("trainer.tiny", "build_tiny_model"),
    "load_reward_model": ("trainer.reward_model", "load_reward_model"),
    "main": ("trainer.cli", "main"),
    "score": ("trainer.reward_model", "score"),
    **{stage.api: (stage.module, "train") for stage in STAGES.values()},
}

if TYPE_CHECKING:
    from trainer.best_of_k import train as train_best_of_k
    from trainer.cli import main
    from trainer.dpo import train as train_dpo
    from trainer.ppo import train as train_ppo
    from trainer.reward import train as train_reward
    from trainer.reward_model import load_reward_model, score
    from trainer.runtime import ProgressCallback, ProgressEvent, TrainingCancelled
    from trainer.sft import train as train_sft
    from trainer.tiny import build_tiny_model


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'trainer' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
