"""Work-item queries: which prompts have items, their completions, inserting items."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.models import (
    Completion,
    ItemCompletion,
    Project,
    Prompt,
    WorkItem,
)


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
