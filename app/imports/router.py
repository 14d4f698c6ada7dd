"""Upload prompts (JSONL or CSV) and completions (JSONL) into a project."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from app.deps import AdminUser, SessionDep, SettingsDep
from app.errors import InvalidInput
from app.imports import service
from app.imports.schemas import ImportReportOut
from app.projects import service as projects

router = APIRouter(prefix="/api/v1/projects", tags=["imports"])

DryRun = Annotated[bool, Query(description="validate only; store nothing")]


def _answer(report: service.ImportReport, dry_run: bool) -> ImportReportOut:
    out = ImportReportOut.of(report)
    if not report.ok and not dry_run:
        raise InvalidInput(report.summary(), details=[e.model_dump() for e in out.errors])
    return out


@router.post("/{pid}/prompts:import")
def import_prompts(
    pid: str,
    file: Annotated[UploadFile, File(description=".jsonl or .csv")],
    db: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    dry_run: DryRun = False,
) -> ImportReportOut:
    """Every line is checked first; with any error nothing is stored (422)."""
    project = projects.get(db, admin, pid)
    report = service.import_prompts(
        db, project, file.file, filename=file.filename or "upload.jsonl",
        max_text_chars=settings.max_text_chars, actor=admin, dry_run=dry_run,
    )
    return _answer(report, dry_run)


@router.post("/{pid}/completions:import")
def import_completions(
    pid: str,
    file: Annotated[UploadFile, File(description=".jsonl")],
    db: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    dry_run: DryRun = False,
) -> ImportReportOut:
    """Completions name their prompt by its import id or public id; all or nothing."""
    project = projects.get(db, admin, pid)
    report = service.import_completions(
        db, project, file.file, filename=file.filename or "upload.jsonl",
        max_text_chars=settings.max_text_chars, actor=admin, dry_run=dry_run,
    )
    return _answer(report, dry_run)
