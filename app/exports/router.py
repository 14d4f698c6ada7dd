"""Dataset exports API (admin only): create, list, inspect, download, compare."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app.deps import AdminUser, SessionDep, SettingsDep
from app.exports import service
from app.exports.archive import FORMATS
from app.exports.schemas import ExportCompare, ExportCreate, ExportList, ExportOut
from app.inputs import PathId, ProjectPath
from app.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["exports"])


@router.post("/projects/{pid}/exports", status_code=201)
def create_export(
    pid: ProjectPath, body: ExportCreate, request: Request, db: SessionDep, settings: SettingsDep,
    user: AdminUser,
) -> ExportOut:
    """Write an export of the project now and return its record (status, counts, checksums)."""
    export = service.request_export(db, user, pid, body)
    # Publish the pending row and end this request's transaction before the long read:
    # on SQLite it holds the write lock, which would stop every submit during the export.
    db.commit()
    service.run_export(request.app.state.session_factory, settings, export.public_id)
    db.refresh(export)
    return ExportOut.model_validate(service.export_out(db, export))


@router.get("/projects/{pid}/exports")
def list_exports(pid: ProjectPath, db: SessionDep, user: AdminUser) -> ExportList:
    """The project's exports, newest first."""
    _project, exports = service.list_exports(db, user, pid)
    return ExportList(items=[ExportOut.model_validate(service.export_out(db, e)) for e in exports])


@router.get("/exports")
def list_all_exports(
    db: SessionDep, _user: AdminUser, limit: int = Query(50, ge=1, le=200),
) -> ExportList:
    """Every project's exports, newest first: the exports page's history."""
    return ExportList(items=[ExportOut.model_validate(service.export_out(db, e))
                             for e in service.recent_exports(db, limit)])


@router.get("/exports/{eid}")
def get_export(eid: PathId, db: SessionDep, _user: AdminUser) -> ExportOut:
    """One export with its counts and per-file checksums."""
    return ExportOut.model_validate(service.export_out(db, service.get_export(db, eid)))


@router.get(
    "/exports/{eid}/download",
    response_class=StreamingResponse,
    responses={200: {"description": "the archive", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                              for t in FORMATS.values()}},
               **errors(409)},
)
def download_export(
    eid: PathId, db: SessionDep, _user: AdminUser,
    format: Literal["zip", "tar.gz"] = Query("zip"),
) -> StreamingResponse:
    """The export folder as one archive, streamed."""
    export = service.get_export(db, eid)
    folder = service.ready_folder(export)
    filename = f"rankwise-export-{export.public_id}.{format}"
    return StreamingResponse(
        service.iter_archive(folder, format),
        media_type=FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/exports/{eid}/compare/{other}")
def compare_exports(eid: PathId, other: PathId, db: SessionDep, _user: AdminUser) -> ExportCompare:
    """Record counts and per-file checksum differences between two exports."""
    return ExportCompare.model_validate(
        service.compare(service.get_export(db, eid), service.get_export(db, other))
    )
