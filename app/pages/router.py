"""HTML routes. Each renders a shell; the page's script talks to the JSON API.

Login and logout are plain form posts so they work before any script loads.
The login form carries no CSRF token (there is no session yet to bind one to);
the edge middleware (app/security/middleware.py) refuses it when the browser marks it cross-site,
and a fresh session token is issued at every login, so a planted cookie is useless.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from app.auth import service as auth_service
from app.auth.cookies import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from app.deps import AdminUser, CurrentUser, OptionalUser, SessionDep, SettingsDep, client_host
from app.errors import NotAuthenticated, RateLimited
from app.inputs import ProjectPath, RequestModel
from app.labeling.kinds import kind_of
from app.markdown import render_markdown
from app.models import Role, User
from app.pages import repository as repo
from app.templating import templates

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["pages"])


def _safe_next(target: str | None, user: User | None = None) -> str:
    """Only same-site paths: `//evil.example` and `/\\evil` are open redirects."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    if user is not None and user.role == Role.admin:
        return "/admin"
    return "/"


def _page(request: Request, name: str, user: User | None, status: int = 200, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status
    )


@pages.get("/login")
def login_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    """The login form (already logged-in users go straight on)."""
    if user is not None:
        return RedirectResponse(_safe_next(next, user), status_code=303)
    return _page(request, "login.html", None, next=_safe_next(next) if next else "", email="")


@pages.post("/login")
def login_submit(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the credentials and start a fresh session, as the JSON login does."""
    try:
        user = auth_service.check_login(db, request.app.state.login_limiter, client_host(request), email, password)
    except (NotAuthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return _page(request, "login.html", None, status, error=exc.message, next=next, email=email)
    new = auth_service.start_session(
        db, user, settings.session_hours, old_token=request.cookies.get(SESSION_COOKIE)
    )
    response = RedirectResponse(_safe_next(next, user), status_code=303)
    set_session_cookie(response, new.token, settings)
    return response


@pages.post("/logout")
def logout(request: Request, db: SessionDep, _user: CurrentUser) -> Response:
    """End the session; CurrentUser has already checked the form's csrf_token."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth_service.end_session(db, token)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@pages.get("/")
def home(request: Request, db: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The labeler's projects with their own counts (filled in from /me/projects)."""
    return _page(request, "home.html", user, projects=repo.member_projects(db, user))


@pages.get("/projects/{pid}/work")
def work(request: Request, db: SessionDep, user: CurrentUser, pid: ProjectPath) -> HTMLResponse:
    """The work page for the project's task kind."""
    project = repo.work_project(db, pid, user)
    return _page(request, kind_of(project.task_kind).template, user, project=project)


@pages.get("/admin")
def admin_dashboard(request: Request, user: AdminUser) -> HTMLResponse:
    """Projects at a glance, with links to every admin page."""
    return _page(request, "admin/dashboard.html", user)


@pages.get("/admin/projects")
def admin_projects(request: Request, user: AdminUser) -> HTMLResponse:
    """List and create projects."""
    return _page(request, "admin/projects.html", user)


@pages.get("/admin/projects/{pid}")
def admin_project_edit(request: Request, db: SessionDep, user: AdminUser, pid: ProjectPath) -> HTMLResponse:
    """Edit every setting of one project and assign its labelers."""
    return _page(request, "admin/project_edit.html", user, project=repo.readable_project(db, pid, user))


@pages.get("/admin/projects/{pid}/import")
def admin_import(request: Request, db: SessionDep, user: AdminUser, pid: ProjectPath) -> HTMLResponse:
    """Upload prompts or completions, check them line by line, then confirm."""
    return _page(request, "admin/import.html", user, project=repo.readable_project(db, pid, user))


@pages.get("/admin/projects/{pid}/progress")
def admin_progress(request: Request, db: SessionDep, user: AdminUser, pid: ProjectPath) -> HTMLResponse:
    """Charts of items done, judgements per labeler per day and time per judgement."""
    return _page(request, "admin/progress.html", user, project=repo.readable_project(db, pid, user))


@pages.get("/admin/projects/{pid}/judgements")
def admin_judgements(request: Request, db: SessionDep, user: AdminUser, pid: ProjectPath) -> HTMLResponse:
    """Browse a project's judgements with filters."""
    return _page(request, "admin/judgements.html", user, project=repo.readable_project(db, pid, user))


@pages.get("/admin/judgements/{jid}")
def admin_judgement(request: Request, user: AdminUser, jid: str) -> HTMLResponse:
    """One judgement, shown as the labeler saw it."""
    return _page(request, "admin/judgement.html", user, jid=jid)


@pages.get("/admin/users")
def admin_users(request: Request, user: AdminUser) -> HTMLResponse:
    """Create users, change roles, deactivate, reset passwords, issue API tokens."""
    return _page(request, "admin/users.html", user)


class MarkdownIn(RequestModel):
    texts: list[Annotated[str, Field(max_length=100_000)]] = Field(max_length=64)


class MarkdownOut(BaseModel):
    html: list[str]


@api.post("/markdown")
def markdown_preview(body: MarkdownIn, _user: CurrentUser) -> MarkdownOut:
    """Sanitised HTML for Markdown texts: the work pages and the guidelines preview."""
    return MarkdownOut(html=[render_markdown(t) for t in body.texts])


router = APIRouter()
router.include_router(pages)
router.include_router(api)
