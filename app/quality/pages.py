"""HTML shells of the quality pages; their scripts read the quality API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import CurrentUser, ReviewerUser, SessionDep
from app.errors import NotFound
from app.inputs import ProjectPath
from app.models import User
from app.quality import repository as repo
from app.quality import review, service
from app.templating import templates

router = APIRouter(tags=["pages"], include_in_schema=False)


def _page(request: Request, name: str, user: User, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"user": user, **context})


@router.get("/admin/projects/{pid}/quality")
def quality_page(request: Request, db: SessionDep, user: ReviewerUser, pid: ProjectPath) -> HTMLResponse:
    """Agreement over time, the labeler table, the agreement heat map, disputed items."""
    return _page(request, "quality/quality.html", user, project=service.readable_project(db, user, pid))


@router.get("/review")
def review_home(request: Request, db: SessionDep, user: ReviewerUser) -> HTMLResponse:
    """The projects this reviewer reviews."""
    return _page(request, "quality/review_home.html", user, projects=review.reviewable_projects(db, user))


@router.get("/review/projects/{pid}")
def review_project(request: Request, db: SessionDep, user: ReviewerUser, pid: ProjectPath) -> HTMLResponse:
    """A project's most disputed items, to review one by one."""
    return _page(request, "quality/review_queue.html", user, project=service.readable_project(db, user, pid))


@router.get("/review/items/{iid}")
def review_item(request: Request, db: SessionDep, user: ReviewerUser, iid: str) -> HTMLResponse:
    """Every judgement of one item side by side; accept or reject each."""
    item = repo.item_by_public_id(db, iid)
    if item is None:
        raise NotFound("No such item.")
    return _page(request, "quality/review_item.html", user, iid=iid)


@router.get("/me/history")
def my_history(request: Request, db: SessionDep, user: CurrentUser) -> HTMLResponse:
    """Your judgements, reviewers' feedback on them, and your own figures."""
    return _page(request, "quality/history.html", user, projects=repo.member_projects(db, user))
