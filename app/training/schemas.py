"""Request bodies of training runs (``POST /api/v1/jobs`` with ``kind: "train"``)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from app.exports.runner import ExportParams
from app.inputs import DbInt, RequestModel
from app.jobs.schemas import PublicId
from app.models import JobKind
from app.training.stages import Stage

# A hyper-parameter value as JSON carries it; the stage's config dataclass checks its
# name and type when the run starts. Numbers are bounded like every other input; lists
# (safety_categories) and mappings (margin_mapping) are short.
HyperNumber = Annotated[float, Field(ge=-1e15, le=1e15)]
HyperText = Annotated[str, Field(max_length=200)]
HyperValue = (
    bool
    | DbInt
    | HyperNumber
    | HyperText
    | Annotated[list[HyperText], Field(max_length=64)]
    | Annotated[dict[Annotated[str, Field(max_length=64)], HyperNumber], Field(max_length=64)]
    | None
)


class AccelerateIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    num_processes: int = Field(1, ge=1, le=256, description="processes (GPUs) to launch")
    config_file: str | None = Field(default=None, max_length=1024,
                                    description="accelerate config (DDP/FSDP/DeepSpeed)")


class ExportNow(ExportParams):
    """Export a project now and train on the result (the run waits for the export job)."""


class _TrainSettings(RequestModel):
    """What a run is, apart from where its data comes from."""

    model_config = ConfigDict(extra="forbid")
    stage: Stage
    model_id: PublicId = Field(description="the base (or SFT) model to start from")
    reward_model_id: PublicId | None = Field(default=None, description="PPO, best-of-K")
    ref_model_id: PublicId | None = Field(default=None, description="DPO reference (default: model)")
    value_model_id: PublicId | None = Field(default=None,
                                            description="PPO value init (default: reward model)")
    name: str | None = Field(default=None, min_length=1, max_length=100,
                             pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
    hyperparameters: dict[Annotated[str, Field(max_length=64)], HyperValue] = Field(
        default_factory=dict, max_length=64
    )
    resume: bool = False
    accelerate: AccelerateIn | None = None

    @field_validator("hyperparameters")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, v in value.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{key} must be a finite number")
        return value


class TrainParams(_TrainSettings):
    """The request: a finished export, or a project to export now."""

    export_id: PublicId | None = Field(default=None, description="a finished export")
    export_now: ExportNow | None = Field(default=None, description="instead of export_id")

    @model_validator(mode="after")
    def _one_export(self) -> TrainParams:
        if (self.export_id is None) == (self.export_now is None):
            raise ValueError("give export_id (a finished export) or export_now "
                             "(export a project now), not both")
        return self


class TrainRun(_TrainSettings):
    """The run as queued (the job's params): the export is always named; ``after_job``
    is the export job it waits for, when the request asked for "export now";
    ``resume_from`` is the cancelled or failed run whose last checkpoint this one
    continues from (POST /api/v1/training/runs/{id}/resume)."""

    export_id: PublicId
    after_job: PublicId | None = None
    resume_from: PublicId | None = None


class TrainJobIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal[JobKind.train]
    params: TrainParams
