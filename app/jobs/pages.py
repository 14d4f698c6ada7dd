"""HTML pages for training runs and the model registry (engineers and admins).

The pages are shells: static/js/training.js and registry.js fill them from the
JSON API (/api/v1/jobs, /api/v1/models), so the page and a script see the same data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineerUser, SessionDep
from app.jobs import service
from app.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/admin/training")
def training(request: Request, user: EngineerUser) -> HTMLResponse:
    """Start a run and see the recent jobs."""
    return templates.TemplateResponse(request, "jobs/training.html", {"user": user})


@router.get("/admin/training/{jid}")
def training_job(request: Request, db: SessionDep, user: EngineerUser, jid: str) -> HTMLResponse:
    """One job: live progress, curves, log tail, cancel, the exact command."""
    job = service.get(db, jid)
    return templates.TemplateResponse(request, "jobs/job.html", {"user": user, "job": job})


@router.get("/admin/models")
def models(request: Request, user: EngineerUser) -> HTMLResponse:
    """Register, test and retire model versions."""
    return templates.TemplateResponse(request, "registry/models.html", {"user": user})
