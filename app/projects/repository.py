"""Project queries; a non-admin only ever reads projects they are a member of."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from app.models import (
    Completion,
    ItemCompletion,
    ModelVersion,
    Project,
    ProjectMember,
    Prompt,
    Role,
    User,
    WorkItem,
)


def _visible(actor: User | None) -> Select[Project]:
    """The projects query for an actor: admins (and the CLI, actor None) see all;
    others see active projects they are members of."""
    query = select(Project)
    if actor is not None and actor.role != Role.admin:
        member = select(ProjectMember.project_id).where(ProjectMember.user_id == actor.id)
        query = query.where(Project.id.in_(member), Project.archived.is_(False))
    return query


def list_for(db: Session, actor: User | None, include_archived: bool) -> list[Project]:
    query = _visible(actor).order_by(Project.id)
    if not include_archived:
        query = query.where(Project.archived.is_(False))
    return list(db.scalars(query))


def get_for(db: Session, actor: User | None, public_id: str) -> Project | None:
    return db.scalar(_visible(actor).where(Project.public_id == public_id))


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


# --- work items ------------------------------------------------------------


def lock_prompt(db: Session, prompt_id: int) -> None:
    """Serialises item creation per prompt on PostgreSQL (SQLite writers are already serial)."""
    db.execute(select(Prompt.id).where(Prompt.id == prompt_id).with_for_update())


def lock_project(db: Session, project_id: int) -> None:
    db.execute(select(Project.id).where(Project.id == project_id).with_for_update())


def prompt_has_item(db: Session, prompt_id: int) -> bool:
    return db.scalar(select(WorkItem.id).where(WorkItem.prompt_id == prompt_id).limit(1)) is not None


def completion_ids(db: Session, prompt_id: int) -> list[int]:
    """In import order."""
    return list(db.scalars(select(Completion.id).where(Completion.prompt_id == prompt_id).order_by(Completion.id)))


def completion_ids_in_items(db: Session, prompt_id: int) -> set[int]:
    query = (
        select(ItemCompletion.completion_id)
        .join(WorkItem, WorkItem.id == ItemCompletion.item_id)
        .where(WorkItem.prompt_id == prompt_id)
    )
    return set(db.scalars(query))


def prompt_writing_counts(db: Session, project_id: int) -> dict[str, int]:
    query = (
        select(WorkItem.category, func.count())
        .where(WorkItem.project_id == project_id, WorkItem.prompt_id.is_(None))
        .group_by(WorkItem.category)
    )
    return {str(cat): int(n) for cat, n in db.execute(query)}


def prompts_without_items(db: Session, project_id: int) -> list[Prompt]:
    has_item = select(WorkItem.prompt_id).where(
        WorkItem.project_id == project_id, WorkItem.prompt_id.is_not(None)
    )
    query = select(Prompt).where(Prompt.project_id == project_id, Prompt.id.not_in(has_item)).order_by(Prompt.id)
    return list(db.scalars(query))
