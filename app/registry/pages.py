"""The model registry's page (engineers and admins); static/js/registry.js fills it
from /api/v1/models."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineerUser
from app.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/admin/models")
def models(request: Request, user: EngineerUser) -> HTMLResponse:
    """Register, test and retire model versions."""
    return templates.TemplateResponse(request, "registry/models.html", {"user": user})
