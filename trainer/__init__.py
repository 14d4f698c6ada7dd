"""Rankwise trainer: SFT, reward models, DPO, PPO and best-of-K on a Rankwise export.

Python API (names resolve lazily, so ``import trainer`` does not import torch)::

    from trainer import SFTConfig, train_sft
    metrics = train_sft(SFTConfig(data="export/", model="base/", out="sft/"))

Every ``train_*`` takes ``(config, *, callback=None, should_stop=None)`` and returns
the final metrics; ``callback`` receives ``ProgressEvent``s, ``should_stop`` is polled
after every optimizer update and ends the run with ``TrainingCancelled`` after
writing a checkpoint (``config.resume=True`` continues from it).

Errors: ``ContractError`` (a bad export; names file and line), ``TrainingCancelled``.
Command line: ``python -m trainer --help`` (trainer/cli.py).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "BestOfKConfig",
    "CommonConfig",
    "ContractError",
    "DPOConfig",
    "PPOConfig",
    "ProgressCallback",
    "ProgressEvent",
    "RewardConfig",
    "SFTConfig",
    "TrainingCancelled",
    "build_tiny_model",
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

# public name -> (module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "BestOfKConfig": ("trainer.best_of_k", "BestOfKConfig"),
    "CommonConfig": ("trainer.config", "CommonConfig"),
    "ContractError": ("trainer.data", "ContractError"),
    "DPOConfig": ("trainer.config", "DPOConfig"),
    "PPOConfig": ("trainer.ppo", "PPOConfig"),
    "ProgressCallback": ("trainer.runtime", "ProgressCallback"),
    "ProgressEvent": ("trainer.runtime", "ProgressEvent"),
    "RewardConfig": ("trainer.config", "RewardConfig"),
    "SFTConfig": ("trainer.config", "SFTConfig"),
    "TrainingCancelled": ("trainer.runtime", "TrainingCancelled"),
    "build_tiny_model": ("trainer.tiny", "build_tiny_model"),
    "load_export": ("trainer.data", "load_export"),
    "load_reward_model": ("trainer.reward_model", "load_reward_model"),
    "main": ("trainer.cli", "main"),
    "score": ("trainer.reward_model", "score"),
    "train_best_of_k": ("trainer.best_of_k", "train"),
    "train_dpo": ("trainer.dpo", "train"),
    "train_ppo": ("trainer.ppo", "train"),
    "train_reward": ("trainer.reward", "train"),
    "train_sft": ("trainer.sft", "train"),
}

if TYPE_CHECKING:
    from trainer.cli import main
    from trainer.config import CommonConfig, DPOConfig, RewardConfig, SFTConfig
    from trainer.data import ContractError, load_export
    from trainer.dpo import train as train_dpo
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
