"""Response bodies of the jobs API (each kind's request body lives with its domain)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.models import Job, JobStatus

PublicId = Annotated[str, Field(min_length=16, max_length=16)]
# A metric value: a number, or "NaN" / "Infinity" / "-Infinity" for what JSON cannot hold.
MetricValue = float | str


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
    items: list[dict[str, MetricValue]] = Field(
        description='[{step, metric: value, ...}] in step order; a value that is not a finite '
                    'number is the string "NaN", "Infinity" or "-Infinity"'
    )
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
