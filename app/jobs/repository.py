"""Queries on jobs and their metrics.

Jobs are a shared resource of the engineers and admins who may see them (the
routes check the role); workers act as the system and see every job. Nothing
here knows what a kind of job does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.models import Job, JobMetric, JobStatus

# The states of a job another one waits for that mean the wait is over for good.
UNSUCCESSFUL = (JobStatus.failed, JobStatus.cancelled)


def by_public_id(db: Session, public_id: str) -> Job | None:
    return db.scalar(select(Job).where(Job.public_id == public_id))


def by_id(db: Session, job_id: int) -> Job | None:
    return db.get(Job, job_id)


def listing(
    db: Session, *, status: JobStatus | None, kind: str | None, limit: int, before_id: int | None
) -> Sequence[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if before_id is not None:
        query = query.where(Job.id < before_id)
    return db.scalars(query).all()


def lock_next_ready(db: Session, kinds: Sequence[str] | None) -> Job | None:
    """The oldest queued job whose dependency (if any) has succeeded, locked for this
    transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent workers pass over a row
    another worker is claiming instead of waiting for it. SQLite renders no lock
    clause; there the transaction already holds the database's single write lock
    (app/db.py opens every transaction with BEGIN IMMEDIATE), so select-then-update
    cannot interleave with another claim.
    """
    dependency = aliased(Job)
    ready = or_(
        Job.after_job_id.is_(None),
        exists().where(dependency.id == Job.after_job_id,
                       dependency.status == JobStatus.succeeded),
    )
    query = select(Job).where(Job.status == JobStatus.queued, ready).order_by(Job.id).limit(1)
    if kinds:
        query = query.where(Job.kind.in_(list(kinds)))
    return db.scalar(query.with_for_update(skip_locked=True, of=Job))


def waiting_on_unsuccessful(db: Session) -> Sequence[tuple[Job, Job]]:
    """Queued jobs whose dependency failed or was cancelled, with that dependency;
    the waiting rows are locked (skipped when another worker holds them)."""
    dependency = aliased(Job)
    query = (
        select(Job, dependency)
        .join(dependency, dependency.id == Job.after_job_id)
        .where(Job.status == JobStatus.queued, dependency.status.in_(UNSUCCESSFUL))
        .order_by(Job.id)
        .with_for_update(skip_locked=True, of=Job)
    )
    return [(job, dep) for job, dep in db.execute(query).tuples()]


def stale_running(db: Session, heartbeat_before: datetime) -> Sequence[Job]:
    return db.scalars(
        select(Job)
        .where(Job.status == JobStatus.running, Job.heartbeat_at < heartbeat_before)
        .order_by(Job.id)
        .with_for_update(skip_locked=True)
    ).all()


def touch_heartbeat(db: Session, job_id: int, worker: str, now: datetime) -> bool:
    """Refresh the heartbeat if this worker still owns the running job."""
    result = db.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.status == JobStatus.running)
        .values(heartbeat_at=now)
    )
    return bool(cast("CursorResult[Any]", result).rowcount)  # an UPDATE's result is a cursor result


def cancel_requested(db: Session, job_id: int) -> bool:
    return bool(db.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def metrics_after(db: Session, job_id: int, after_step: int, limit: int) -> Sequence[JobMetric]:
    return db.scalars(
        select(JobMetric)
        .where(JobMetric.job_id == job_id, JobMetric.step > after_step)
        .order_by(JobMetric.step, JobMetric.id)
        .limit(limit)
    ).all()


def metrics_up_to(db: Session, job_id: int, last_step: int) -> Sequence[JobMetric]:
    return db.scalars(
        select(JobMetric)
        .where(JobMetric.job_id == job_id, JobMetric.step <= last_step)
        .order_by(JobMetric.step, JobMetric.id)
    ).all()


def add_metric(db: Session, job_id: int, step: int, metrics: dict[str, float | str]) -> None:
    db.add(JobMetric(job_id=job_id, step=step, metrics=metrics))


def recent_of_user(db: Session, user_id: int, kind: str, limit: int) -> Sequence[Job]:
    """A user's newest jobs of one kind (the suggest button looks for one in flight)."""
    return db.scalars(
        select(Job)
        .where(Job.created_by == user_id, Job.kind == kind)
        .order_by(Job.id.desc())
        .limit(limit)
    ).all()
