"""The app's view of the trainer's stages, all read from trainer/stages.py.

The trainer keeps the one table of stages (name → config dataclass, loop module,
required inputs); the training page, the request schema and the runner read it
through this module, so a new stage appears here without an edit.

Importing this module imports no torch: trainer.stages and the config
dataclasses are torch-free. :func:`load` resolves a stage's loop (which imports
torch) and is only called inside a job's child process.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from app.errors import InvalidInput
from trainer.stages import STAGES


def _known_stage(name: str) -> str:
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; use one of: {', '.join(map(repr, STAGES))}")
    return name


# A stage name as the API takes it; the schema lists the trainer's stages.
Stage = Annotated[
    str,
    AfterValidator(_known_stage),
    WithJsonSchema({"type": "string", "enum": list(STAGES)}),
]

# What the training page offers, in the trainer's order.
LABELS: dict[str, str] = {name: f"{name}: {stage.summary}" for name, stage in STAGES.items()}
NEEDS_REWARD_MODEL = frozenset(
    name for name, stage in STAGES.items() if "reward_model" in stage.required
)

# Config fields the runner fills from the registry and the export; not hyper-parameters.
MANAGED_FIELDS = frozenset(
    {"data", "model", "out", "reward_model", "ref_model", "value_model", "safety_reward_model",
     "resume"}
)

Progress = Callable[[Any], None]


@dataclasses.dataclass(frozen=True)
class LoadedStage:
    stage: str
    config_cls: type[Any]
    _train: Callable[..., Mapping[str, Any]]
    cancelled: type[Exception]  # what train() raises when should_stop() said stop

    def train(self, config: Any, on_progress: Progress, should_stop: Callable[[], bool]) -> dict[str, Any]:
        return dict(self._train(config, callback=on_progress, should_stop=should_stop))


def load(stage: str) -> LoadedStage:
    """The stage's config class and loop (resolving the loop imports torch)."""
    spec = STAGES[stage]
    # The runtime module is imported by name here because it imports torch, which the
    # web process (that imports this module) must never load.
    runtime = import_module("trainer.runtime")
    return LoadedStage(stage, spec.config, spec.train, runtime.TrainingCancelled)


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


def cli_command(stage: str, config_path: Path) -> list[str]:
    """The command an engineer can run by hand to repeat the run."""
    return ["rankwise", "train", stage, "--config", str(config_path)]


def accelerate_command(stage: str, config_path: Path, num_processes: int,
                       config_file: str | None) -> list[str]:
    """``accelerate launch`` of the trainer's CLI (DDP, FSDP or DeepSpeed per the config)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    if config_file:
        cmd += ["--config_file", config_file]
    return [*cmd, "-m", "trainer", stage, "--config", str(config_path)]
