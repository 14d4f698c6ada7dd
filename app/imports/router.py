"""Upload prompts (JSONL or CSV) and completions (JSONL) into a project."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from app import access
from app.config import Settings
from app.deps import AdminUser, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.imports import service
from app.imports.schemas import ImportReportOut
from app.inputs import ProjectPath
from app.models import User

router = APIRouter(prefix="/api/v1/projects", tags=["imports"])

DryRun = Annotated[bool, Query(description="validate only; store nothing")]


async def _uploaded_file(request: Request, _admin: AdminUser) -> AsyncIterator[UploadFile]:
    """The ``file`` field of the multipart body, read only once the caller is known to be
    an admin: an anonymous client cannot make the server parse an upload."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (MultiPartException, HTTPException) as exc:
        message = getattr(exc, "message", None) or getattr(exc, "detail", "unreadable")
        raise InvalidInput(f"The upload cannot be read as multipart/form-data: {message}.") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput('Send the file in the multipart field "file".')
        yield upload
    finally:
        await form.close()


UploadedFile = Annotated[UploadFile, Depends(_uploaded_file, scope="function")]


def upload_body(description: str) -> dict[str, Any]:
    """The OpenAPI of a one-file upload route (``openapi_extra``): it also marks the route
    as one that takes multipart (app/openapi.py, ``is_upload_route``)."""
    schema = {"type": "object", "required": ["file"],
              "properties": {"file": {"type": "string", "format": "binary", "description": description}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def answer(report: service.ImportReport, dry_run: bool) -> ImportReportOut:
    """The report of an upload (imports, gold items): 422 with every line error when a real
    run found any, so nothing was stored; a dry run reports them with 200."""
    out = ImportReportOut.of(report)
    if not report.ok and not dry_run:
        raise InvalidInput(report.summary(), details=[e.model_dump() for e in out.errors])
    return out


def _import(
    run: service.Importer, pid: str, db: Session, settings: Settings, admin: User, file: UploadFile,
    dry_run: bool,
) -> ImportReportOut:
    project = access.writable_project(db, admin, pid)
    report = run(db, project, file.file, filename=file.filename or "upload.jsonl",
                 max_text_chars=settings.max_text_chars, actor=admin, dry_run=dry_run)
    return answer(report, dry_run)


@router.post("/{pid}/prompts:import", openapi_extra=upload_body(".jsonl or .csv"))
def import_prompts(
    pid: ProjectPath, db: SessionDep, settings: SettingsDep, admin: AdminUser, file: UploadedFile,
    dry_run: DryRun = False,
) -> ImportReportOut:
    """Every line is checked first; with any error nothing is stored (422)."""
    return _import(service.import_prompts, pid, db, settings, admin, file, dry_run)


@router.post("/{pid}/completions:import", openapi_extra=upload_body(".jsonl"))
def import_completions(
    pid: ProjectPath, db: SessionDep, settings: SettingsDep, admin: AdminUser, file: UploadedFile,
    dry_run: DryRun = False,
) -> ImportReportOut:
    """Completions name their prompt by its import id or public id; all or nothing."""
    return _import(service.import_completions, pid, db, settings, admin, file, dry_run)
