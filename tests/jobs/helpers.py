"""Starting jobs and running a worker in-process, as the API and `rankwise worker` do."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session, sessionmaker

from app import job_kinds
from app.config import Settings
from app.jobs.worker import Worker, WorkerOptions
from app.models import Job, User

_REQUEST: TypeAdapter[job_kinds.JobRequestBody] = TypeAdapter(job_kinds.JobRequest)


def submit(db: Session, actor: User, kind: str, params: dict[str, Any]) -> Job:
    """What ``POST /api/v1/jobs`` does with ``{"kind": kind, "params": params}``."""
    return job_kinds.submit(db, actor, _REQUEST.validate_python({"kind": kind, "params": params}))


def run_worker(settings: Settings, factory: sessionmaker[Session], **options: Any) -> Worker:
    """A worker with the real table of kinds, run until it has done ``max_jobs`` (1)."""
    values: dict[str, Any] = {"name": "w", "poll_seconds": 0.05, "max_jobs": 1}
    values.update(options)
    worker = Worker(settings, job_kinds.RUNNERS, WorkerOptions(**values), factory)
    worker.run_forever()
    return worker
