"""The exports page (admins); static/js/exports.js fills it from /api/v1/exports and
starts exports as jobs (POST /api/v1/jobs, kind "export"), so it can watch them run."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import AdminUser
from app.exports.schemas import ALL_KINDS, MARGIN_LABELS
from app.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/admin/exports")
def exports_page(request: Request, user: AdminUser) -> HTMLResponse:
    """Create an export with every option, watch it, download, compare, train from it."""
    return templates.TemplateResponse(request, "exports/exports.html", {
        "user": user, "kinds": ALL_KINDS, "margin_labels": MARGIN_LABELS})
