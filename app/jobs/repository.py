"""Queries on jobs and their metrics.

Jobs are a shared resource of the engineers and admins who may see them (the
routes check the role); workers act as the system and see every job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Export, Job, JobMetric, JobStatus, Project


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


def lock_next_queued(db: Session, kinds: Sequence[str] | None) -> Job | None:
    """The oldest queued job, locked for this transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent workers pass over a row
    another worker is claiming instead of waiting for it. SQLite renders no lock
    clause; there the transaction already holds the database's single write lock
    (app/db.py opens every transaction with BEGIN IMMEDIATE), so select-then-update
    cannot interleave with another claim.
    """
    query = select(Job).where(Job.status == JobStatus.queued).order_by(Job.id).limit(1)
    if kinds:
        query = query.where(Job.kind.in_(list(kinds)))
    return db.scalar(query.with_for_update(skip_locked=True))


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
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_requested(db: Session, job_id: int) -> bool:
    return bool(db.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def metrics_after(db: Session, job_id: int, after_step: int, limit: int) -> Sequence[JobMetric]:
    return db.scalars(
        select(JobMetric)
        .where(JobMetric.job_id == job_id, JobMetric.step > after_step)
        .order_by(JobMetric.step, JobMetric.id)
        .limit(limit)
    ).all()


def add_metric(db: Session, job_id: int, step: int, metrics: dict[str, float]) -> None:
    db.add(JobMetric(job_id=job_id, step=step, metrics=metrics))


def project_by_public_id(db: Session, public_id: str) -> Project | None:
    return db.scalar(select(Project).where(Project.public_id == public_id))


def export_by_public_id(db: Session, public_id: str) -> Export | None:
    return db.scalar(select(Export).where(Export.public_id == public_id))


def recent_of_user(db: Session, user_id: int, kind: str, limit: int) -> Sequence[Job]:
    """A user's newest jobs of one kind (the suggest button looks for one in flight)."""
    return db.scalars(
        select(Job)
        .where(Job.created_by == user_id, Job.kind == kind)
        .order_by(Job.id.desc())
        .limit(limit)
    ).all()
