"""Project queries; a non-admin only ever reads projects they are a member of."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, select
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


def lock_project(db: Session, project_id: int) -> None:
    """Serialises item creation per project on PostgreSQL (SQLite writers are serial
    already). FOR NO KEY UPDATE, because inserting prompts or completions takes a KEY
    SHARE lock on the project row, which FOR UPDATE would wait on: two imports would
    deadlock."""
    db.execute(select(Project.id).where(Project.id == project_id).with_for_update(key_share=True))


def prompts_with_items(db: Session, prompt_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for batch in _chunks(prompt_ids):
        found.update(db.scalars(select(WorkItem.prompt_id).where(WorkItem.prompt_id.in_(batch)).distinct()))
    return found


def newest_rounds(db: Session, prompt_ids: Sequence[int]) -> dict[int, int]:
    """The round of each prompt's newest items (prompts without items are left out)."""
    found: dict[int, int] = {}
    for batch in _chunks(prompt_ids):
        query = (
            select(WorkItem.prompt_id, func.max(WorkItem.round))
            .where(WorkItem.prompt_id.in_(batch))
            .group_by(WorkItem.prompt_id)
        )
        found.update({pid: int(n or 0) for pid, n in db.execute(query) if pid is not None})
    return found


def prompt_categories(db: Session, prompt_ids: Sequence[int]) -> dict[int, str | None]:
    found: dict[int, str | None] = {}
    for batch in _chunks(prompt_ids):
        found.update({pid: cat for pid, cat in db.execute(select(Prompt.id, Prompt.category).where(Prompt.id.in_(batch)))})
    return found


def completion_ids_by_prompt(db: Session, prompt_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each prompt's completions in import order."""
    found: dict[int, list[int]] = {}
    for batch in _chunks(prompt_ids):
        query = select(Completion.prompt_id, Completion.id).where(Completion.prompt_id.in_(batch))
        for pid, cid in db.execute(query.order_by(Completion.id)):
            found.setdefault(pid, []).append(cid)
    return found


def completion_ids_in_items(db: Session, prompt_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for batch in _chunks(prompt_ids):
        query = (
            select(ItemCompletion.completion_id)
            .join(WorkItem, WorkItem.id == ItemCompletion.item_id)
            .where(WorkItem.prompt_id.in_(batch))
        )
        found.update(db.scalars(query))
    return found


def insert_items(db: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert; the new ids come back in the order of ``rows``."""
    if not rows:
        return []
    query = insert(WorkItem).returning(WorkItem.id, sort_by_parameter_order=True)
    return list(db.scalars(query, rows))


def insert_item_completions(db: Session, rows: list[dict[str, int]]) -> None:
    if rows:
        db.execute(insert(ItemCompletion), rows)


def _chunks(values: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def prompt_writing_counts(db: Session, project_id: int) -> dict[str, int]:
    query = (
        select(WorkItem.category, func.count())
        .where(WorkItem.project_id == project_id, WorkItem.prompt_id.is_(None))
        .group_by(WorkItem.category)
    )
    return {str(cat): int(n) for cat, n in db.execute(query)}


def prompts_without_items(db: Session, project_id: int) -> list[int]:
    has_item = select(WorkItem.prompt_id).where(
        WorkItem.project_id == project_id, WorkItem.prompt_id.is_not(None)
    )
    query = select(Prompt.id).where(Prompt.project_id == project_id, Prompt.id.not_in(has_item))
    return list(db.scalars(query.order_by(Prompt.id)))


def prompts_with_completions(db: Session, project_id: int) -> list[int]:
    query = (
        select(Prompt.id)
        .where(Prompt.project_id == project_id)
        .where(select(Completion.id).where(Completion.prompt_id == Prompt.id).exists())
    )
    return list(db.scalars(query.order_by(Prompt.id)))
