"""The ``export`` job: write a recorded export in a worker (``POST /api/v1/jobs`` with
``kind: "export"``, or queued by a training run that asked for "export now").

The export is recorded (pending) in the request, so its filters are checked
there and a bad request stores nothing; the worker then writes the files
(:func:`app.exports.service.run_export`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from app import access
from app.exports import service
from app.exports.schemas import ExportCreate
from app.inputs import ProjectRef, RequestModel
from app.jobs import service as jobs
from app.jobs.context import JobContext
from app.models import Job, JobKind, User


class ExportParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectRef = Field(description="a project the caller may change: its id or short name")
    options: ExportCreate = Field(default_factory=lambda: ExportCreate())


class ExportJobIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal[JobKind.export]
    params: ExportParams


def submit(db: Session, actor: User, body: ExportJobIn) -> Job:
    return queue_export(db, actor, body.params.project_id, body.params.options)


def queue_export(db: Session, actor: User, project_id: str, options: ExportCreate) -> Job:
    """Record the export (pending) and queue the job that writes it; 404 for a project
    the caller may not change."""
    project = access.writable_project(db, actor, project_id)
    export = service.request_export(db, actor, project.public_id, options)
    payload = {"project_id": project.public_id, "export_id": export.public_id,
               "options": options.model_dump(mode="json")}
    return jobs.enqueue(db, JobKind.export, payload, actor=actor, project_id=project.id)


def run(ctx: JobContext) -> dict[str, Any]:
    def progress(done: int, total: int) -> None:
        ctx.progress(done, total, stage="export")
        ctx.check_stop()

    export_id = str(ctx.params["export_id"])
    service.run_export(ctx.session_factory(), ctx.settings, export_id, progress)
    with ctx.session() as db:
        export = service.get_export(db, export_id)
        return {"export_id": export.public_id, "path": export.path, "counts": export.counts,
                "manifest_sha256": export.manifest_sha256}
