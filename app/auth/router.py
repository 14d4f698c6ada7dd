"""Session login for the browser and the current user's identity."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.auth import service
from app.auth.cookies import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from app.auth.schemas import LoginIn, LoginOut, UserOut, user_out
from app.deps import CurrentUser, SessionDep, SettingsDep, client_host
from app.openapi import errors
from app.security.csrf import csrf_token_for

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", responses=errors(401, 429))
def login(
    body: LoginIn, request: Request, response: Response, db: SessionDep, settings: SettingsDep
) -> LoginOut:
    """Start a browser session; the cookie is HttpOnly and SameSite=Lax."""
    user = service.check_login(db, request.app.state.login_limiter, client_host(request), body.email, body.password)
    new = service.start_session(
        db, user, settings.session_hours, old_token=request.cookies.get(SESSION_COOKIE)
    )
    set_session_cookie(response, new.token, settings)
    return LoginOut(user=user_out(user), csrf_token=csrf_token_for(settings.secret_key, new.token))


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, db: SessionDep, _user: CurrentUser) -> None:
    """End this browser session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(db, token)
    clear_session_cookie(response)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    """Who the request is authenticated as."""
    return user_out(user)
