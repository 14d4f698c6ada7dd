"""The session cookie: HttpOnly, SameSite=Lax, Secure behind HTTPS."""

from __future__ import annotations

from starlette.responses import Response

from app.config import Settings

SESSION_COOKIE = "rankwise_session"


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
