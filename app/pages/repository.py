"""The few reads the page shells need (the pages get everything else from the JSON API)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Project, ProjectMember, Role, User


def visible_project(db: Session, public_id: str, user: User) -> Project | None:
    """The project if the user may work in it: admins see all, others their memberships."""
    query = select(Project).where(Project.public_id == public_id, Project.archived.is_(False))
    if user.role != Role.admin:
        query = query.join(ProjectMember, ProjectMember.project_id == Project.id).where(
            ProjectMember.user_id == user.id
        )
    return db.scalar(query)


def member_projects(db: Session, user: User) -> list[Project]:
    return list(
        db.scalars(
            select(Project)
            .join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(ProjectMember.user_id == user.id, Project.archived.is_(False))
            .order_by(Project.name, Project.id)
        )
    )


def any_project(db: Session, public_id: str) -> Project | None:
    """Admin pages only: every project, archived ones included."""
    return db.scalar(select(Project).where(Project.public_id == public_id))
