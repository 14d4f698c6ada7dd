"""The job lifecycle: queued → running → succeeded | failed | cancelled.

A worker *claims* the oldest queued job in one short transaction, then keeps
its ``heartbeat_at`` fresh while the job runs. A worker that dies (SIGKILL, lost
host) stops heartbeating; the *reaper* — run by every live worker on each poll —
marks such jobs **failed** with a reason that names the worker and the last
heartbeat. Failed rather than re-queued on purpose: a job that killed its worker
(out of memory, a driver crash) would otherwise kill the next one too, and a
training run restarted blindly would redo hours of work; the engineer re-runs it
(the trainer resumes from its last checkpoint).

Every state change after the claim is conditional on the job still being
``running`` *and* owned by the calling worker, so a worker that was presumed
dead and reaped cannot later overwrite the verdict.

Services flush; callers (a request's unit of work, the worker's short
transactions) commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.jobs import repository
from app.models import Job, JobStatus, User, utcnow

LOG_TAIL_CHARS = 8_000
TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


def enqueue(
    db: Session,
    kind: str,
    params: dict[str, Any],
    *,
    actor: User | None = None,
    project_id: int | None = None,
) -> Job:
    from app.jobs.runners import RUNNERS  # the table only; runners import torch lazily

    if kind not in RUNNERS:
        raise InvalidInput(f"Unknown job kind {kind!r}; use one of: {', '.join(sorted(RUNNERS))}.")
    job = Job(
        kind=kind,
        params=params,
        project_id=project_id,
        created_by=actor.id if actor else None,
        status=JobStatus.queued,
        progress={},
        result={},
        log_tail="",
    )
    db.add(job)
    db.flush()
    return job


def submit(db: Session, actor: User, kind: str, raw: dict[str, Any]) -> Job:
    """Validate a job request from the API (its params and every row it names), then
    queue it; a bad request is refused now, not discovered by the worker later."""
    from pydantic import ValidationError

    from app.jobs.schemas import PARAMS, ExportParams, SampleParams, TrainParams
    from app.registry import service as registry

    schema = PARAMS.get(kind)
    if schema is None:
        raise InvalidInput(f"Jobs of kind {kind!r} cannot be started through the API.")
    try:
        params = schema.model_validate(raw)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
                  for e in exc.errors()]
        first = errors[0]
        raise InvalidInput(f"params.{first['field']}: {first['message']}", details=errors) from exc
    project_id = None
    after: Job | None = None
    if isinstance(params, TrainParams):
        if params.export_now is not None:
            # "Export now with these filters": the export job is queued first, and the
            # train runner waits for its export to finish (app/jobs/runners.py).
            if repository.project_by_public_id(db, params.export_now.project_id) is None:
                raise InvalidInput("export_now.project_id: no such project.")
            after = _submit_export(db, actor, ExportParams(
                project_id=params.export_now.project_id, options=params.export_now.options))
            params = params.model_copy(update={"export_id": after.params["export_id"],
                                               "export_now": None})
        else:
            export = repository.export_by_public_id(db, str(params.export_id))
            if export is None or export.status != "succeeded" or not export.path:
                raise InvalidInput("export_id: no finished export with that id.")
        for key in ("model_id", "reward_model_id", "ref_model_id", "value_model_id"):
            value = getattr(params, key)
            if value is not None:
                registry.local_model(db, value)
        if params.stage in ("ppo", "best-of-k") and params.reward_model_id is None:
            raise InvalidInput(f"reward_model_id: a {params.stage} run needs a reward model.")
    elif hasattr(params, "project_id"):
        project = repository.project_by_public_id(db, params.project_id)
        if project is None:
            raise InvalidInput("project_id: no such project.")
        project_id = project.id
        if isinstance(params, ExportParams):
            return _submit_export(db, actor, params)
        if isinstance(params, SampleParams):
            if params.model_id is not None:
                sampler = registry.get(db, params.model_id)
            elif project.sampler_model_id is not None:
                sampler = registry.by_id(db, project.sampler_model_id)
            else:
                raise InvalidInput("model_id: the project has no sampler model; choose one.")
            if sampler.retired:
                raise InvalidInput(f"model_id: {sampler.name!r} is retired.")
    payload = params.model_dump(mode="json")
    if isinstance(params, TrainParams):
        payload.pop("export_now", None)
        payload.pop("after_job", None)
        if after is not None:
            payload["after_job"] = after.public_id
    return enqueue(db, kind, payload, actor=actor, project_id=project_id)


def _submit_export(db: Session, actor: User, params: Any) -> Job:
    """Record the export (pending) now, so its filters are checked in this request."""
    from pydantic import ValidationError

    from app.exports import service as exports
    from app.exports.schemas import ExportCreate

    try:
        request = ExportCreate.model_validate(params.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"params.options.{where}: {first['msg']}") from exc
    export = exports.request_export(db, actor, params.project_id, request)
    payload = {"project_id": params.project_id, "export_id": export.public_id,
               "options": request.model_dump(mode="json")}
    return enqueue(db, "export", payload, actor=actor, project_id=export.project_id)


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
    """Take the oldest queued job for ``worker``; None when there is nothing to do."""
    now = now or utcnow()
    job = repository.lock_next_queued(db, kinds)
    if job is None:
        return None
    job.status = JobStatus.running
    job.worker = worker
    job.started_at = now
    job.heartbeat_at = now
    db.flush()
    return job


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
        job.progress = progress
    for step, values in metrics:
        repository.add_metric(db, job.id, step, values)
    if log_tail is not None:
        job.log_tail = log_tail[-LOG_TAIL_CHARS:]
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
        job.result = result
    job.error = error
    if log_tail is not None:
        job.log_tail = log_tail[-LOG_TAIL_CHARS:]
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


def metrics(db: Session, job: Job, after_step: int, limit: int) -> list[dict[str, Any]]:
    rows = repository.metrics_after(db, job.id, after_step, limit)
    return [{"step": m.step, **m.metrics} for m in rows]
