"""Training runs: the pages (engineers and admins) and the training API.

The pages are shells: static/js/training.js fills them from the JSON API
(/api/v1/jobs, /api/v1/training, /api/v1/models, /api/v1/projects), so the page
and a script see the same data. Runs are started through ``POST /api/v1/jobs``
(app/job_kinds.py); this API adds what only training has: the stages' hyper-
parameters and resuming a run from its last checkpoint.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineerUser, SessionDep, SettingsDep
from app.errors import NotFound
from app.exports import service as exports
from app.exports.schemas import ExportOut
from app.inputs import PathId
from app.jobs import service as jobs
from app.jobs.schemas import JobOut, job_out
from app.openapi import errors
from app.templating import templates
from app.training import service
from app.training.hyperparameters import StageOut, stages
from app.training.stages import LABELS

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/training", tags=["training"])


@pages.get("/admin/training")
def training(request: Request, db: SessionDep, user: EngineerUser,
             export: str | None = None) -> HTMLResponse:
    """Start a run and see the recent jobs; ``?export=`` preselects a finished export of a
    project the caller may read (the exports page links here)."""
    chosen = service.readable_export(db, user, export[:16]) if export else None
    return templates.TemplateResponse(request, "training/training.html", {
        "user": user, "stages": LABELS,
        "preselect_export": chosen[0].public_id if chosen else "",
        "preselect_project": chosen[1].public_id if chosen else ""})


@pages.get("/admin/training/{jid}")
def training_job(request: Request, db: SessionDep, user: EngineerUser, jid: str) -> HTMLResponse:
    """One job: live progress, curves, log tail, cancel, resume, the exact command."""
    job = jobs.get(db, jid)
    return templates.TemplateResponse(request, "training/job.html", {"user": user, "job": job})


@api.get("/stages")
def list_stages(_user: EngineerUser) -> list[StageOut]:
    """Every stage with its hyper-parameters (name, type, default, help), read from the
    trainer's config dataclasses: the training form is drawn from this."""
    return stages()


@api.get("/exports", responses=errors(404))
def list_trainable_exports(
    db: SessionDep, user: EngineerUser,
    project_id: str = Query(min_length=1, max_length=64, description="the project's id or short name (slug)"),
) -> list[ExportOut]:
    """The finished exports of a project the caller may read, newest first."""
    return [ExportOut.model_validate(exports.export_out(db, e))
            for e in service.trainable_exports(db, user, project_id)]


@api.get("/exports/{eid}", responses=errors(404))
def trainable_export(eid: PathId, db: SessionDep, user: EngineerUser) -> ExportOut:
    """One finished export of a project the caller may read (the models page's lineage:
    how many records a model was trained on)."""
    found = service.readable_export(db, user, eid)
    if found is None:
        raise NotFound("No finished export with that id in a project you may read.")
    return ExportOut.model_validate(exports.export_out(db, found[0]))


@api.post("/runs/{jid}/resume", status_code=201, responses=errors(404, 409, 422))
def resume_run(jid: PathId, db: SessionDep, user: EngineerUser, settings: SettingsDep) -> JobOut:
    """Continue a cancelled or failed run from its last checkpoint (weights, optimizer,
    scheduler, step) as a new job with the same settings."""
    return job_out(service.resume(db, user, settings, jid))


router = APIRouter()
router.include_router(pages)
router.include_router(api)
