"""Request and response bodies of the jobs API; one params model per job kind."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from app.inputs import RequestModel
from app.models import Job, JobStatus

PublicId = Annotated[str, Field(min_length=16, max_length=16)]
HyperValue = float | int | bool | Annotated[str, Field(max_length=200)] | None


class AccelerateIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    num_processes: int = Field(1, ge=1, le=256, description="processes (GPUs) to launch")
    config_file: str | None = Field(default=None, max_length=1024, description="accelerate config (DDP/FSDP/DeepSpeed)")


class ExportNow(RequestModel):
    """Export a project now and train on the result (the run waits for the export job)."""

    model_config = ConfigDict(extra="forbid")
    project_id: PublicId
    options: dict[Annotated[str, Field(max_length=64)], JsonValue] = Field(default_factory=dict, max_length=32)


class TrainParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    stage: Literal["sft", "rm", "ppo", "dpo", "best-of-k"]
    export_id: PublicId | None = Field(default=None, description="a finished export")
    export_now: ExportNow | None = Field(default=None, description="instead of export_id")
    after_job: PublicId | None = Field(default=None, description="set by the server: the export job this run waits for")
    model_id: PublicId = Field(description="the base (or SFT) model to start from")
    reward_model_id: PublicId | None = Field(default=None, description="PPO, best-of-K")
    ref_model_id: PublicId | None = Field(default=None, description="DPO reference (default: model)")
    value_model_id: PublicId | None = Field(default=None, description="PPO value init (default: reward model)")
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
    hyperparameters: dict[Annotated[str, Field(max_length=64)], HyperValue] = Field(
        default_factory=dict, max_length=64
    )
    resume: bool = False
    accelerate: AccelerateIn | None = None

    @model_validator(mode="after")
    def _one_export(self) -> TrainParams:
        if (self.export_id is None) == (self.export_now is None):
            raise ValueError("give export_id (a finished export) or export_now (export a project now), not both")
        if self.after_job is not None:
            raise ValueError("after_job is set by the server")
        return self

    @field_validator("hyperparameters")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, v in value.items():
            if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
                raise ValueError(f"{key} must be a finite number")
        return value


class SampleParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    project_id: PublicId
    model_id: PublicId | None = Field(default=None, description="default: the project's sampler")
    k: int = Field(4, ge=4, le=9, description="completions per prompt")
    prompt_ids: list[PublicId] | None = Field(default=None, max_length=5000)
    limit: int = Field(20, ge=1, le=5000, description="prompts without completions, oldest first")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    batch_size: int = Field(8, ge=1, le=256, description="rows per generate() call (local)")
    concurrency: int = Field(4, ge=1, le=64, description="requests in flight (endpoint)")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class ExportParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    project_id: PublicId
    options: dict[Annotated[str, Field(max_length=64)], JsonValue] = Field(default_factory=dict, max_length=32)


class DiagnosticParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = Field(5, ge=1, le=10_000)
    step_seconds: float = Field(0.1, ge=0.0, le=60.0)
    fail_at: int | None = Field(default=None, ge=1, le=10_000)


PARAMS: dict[str, type[BaseModel]] = {
    "train": TrainParams,
    "sample": SampleParams,
    "export": ExportParams,
    "diagnostic": DiagnosticParams,
}


class JobIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["train", "sample", "export", "diagnostic"]
    params: dict[str, Any] = Field(default_factory=dict)


class JobOut(BaseModel):
    id: str
    kind: str
    status: JobStatus
    params: dict[str, Any]
    progress: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    log_tail: str
    worker: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None


class MetricsOut(BaseModel):
    status: JobStatus
    items: list[dict[str, Any]] = Field(description="[{step, metric: value, ...}] in step order")
    last_step: int


def job_out(job: Job, *, with_log: bool = True) -> JobOut:
    return JobOut(
        id=job.public_id,
        kind=job.kind,
        status=job.status,
        params=job.params or {},
        progress=job.progress or {},
        result=job.result or {},
        error=job.error,
        log_tail=job.log_tail if with_log else "",
        worker=job.worker,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
    )
