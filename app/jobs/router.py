"""The jobs API: list, watch and cancel background jobs (engineers and admins).

Starting a job (``POST /api/v1/jobs``) is the one route that knows every kind;
it lives beside the table of kinds, in app/job_kinds.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.deps import EngineerUser, SessionDep
from app.inputs import DB_INT_MAX, PathId
from app.jobs import service
from app.jobs.schemas import JobOut, MetricsOut, job_out
from app.models import JobKind, JobStatus
from app.openapi import errors

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("", responses=errors(404))
def list_jobs(
    db: SessionDep,
    _user: EngineerUser,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    limit: int = Query(50, ge=1, le=200),
    before: str | None = Query(None, min_length=16, max_length=16),
) -> list[JobOut]:
    """Jobs, newest first; ``before`` is the last id of the previous page."""
    jobs = service.listing(db, status=status, kind=kind, limit=limit, before=before)
    return [job_out(j, with_log=False) for j in jobs]


@router.get("/{jid}")
def get_job(jid: PathId, db: SessionDep, _user: EngineerUser) -> JobOut:
    """One job with its progress (step, total, ETA), result, error and log tail."""
    return job_out(service.get(db, jid))


@router.get("/{jid}/metrics")
def job_metrics(
    jid: PathId,
    db: SessionDep,
    _user: EngineerUser,
    after_step: int = Query(-1, ge=-1, le=DB_INT_MAX),
    limit: int = Query(2000, ge=1, le=10_000),
) -> MetricsOut:
    """Metric points after ``after_step``, for live curves that poll."""
    job = service.get(db, jid)
    items = service.metrics(db, job, after_step, limit)
    last = items[-1]["step"] if items else after_step
    return MetricsOut(status=job.status, items=items, last_step=last)


@router.post("/{jid}/cancel", responses=errors(409))
def cancel_job(jid: PathId, db: SessionDep, _user: EngineerUser) -> JobOut:
    """Cancel: a queued job at once; a running one stops within seconds, keeping its
    last checkpoint."""
    return job_out(service.request_cancel(db, service.get(db, jid)))
