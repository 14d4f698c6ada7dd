"""Queries of the sampling jobs (they act as the system, inside a worker)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Completion, Project, Prompt


def project_by_id(db: Session, project_id: int) -> Project | None:
    return db.get(Project, project_id)


def prompt_by_id(db: Session, prompt_id: int) -> Prompt | None:
    return db.get(Prompt, prompt_id)


def prompts_to_sample(
    db: Session, project_id: int, *, prompt_public_ids: Sequence[str] | None, limit: int,
    choice: str = "unsampled", model_version_id: int | None = None,
) -> list[tuple[int, list[dict[str, str]]]]:
    """The named prompts, or the oldest ``limit`` of the chosen ones (schemas.PROMPT_CHOICES):
    with no completion yet, not yet answered by ``model_version_id``, every one, or the
    held-out ones. Held-out prompts are kept for evaluation and never sampled otherwise."""
    query = select(Prompt.id, Prompt.messages).where(Prompt.project_id == project_id)
    if prompt_public_ids:
        query = query.where(Prompt.public_id.in_(list(prompt_public_ids)))
    else:
        query = query.where(Prompt.held_out.is_(choice == "held_out"))
        if choice == "unsampled":
            query = query.where(Prompt.id.not_in(select(Completion.prompt_id)))
        elif choice == "not_by_model":
            answered = select(Completion.prompt_id).where(
                Completion.model_version_id == model_version_id)
            query = query.where(Prompt.id.not_in(answered))
        query = query.limit(limit)
    return [(pid, list(messages)) for pid, messages in db.execute(query.order_by(Prompt.id))]


def copy_prompts(db: Session, source_id: int, target_id: int, tag: str, limit: int) -> list[str]:
    """Copy up to ``limit`` prompts of project ``source_id`` (not held out, oldest first) that
    are not in ``target_id`` yet into it, as external id ``<tag>:<their external id>``;
    returns the public ids of the copies."""
    present = select(Prompt.external_id).where(Prompt.project_id == target_id)
    rows = db.scalars(
        select(Prompt).where(Prompt.project_id == source_id, Prompt.held_out.is_(False),
                             (tag + ":" + Prompt.external_id).not_in(present))
        .order_by(Prompt.id).limit(limit)
    ).all()
    copies = [Prompt(project_id=target_id, external_id=f"{tag}:{p.external_id}"[:128],
                     messages=list(p.messages), category=p.category, source="copied",
                     batch=f"from {tag}"[:64]) for p in rows]
    db.add_all(copies)
    db.flush()
    return [c.public_id for c in copies]


def has_completion_tagged(db: Session, prompt_id: int, tag: str) -> bool:
    """Whether the prompt has a completion whose external id starts with ``tag-``."""
    query = select(Completion.id).where(
        Completion.prompt_id == prompt_id,
        Completion.external_id.startswith(f"{tag}-", autoescape=True),
    )
    return db.scalar(query.limit(1)) is not None


def add_completions(db: Session, rows: Sequence[Completion]) -> None:
    """Insert in order: one flush each, so ids follow the order (items pair a
    prompt's completions in id order)."""
    for row in rows:
        db.add(row)
        db.flush()
