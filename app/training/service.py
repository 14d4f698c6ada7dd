"""Training runs: check a run request against the registry and the exports, then queue it.

A bad request is refused now (422, or 404 for a project the caller may not
read), not discovered by the worker later. With "export now" the export is
recorded and its job queued first; the run is queued *after* it, so no worker
takes the run until the export has succeeded, and the run fails, naming the
export job, if that job fails or is cancelled (app/jobs/service.py).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app import access
from app.config import Settings
from app.errors import Conflict, InvalidInput, NotFound
from app.exports import runner as export_job
from app.exports import service as exports
from app.jobs import service as jobs
from app.jobs.worker import job_dir
from app.models import Export, ExportStatus, Job, JobKind, JobStatus, Project, User
from app.registry import service as registry
from app.training.schemas import TrainJobIn, TrainParams, TrainRun
from app.training.stages import NEEDS_REWARD_MODEL
from trainer.run_folder import latest_checkpoint

OUTPUT_DIR = "model"  # a run's output folder inside its job folder
RESUMABLE = frozenset({JobStatus.cancelled, JobStatus.failed})

MODEL_FIELDS = ("model_id", "reward_model_id", "ref_model_id", "value_model_id")


def _check_models(db: Session, run: TrainParams | TrainRun) -> None:
    """Every model a run names is a local model version (422 naming it otherwise)."""
    for key in MODEL_FIELDS:
        value = getattr(run, key)
        if value is not None:
            registry.local_model(db, value)


def output_folder(settings: Settings, job_public_id: str) -> Path:
    """Where a train job writes its model, metrics.jsonl and checkpoints."""
    return job_dir(settings, job_public_id) / OUTPUT_DIR


def readable_export(db: Session, actor: User, export_id: str) -> tuple[Export, Project] | None:
    """A finished export the caller may train on, with its project; None if there is no
    such export or its project is not theirs to read."""
    found = exports.finished_export(db, export_id)
    return found if found is not None and access.can_read(db, actor, found[1].id) else None


def _readable_export(db: Session, actor: User, export_id: str) -> tuple[str, int]:
    """(export id, project row id) of a finished export the caller may train on, or the
    4xx that says what is wrong."""
    found = exports.finished_export(db, export_id)
    if found is None:
        raise InvalidInput("export_id: no finished export with that id.")
    if not access.can_read(db, actor, found[1].id):
        raise NotFound(access.NOT_FOUND)
    return found[0].public_id, found[1].id


def trainable_exports(db: Session, actor: User, project_public_id: str) -> list[Export]:
    """The finished exports of a project the caller may read, newest first: what the
    training form offers to train on."""
    _project, found = exports.list_exports(db, actor, project_public_id)
    return [e for e in found if e.status == ExportStatus.succeeded and e.path]


def submit(db: Session, actor: User, body: TrainJobIn) -> Job:
    params = body.params
    after: Job | None = None
    if params.export_now is not None:
        after = export_job.queue_export(db, actor, params.export_now.project_id,
                                        params.export_now.options)
        export_id, project_id = str(after.params["export_id"]), after.project_id
    else:
        export_id, project_id = _readable_export(db, actor, str(params.export_id))
    _check_models(db, params)
    if params.stage in NEEDS_REWARD_MODEL and params.reward_model_id is None:
        raise InvalidInput(f"reward_model_id: a {params.stage} run needs a reward model.")
    run = TrainRun.model_validate({
        **params.model_dump(exclude={"export_id", "export_now"}),
        "export_id": export_id,
        "after_job": after.public_id if after is not None else None,
    })
    # An export queued in this request is written before the run may start.
    return jobs.enqueue(db, JobKind.train, run.model_dump(mode="json"), actor=actor,
                        project_id=project_id, after=after)


def resume(db: Session, actor: User, settings: Settings, public_id: str) -> Job:
    """Queue a run that continues the cancelled or failed run ``public_id`` from its last
    checkpoint, with the same stage, models, export and hyper-parameters. The new job
    starts with the old one's curves up to that step; its runner copies the checkpoint
    into its own folder, so the old run's folder is never written to."""
    source = jobs.get(db, public_id)
    if source.kind != JobKind.train:
        raise Conflict(f"Job {public_id} is a {source.kind} job; only training runs resume.")
    if source.status not in RESUMABLE:
        raise Conflict(f"The run has {source.status.value}; only a cancelled or failed run "
                       "can be resumed.")
    previous = TrainRun.model_validate(source.params)
    export_id, project_id = _readable_export(db, actor, previous.export_id)
    checkpoint = latest_checkpoint(output_folder(settings, source.public_id))
    if checkpoint is None:
        raise Conflict("The run left no checkpoint to resume from: it stopped before its "
                       "first one (set save_steps to keep periodic checkpoints). Start it "
                       "again instead.")
    _check_models(db, previous)
    run = previous.model_copy(update={"export_id": export_id, "after_job": None,
                                      "resume": True, "resume_from": source.public_id})
    job = jobs.enqueue(db, JobKind.train, run.model_dump(mode="json"), actor=actor,
                       project_id=project_id)
    jobs.copy_metrics(db, source, job, checkpoint.step)
    job.progress = {"step": checkpoint.step, "total": source.progress.get("total", 0),
                    "stage": previous.stage,
                    "message": f"resumes {source.public_id} at step {checkpoint.step}"}
    db.flush()
    return job
