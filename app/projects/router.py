"""Projects and their members. Labelers see only projects they are members of."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from app.deps import AdminUser, CurrentUser, EngineerUser, SessionDep
from app.inputs import ProjectPath
from app.models import Project, Role
from app.openapi import errors
from app.projects import service
from app.projects.schemas import (
    MemberOut,
    MembersIn,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    SamplerIn,
)

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def _out(db: Session, project: Project) -> ProjectOut:
    return ProjectOut.of(project, service.sampler_public_id(db, project))


@router.get("")
def list_projects(
    db: SessionDep,
    user: CurrentUser,
    include_archived: Annotated[bool, Query(description="admins only")] = False,
) -> list[ProjectOut]:
    """Admins: every project; others: the projects they are members of."""
    wanted = include_archived and user.role == Role.admin
    return [_out(db, p) for p in service.list_projects(db, user, wanted)]


@router.post("", status_code=201, responses=errors(409))
def create_project(body: ProjectCreate, db: SessionDep, admin: AdminUser) -> ProjectOut:
    """Create a project (prompt-writing projects get their items at once)."""
    return _out(db, service.create(db, admin, body))


@router.get("/{pid}")
def get_project(pid: ProjectPath, db: SessionDep, user: CurrentUser) -> ProjectOut:
    """One project (404 when it is not yours)."""
    return _out(db, service.get(db, user, pid))


@router.patch("/{pid}")
def update_project(pid: ProjectPath, body: ProjectUpdate, db: SessionDep, admin: AdminUser) -> ProjectOut:
    """Change settings; the task kind is fixed. A new overlap applies to new items."""
    return _out(db, service.update(db, admin, service.get_writable(db, admin, pid), body))


@router.put("/{pid}/sampler", responses=errors(404, 422))
def set_sampler(pid: ProjectPath, body: SamplerIn, db: SessionDep, user: EngineerUser) -> ProjectOut:
    """Choose the model version that samples the project's next rounds (engineers, for the
    projects they may change: the models page's "use as sampler for project …")."""
    project = service.get_writable(db, user, pid)
    return _out(db, service.update(db, user, project, ProjectUpdate(sampler_model_id=body.model_id)))


@router.delete("/{pid}", status_code=204)
def archive_project(pid: ProjectPath, db: SessionDep, admin: AdminUser) -> Response:
    """Archive: hidden from labelers, kept with all its data (PATCH archived=false restores)."""
    service.archive(db, admin, service.get_writable(db, admin, pid))
    return Response(status_code=204)


@router.get("/{pid}/members")
def list_members(pid: ProjectPath, db: SessionDep, admin: AdminUser) -> list[MemberOut]:
    """Users who may work on the project."""
    return [MemberOut.of(u) for u in service.members(db, service.get(db, admin, pid))]


@router.put("/{pid}/members")
def set_members(pid: ProjectPath, body: MembersIn, db: SessionDep, admin: AdminUser) -> list[MemberOut]:
    """Replace the member list with exactly these users."""
    project = service.get_writable(db, admin, pid)
    return [MemberOut.of(u) for u in service.set_members(db, admin, project, body.user_ids)]
