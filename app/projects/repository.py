"""Project queries; who may read which project is app/access.py's rule."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import access
from app.models import ModelVersion, Project, ProjectMember, User


def list_for(db: Session, actor: User | None, include_archived: bool) -> list[Project]:
    query = access.readable(actor).order_by(Project.id)
    if not include_archived:
        query = query.where(Project.archived.is_(False))
    return list(db.scalars(query))


def by_slug(db: Session, slug: str) -> Project | None:
    return db.scalar(select(Project).where(Project.slug == slug))


def slugs_starting(db: Session, prefix: str) -> set[str]:
    return set(db.scalars(select(Project.slug).where(Project.slug.startswith(prefix, autoescape=True))))


def model_by_public_id(db: Session, public_id: str) -> ModelVersion | None:
    return db.scalar(select(ModelVersion).where(ModelVersion.public_id == public_id))


def model_public_id(db: Session, model_id: int | None) -> str | None:
    if model_id is None:
        return None
    return db.scalar(select(ModelVersion.public_id).where(ModelVersion.id == model_id))


def members(db: Session, project_id: int) -> list[User]:
    query = (
        select(User)
        .join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.id)
    )
    return list(db.scalars(query))


def replace_members(db: Session, project_id: int, user_ids: Iterable[int]) -> None:
    wanted = set(user_ids)
    current = set(
        db.scalars(select(ProjectMember.user_id).where(ProjectMember.project_id == project_id))
    )
    if current - wanted:
        db.execute(
            delete(ProjectMember).where(
                ProjectMember.project_id == project_id, ProjectMember.user_id.in_(current - wanted)
            )
        )
    db.add_all(ProjectMember(project_id=project_id, user_id=uid) for uid in sorted(wanted - current))
    db.flush()
