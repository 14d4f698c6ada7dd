"""Response bodies of the jobs API (each kind's request body lives with its domain)."""

from __future__ import annotations

import re
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


# Terminal escape sequences a child's output may carry (colours, tqdm's cursor moves,
# titles): CSI ``ESC [ … final``, OSC ``ESC ] … BEL|ST``, and two-character ``ESC x``.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[0-9<=>@-Z\\-_]")


def plain_text(text: str) -> str:
    """``text`` without terminal escape codes: a log shown in a page, not a terminal."""
    return _ESCAPES.sub("", text)


def job_out(job: Job, *, with_log: bool = True) -> JobOut:
    return JobOut(
        id=job.public_id,
        kind=job.kind,
        status=job.status,
        params=job.params or {},
        progress=job.progress or {},
        result=job.result or {},
        error=None if job.error is None else plain_text(job.error),
        log_tail=plain_text(job.log_tail) if with_log else "",
        worker=job.worker,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
    )
