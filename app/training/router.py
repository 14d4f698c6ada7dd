"""HTML pages for training runs (engineers and admins).

The pages are shells: static/js/training.js fills them from the JSON API
(/api/v1/jobs, /api/v1/models), so the page and a script see the same data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineerUser, SessionDep
from app.jobs import service as jobs
from app.templating import templates
from app.training.stages import LABELS

router = APIRouter(include_in_schema=False)


@router.get("/admin/training")
def training(request: Request, user: EngineerUser) -> HTMLResponse:
    """Start a run and see the recent jobs."""
    return templates.TemplateResponse(request, "training/training.html",
                                      {"user": user, "stages": LABELS})


@router.get("/admin/training/{jid}")
def training_job(request: Request, db: SessionDep, user: EngineerUser, jid: str) -> HTMLResponse:
    """One job: live progress, curves, log tail, cancel, the exact command."""
    job = jobs.get(db, jid)
    return templates.TemplateResponse(request, "training/job.html", {"user": user, "job": job})
