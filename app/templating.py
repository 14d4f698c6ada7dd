"""The Jinja2 environment shared by every page (autoescaping on for .html).

Globals every template can use: ``csrf_token(request)`` (the token bound to the
request's session, for hidden form fields and the <meta> tag the JS client
reads) and the ``markdown`` filter (sanitised HTML, see app/markdown.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from app import __version__
from app.auth.cookies import SESSION_COOKIE
from app.markdown import markdown_filter
from app.security.csrf import csrf_token_for

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def csrf_token(request: Request) -> str:
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return ""
    return csrf_token_for(request.app.state.settings.secret_key, session)


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["app_version"] = __version__
templates.env.filters["markdown"] = markdown_filter
