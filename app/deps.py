"""Dependencies that make routes read as plain signatures.

``SessionDep`` is the request's unit of work: it is committed when the route
returns and *before* the response is sent (``scope="function"``), so a "saved"
answer means the row is durable; any exception rolls it back.

``CurrentUser`` resolves a bearer API token (scripts) or the session cookie
(browser). A cookie-authenticated state-changing request must also present the
CSRF token, in the ``X-CSRF-Token`` header or the ``csrf_token`` field of a
URL-encoded form (the logout form); bearer requests need none (a browser never
attaches them by itself). The user is found first: a form is read only for a
live session, so an anonymous client cannot make the server parse anything
(the login form is the one exception, and it has the ordinary body limit).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import service as auth_service
from app.auth.cookies import SESSION_COOKIE
from app.config import Settings
from app.db import read_phase, unit_of_work
from app.errors import Forbidden, NotAuthenticated
from app.models import Role, User
from app.security.csrf import CSRF_FIELD, CSRF_HEADER, csrf_valid
from app.security.middleware import UNSAFE_METHODS

T = TypeVar("T")


# Pure: async, so it costs no thread-pool hop.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_db(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def client_host(request: Request) -> str:
    """The client's address: the connection's peer, or what a trusted proxy forwarded
    (``forwarded_allow_ips``; the proxy-headers middleware in app/main.py)."""
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@dataclass(frozen=True)
class _Found:
    user: User | None
    session: str | None = None  # the session token, when the user came by cookie


def _find_user(request: Request, db: SessionDep) -> _Found:
    return _found_user(request, db)


def _found_user(request: Request, db: Session) -> _Found:
    token = _bearer(request)
    if token is not None:
        user = auth_service.user_for_api_token(db, token)
        if user is None:
            raise NotAuthenticated("The API token is invalid or has been revoked.")
        request.state.auth_method = "token"
        return _Found(user)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return _Found(None)
    user = auth_service.user_for_session(db, cookie)
    if user is None:
        return _Found(None)
    request.state.auth_method = "session"
    return _Found(user, cookie)


async def _presented_csrf(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        value = (await request.form()).get(CSRF_FIELD)  # cached: the route still gets its fields
        return value if isinstance(value, str) else None
    return None


async def optional_user(
    request: Request,
    settings: SettingsDep,
    found: Annotated[_Found, Depends(_find_user, scope="function")],
) -> User | None:
    if (
        found.session is not None
        and request.method in UNSAFE_METHODS
        and not csrf_valid(settings.secret_key, found.session, await _presented_csrf(request))
    ):
        raise Forbidden("The form has expired or did not come from this site; reload the page and try again.")
    return found.user


OptionalUser = Annotated[User | None, Depends(optional_user, scope="function")]


# The checks below do no I/O: async, so they cost no thread-pool hop.
async def current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Log in first.")
    return user


CurrentUser = Annotated[User, Depends(current_user, scope="function")]


def require_role(*roles: Role) -> Callable[[User], Coroutine[Any, Any, User]]:
    allowed = frozenset(roles)
    names = " or ".join(r.value for r in roles)

    async def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"This needs the {names} role.")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.admin), scope="function")]
# Reviewers judge judgements in the projects they are members of (app/quality/review.py).
ReviewerUser = Annotated[User, Depends(require_role(Role.admin, Role.reviewer), scope="function")]
# Engineers run training and the model registry; admins may do everything.
EngineerUser = Annotated[User, Depends(require_role(Role.admin, Role.engineer), scope="function")]


@dataclass(frozen=True)
class UserWork:
    """A request's whole database work in one thread-pool hop: open the unit of work,
    authenticate, run the route's work, commit, close.

    The hot labeling routes are async and hand their work to this: FastAPI would
    otherwise spend a hop on each sync dependency, one on the route and one more on
    validating a sync route's answer, and open the session in one thread, use it in
    another and commit it in a third. The session starts with lock-free reads
    (``read_phase``), authentication included. Cookie sessions must present the CSRF
    token in the ``X-CSRF-Token`` header (these routes take JSON, never forms).
    """

    request: Request

    async def __call__(self, work: Callable[[Session, User], T]) -> T:
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session, User], T]) -> T:
        request = self.request
        with unit_of_work(request.app.state.session_factory) as db:
            read_phase(db)
            found = _found_user(request, db)
            if found.user is None:
                raise NotAuthenticated("Log in first.")
            if (
                found.session is not None
                and request.method in UNSAFE_METHODS
                and not csrf_valid(request.app.state.settings.secret_key, found.session, request.headers.get(CSRF_HEADER))
            ):
                raise Forbidden("The form has expired or did not come from this site; reload the page and try again.")
            return work(db, found.user)


async def user_work(request: Request) -> UserWork:
    return UserWork(request)


# Routes taking this need a logged-in user (documented 401/403 like CurrentUser: app/openapi.py).
UserWorkDep = Annotated[UserWork, Depends(user_work)]
