"""The "sample a new round" page of a project (engineers and admins, for projects they
may read); static/js/sample.js starts a sample job and watches it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineerUser, SessionDep
from app.inputs import PathId
from app.projects import service as projects
from app.sampling.schemas import PROMPT_CHOICES
from app.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/admin/projects/{pid}/sample")
def sample_page(request: Request, db: SessionDep, user: EngineerUser, pid: PathId) -> HTMLResponse:
    """Pick a model, the prompts, K and sampling parameters; the answers join the queue
    as the next round."""
    project = projects.get(db, user, pid)
    return templates.TemplateResponse(request, "sampling/sample.html", {
        "user": user, "project": project, "choices": PROMPT_CHOICES})
