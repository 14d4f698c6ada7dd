"""Queries of the evaluation domain. Only staff (engineers, admins) reach it, and
they see every project and model, as in the jobs domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.models import Completion, ModelVersion, Prompt, WorkItem


def model(db: Session, public_id: str) -> ModelVersion | None:
    return db.scalar(select(ModelVersion).where(ModelVersion.public_id == public_id))


def source_prompts(
    db: Session, project_id: int, *, held_out_only: bool, limit: int | None
) -> Sequence[Prompt]:
    query = select(Prompt).where(Prompt.project_id == project_id)
    if held_out_only:
        query = query.where(Prompt.held_out.is_(True))
    return db.scalars(query.order_by(Prompt.id).limit(limit)).all()


def count_prompts(db: Session, project_id: int) -> int:
    return db.scalar(select(func.count()).where(Prompt.project_id == project_id)) or 0


def copy_prompts(db: Session, project_id: int, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(Prompt), [{**row, "project_id": project_id} for row in rows])


def prompts_to_sample(db: Session, project_id: int) -> list[tuple[int, list[dict[str, str]]]]:
    """The project's prompts that have no item yet, oldest first (a re-run resumes)."""
    with_item = select(WorkItem.prompt_id).where(WorkItem.project_id == project_id,
                                                 WorkItem.prompt_id.is_not(None))
    query = (select(Prompt.id, Prompt.messages)
             .where(Prompt.project_id == project_id, Prompt.id.not_in(with_item))
             .order_by(Prompt.id))
    return [(pid, list(messages)) for pid, messages in db.execute(query)]


def has_completions(db: Session, prompt_id: int) -> bool:
    return db.scalar(select(Completion.id).where(Completion.prompt_id == prompt_id).limit(1)) is not None
