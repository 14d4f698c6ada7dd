"""Dependencies that make routes read as plain signatures.

``SessionDep`` is the request's unit of work: it is committed when the route
returns and *before* the response is sent (``scope="function"``), so a "saved"
answer means the row is durable; any exception rolls it back.

``CurrentUser`` resolves a bearer API token (scripts) or the session cookie
(browser). A cookie-authenticated state-changing request must also present the
CSRF token, in the ``X-CSRF-Token`` header or the ``csrf_token`` form field;
bearer requests need none (a browser never attaches them by itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.cookies import SESSION_COOKIE
from app.config import Settings
from app.db import unit_of_work
from app.errors import Forbidden, NotAuthenticated
from app.models import Role, User
from app.security.csrf import CSRF_FIELD, CSRF_HEADER, csrf_valid
from app.security.middleware import UNSAFE_METHODS


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_db(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token the request carries (header, else form field), read before the
    sync dependencies run; the parsed form is cached, so routes still get their fields."""
    token = request.headers.get(CSRF_HEADER)
    if token or request.method not in UNSAFE_METHODS:
        return token
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_user(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str | None, Depends(presented_csrf)],
) -> User | None:
    token = _bearer(request)
    if token is not None:
        user = auth_service.user_for_api_token(db, token)
        if user is None:
            raise NotAuthenticated("The API token is invalid or has been revoked.")
        request.state.auth_method = "token"
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    user = auth_service.user_for_session(db, cookie)
    if user is None:
        return None
    if request.method in UNSAFE_METHODS and not csrf_valid(settings.secret_key, cookie, csrf):
        raise Forbidden("The form has expired or did not come from this site; reload the page and try again.")
    request.state.auth_method = "session"
    return user


OptionalUser = Annotated[User | None, Depends(optional_user, scope="function")]


def current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Log in first.")
    return user


CurrentUser = Annotated[User, Depends(current_user, scope="function")]


def require_role(*roles: Role) -> Callable[[User], User]:
    allowed = frozenset(roles)
    names = " or ".join(r.value for r in roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"This needs the {names} role.")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.admin), scope="function")]
# Reviewers judge judgements in the projects they are members of (app/quality/review.py).
ReviewerUser = Annotated[User, Depends(require_role(Role.admin, Role.reviewer), scope="function")]
# Engineers run training and the model registry; admins may do everything.
EngineerUser = Annotated[User, Depends(require_role(Role.admin, Role.engineer), scope="function")]
