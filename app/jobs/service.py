"""The job lifecycle: queued → running → succeeded | failed | cancelled.

This is a queue and nothing more: it stores a job's kind and parameters and
never looks inside them. Which function runs a kind is decided by the
composition root (app/job_kinds.py), which hands that table to the worker;
each domain queues its own kinds with :func:`enqueue`.

A worker *claims* the oldest queued job in one short transaction, then keeps
its ``heartbeat_at`` fresh while the job runs. A job may wait for another
(``after``): it is not claimable until that one has succeeded, and it fails,
naming it, when that one failed or was cancelled. A worker that dies (SIGKILL,
lost host) stops heartbeating; the *reaper* — run by every live worker on each
poll — marks such jobs **failed** with a reason that names the worker and the
last heartbeat. Failed rather than re-queued on purpose: a job that killed its
worker (out of memory, a driver crash) would otherwise kill the next one too,
and a training run restarted blindly would redo hours of work; the engineer
re-runs it (the trainer resumes from its last checkpoint).

Every state change after the claim is conditional on the job still being
``running`` *and* owned by the calling worker, so a worker that was presumed
dead and reaped cannot later overwrite the verdict.

What a job reports is stored the same way on both databases: JSON has no NaN
or infinity (PostgreSQL refuses them, SQLite would store a token no JSON
reader accepts), so a non-finite number is stored as the string ``"NaN"``,
``"Infinity"`` or ``"-Infinity"`` — the spelling ``float()`` and JavaScript's
``Number()`` read back — and a NUL character, which PostgreSQL cannot store in
text, as U+FFFD.

Services flush; callers (a request's unit of work, the worker's short
transactions) commit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.jobs import repository
from app.models import Job, JobStatus, User, utcnow

LOG_TAIL_CHARS = 8_000
TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float spelled as a string and NUL replaced,
    so that it stores alike on SQLite and PostgreSQL."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def enqueue(
    db: Session,
    kind: str,
    params: dict[str, Any],
    *,
    actor: User | None = None,
    project_id: int | None = None,
    after: Job | None = None,
) -> Job:
    """Queue a job; with ``after`` it waits until that job has succeeded."""
    job = Job(
        kind=kind,
        params=json_safe(params),
        project_id=project_id,
        created_by=actor.id if actor else None,
        status=JobStatus.queued,
        progress={},
        result={},
        log_tail="",
        after_job_id=after.id if after is not None else None,
    )
    db.add(job)
    db.flush()
    return job


def get(db: Session, public_id: str) -> Job:
    job = repository.by_public_id(db, public_id)
    if job is None:
        raise NotFound("No such job.")
    return job


def listing(
    db: Session,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> Sequence[Job]:
    before_id = get(db, before).id if before else None
    return repository.listing(db, status=status, kind=kind, limit=limit, before_id=before_id)


def claim(
    db: Session, worker: str, kinds: Sequence[str] | None = None, now: datetime | None = None
) -> Job | None:
    """Take the oldest ready job (of ``kinds``) for ``worker``; None when there is
    nothing to do. Jobs whose dependency failed are failed first, so none waits
    for ever."""
    now = now or utcnow()
    fail_abandoned(db, now)
    job = repository.lock_next_ready(db, kinds)
    if job is None:
        return None
    job.status = JobStatus.running
    job.worker = worker
    job.started_at = now
    job.heartbeat_at = now
    db.flush()
    return job


def fail_abandoned(db: Session, now: datetime | None = None) -> list[Job]:
    """Fail the queued jobs whose dependency failed or was cancelled, naming it. A
    chain (c waits for b, which waits for a) fails link by link in one call."""
    now = now or utcnow()
    failed: list[Job] = []
    while True:
        pairs = repository.waiting_on_unsuccessful(db)
        if not pairs:
            return failed
        for job, dependency in pairs:
            verdict = "was cancelled" if dependency.status == JobStatus.cancelled else "failed"
            reason = f" ({dependency.error})" if dependency.error else ""
            job.status = JobStatus.failed
            job.finished_at = now
            job.error = (
                f"The {dependency.kind} job {dependency.public_id} this job waited for "
                f"{verdict}{reason}; nothing was run. Start it again once that is fixed."
            )[:4000]
            failed.append(job)
        db.flush()


def heartbeat(db: Session, job_id: int, worker: str) -> tuple[bool, bool]:
    """Refresh the heartbeat → (still ours, cancel requested)."""
    owned = repository.touch_heartbeat(db, job_id, worker, utcnow())
    return owned, owned and repository.cancel_requested(db, job_id)


def _owned_running(db: Session, job_id: int, worker: str) -> Job | None:
    job = repository.by_id(db, job_id)
    if job is None or job.status != JobStatus.running or job.worker != worker:
        return None
    return job


def record_progress(
    db: Session,
    job_id: int,
    worker: str,
    *,
    progress: dict[str, Any] | None = None,
    metrics: Sequence[tuple[int, dict[str, float]]] = (),
    log_tail: str | None = None,
) -> bool:
    job = _owned_running(db, job_id, worker)
    if job is None:
        return False
    if progress is not None:
        job.progress = json_safe(progress)
    for step, values in metrics:
        repository.add_metric(db, job.id, step, json_safe(values))
    if log_tail is not None:
        job.log_tail = json_safe(log_tail[-LOG_TAIL_CHARS:])
    job.heartbeat_at = utcnow()
    db.flush()
    return True


def _close(
    db: Session,
    job_id: int,
    worker: str,
    status: JobStatus,
    *,
    result: dict[str, Any] | None,
    error: str | None,
    log_tail: str | None,
) -> bool:
    job = _owned_running(db, job_id, worker)
    if job is None:
        return False
    job.status = status
    job.finished_at = utcnow()
    if result is not None:
        job.result = json_safe(result)
    job.error = None if error is None else json_safe(error)
    if log_tail is not None:
        job.log_tail = json_safe(log_tail[-LOG_TAIL_CHARS:])
    db.flush()
    return True


def succeed(
    db: Session, job_id: int, worker: str, result: dict[str, Any], log_tail: str | None = None
) -> bool:
    return _close(db, job_id, worker, JobStatus.succeeded, result=result, error=None,
                  log_tail=log_tail)


def fail(
    db: Session,
    job_id: int,
    worker: str,
    error: str,
    result: dict[str, Any] | None = None,
    log_tail: str | None = None,
) -> bool:
    return _close(db, job_id, worker, JobStatus.failed, result=result, error=error[:4000],
                  log_tail=log_tail)


def mark_cancelled(
    db: Session,
    job_id: int,
    worker: str,
    result: dict[str, Any] | None = None,
    log_tail: str | None = None,
) -> bool:
    return _close(db, job_id, worker, JobStatus.cancelled, result=result,
                  error="Cancelled on request.", log_tail=log_tail)


def request_cancel(db: Session, job: Job) -> Job:
    """A queued job is cancelled at once; a running one is flagged and its worker
    stops it within a few seconds (the trainer saves a checkpoint first)."""
    if job.status in TERMINAL:
        raise Conflict(f"The job has already {job.status.value}; there is nothing to cancel.")
    if job.status == JobStatus.queued:
        job.status = JobStatus.cancelled
        job.finished_at = utcnow()
        job.error = "Cancelled before it started."
    job.cancel_requested = True
    db.flush()
    return job


def reap_stale(db: Session, stale_after: timedelta, now: datetime | None = None) -> list[Job]:
    """Mark running jobs whose worker stopped heartbeating as failed, with the reason."""
    now = now or utcnow()
    reaped = list(repository.stale_running(db, now - stale_after))
    for job in reaped:
        last = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "never"
        job.status = JobStatus.failed
        job.finished_at = now
        job.error = (
            f"Worker {job.worker!r} stopped heartbeating (last heartbeat {last}, more than "
            f"{int(stale_after.total_seconds())} s ago): it was killed or lost its host. "
            "Start the job again; training resumes from its last checkpoint."
        )
    db.flush()
    return reaped


def copy_metrics(db: Session, source: Job, target: Job, last_step: int) -> int:
    """Give ``target`` the metric points of ``source`` up to ``last_step`` (a run that
    continues another from its checkpoint draws one curve); returns how many."""
    rows = repository.metrics_up_to(db, source.id, last_step)
    for row in rows:
        repository.add_metric(db, target.id, row.step, dict(row.metrics))
    db.flush()
    return len(rows)


def metrics(db: Session, job: Job, after_step: int, limit: int) -> list[dict[str, Any]]:
    """Metric points after ``after_step``; json_safe again on the way out because a
    row written before non-finite numbers were spelled out may still hold one."""
    rows = repository.metrics_after(db, job.id, after_step, limit)
    return [{"step": m.step, **json_safe(m.metrics)} for m in rows]

