"""HTML shells of the evaluation pages (engineers and admins); their scripts read the
evaluation API (static/js/evaluations.js, evaluation-new.js, evaluation-results.js)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineerUser, SessionDep
from app.evaluations import service
from app.inputs import ProjectPath
from app.templating import templates

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/evaluations")
def evaluations(request: Request, user: EngineerUser) -> HTMLResponse:
    """The evaluations you may read and the leaderboard across them."""
    return templates.TemplateResponse(request, "evaluations/list.html", {"user": user})


@router.get("/evaluations/new")
def new_evaluation(request: Request, user: EngineerUser) -> HTMLResponse:
    """Start a blind evaluation: two models, prompts from a project, labelers."""
    return templates.TemplateResponse(request, "evaluations/new.html", {"user": user})


@router.get("/evaluations/{pid}")
def evaluation_results(request: Request, db: SessionDep, user: EngineerUser, pid: ProjectPath) -> HTMLResponse:
    """Who won one evaluation, drawn."""
    project = service.evaluation(db, user, pid)
    return templates.TemplateResponse(request, "evaluations/results.html", {"user": user, "project": project})
