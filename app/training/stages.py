"""Every name the app takes from the trainer's stages, in this one module.

The stage names, their config classes, the trainer modules that run them, and
how a run is launched (``rankwise train`` or ``accelerate launch``) are written
here and nowhere else in app/. The trainer is getting a single stage registry
(trainer/stages.py: name → config dataclass and run function); switching to it
is a change to this module alone.

Importing this module imports no trainer code: the web process validates stage
names with :class:`Stage` and never loads torch. :func:`load` imports the
trainer, and is only called inside a job's child process.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from app.errors import InvalidInput


class Stage(enum.StrEnum):
    sft = "sft"
    rm = "rm"
    ppo = "ppo"
    dpo = "dpo"
    best_of_k = "best-of-k"


# What the training page offers, in this order.
LABELS: dict[Stage, str] = {
    Stage.sft: "SFT (demonstrations)",
    Stage.rm: "Reward model (rankings, pairs)",
    Stage.ppo: "PPO (needs a reward model)",
    Stage.dpo: "DPO (pairs)",
    Stage.best_of_k: "Best-of-K (needs a reward model)",
}
NEEDS_REWARD_MODEL = frozenset({Stage.ppo, Stage.best_of_k})

# stage -> (trainer module with train(), module with the config class, config class name)
_TRAINER: dict[Stage, tuple[str, str, str]] = {
    Stage.sft: ("trainer.sft", "trainer.config", "SFTConfig"),
    Stage.rm: ("trainer.reward", "trainer.config", "RewardConfig"),
    Stage.dpo: ("trainer.dpo", "trainer.config", "DPOConfig"),
    Stage.ppo: ("trainer.ppo", "trainer.ppo", "PPOConfig"),
    Stage.best_of_k: ("trainer.best_of_k", "trainer.best_of_k", "BestOfKConfig"),
}
# Config fields the runner fills from the registry and the export; not hyper-parameters.
MANAGED_FIELDS = frozenset(
    {"data", "model", "out", "reward_model", "ref_model", "value_model", "safety_reward_model",
     "resume"}
)

Progress = Callable[[Any], None]


@dataclasses.dataclass(frozen=True)
class LoadedStage:
    stage: Stage
    config_cls: type[Any]
    _train: Callable[..., Mapping[str, Any]]
    cancelled: type[Exception]  # what train() raises when should_stop() said stop

    def train(self, config: Any, on_progress: Progress, should_stop: Callable[[], bool]) -> dict[str, Any]:
        return dict(self._train(config, callback=on_progress, should_stop=should_stop))


def load(stage: Stage) -> LoadedStage:
    """The stage's trainer module and config class (imports torch)."""
    module, config_module, config_name = _TRAINER[stage]
    runtime = import_module("trainer.runtime")
    return LoadedStage(stage, getattr(import_module(config_module), config_name),
                       import_module(module).train, runtime.TrainingCancelled)


def build_config(config_cls: type[Any], hyper: Mapping[str, Any], managed: Mapping[str, Any]) -> Any:
    """The stage's config dataclass from the job's hyper-parameters plus the paths the
    runner resolved; unknown or managed names are refused with the list of valid ones."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(hyper) - names)
    if unknown:
        valid = ", ".join(sorted(names - MANAGED_FIELDS))
        raise InvalidInput(f"Unknown hyper-parameters {unknown}; this stage takes: {valid}.")
    clash = sorted(set(hyper) & MANAGED_FIELDS)
    if clash:
        raise InvalidInput(f"{clash} are chosen from the registry and the export, not set by hand.")
    values = {k: v for k, v in managed.items() if k in names and v is not None}
    return config_cls(**values, **hyper)


def cli_command(stage: Stage, config_path: Path) -> list[str]:
    """The command an engineer can run by hand to repeat the run."""
    return ["rankwise", "train", stage.value, "--config", str(config_path)]


def accelerate_command(stage: Stage, config_path: Path, num_processes: int,
                       config_file: str | None) -> list[str]:
    """``accelerate launch`` of the trainer's CLI (DDP, FSDP or DeepSpeed per the config)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    if config_file:
        cmd += ["--config_file", config_file]
    return [*cmd, "-m", "trainer", stage.value, "--config", str(config_path)]
