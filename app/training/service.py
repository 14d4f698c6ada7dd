"""Training runs: check a run request against the registry and the exports, then queue it.

A bad request is refused now (422, or 404 for a project the caller may not
read), not discovered by the worker later. With "export now" the export is
recorded and its job queued first; the run is queued *after* it, so no worker
takes the run until the export has succeeded, and the run fails, naming the
export job, if that job fails or is cancelled (app/jobs/service.py).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import access
from app.errors import InvalidInput, NotFound
from app.exports import runner as export_job
from app.exports import service as exports
from app.jobs import service as jobs
from app.models import Job, JobKind, User
from app.registry import service as registry
from app.training.schemas import TrainJobIn, TrainRun
from app.training.stages import NEEDS_REWARD_MODEL

MODEL_FIELDS = ("model_id", "reward_model_id", "ref_model_id", "value_model_id")


def submit(db: Session, actor: User, body: TrainJobIn) -> Job:
    params = body.params
    after: Job | None = None
    if params.export_now is not None:
        after = export_job.queue_export(db, actor, params.export_now.project_id,
                                        params.export_now.options)
        export_id, project_id = str(after.params["export_id"]), after.project_id
    else:
        found = exports.finished_export(db, str(params.export_id))
        if found is None:
            raise InvalidInput("export_id: no finished export with that id.")
        export, project = found
        if not access.can_read(db, actor, project.id):
            raise NotFound(access.NOT_FOUND)
        export_id, project_id = export.public_id, project.id
    for key in MODEL_FIELDS:
        value = getattr(params, key)
        if value is not None:
            registry.local_model(db, value)
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
