"""The HTML shell of a project's AI-labelers page; its script reads the AI-labeling API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import access
from app.ai_labeling.judge import DEFAULT_TEMPLATE, MARGIN_THRESHOLDS
from app.deps import AdminUser, SessionDep
from app.inputs import ProjectPath
from app.templating import templates

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/admin/projects/{pid}/ai")
def ai_labelers_page(request: Request, db: SessionDep, user: AdminUser, pid: ProjectPath) -> HTMLResponse:
    """Attach a model as an AI labeler, edit its prompt and constitution, run it, compare it."""
    project = access.readable_project(db, user, pid)
    return templates.TemplateResponse(request, "ai/labelers.html", {
        "user": user, "project": project, "default_template": DEFAULT_TEMPLATE,
        "thresholds": [(low, label.value.replace("_", " ")) for low, label in MARGIN_THRESHOLDS],
    })
