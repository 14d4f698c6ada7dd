"""Queries the importers need, always within one project."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import Completion, ModelVersion, Prompt

CHUNK = 500
T = TypeVar("T")


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    it = iter(values)
    while batch := list(islice(it, size)):
        yield batch


def existing_prompt_ids(db: Session, project_id: int, external_ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in chunks(external_ids):
        query = select(Prompt.external_id).where(
            Prompt.project_id == project_id, Prompt.external_id.in_(batch)
        )
        found.update(db.scalars(query))
    return found


def prompt_ids_by_ref(db: Session, project_id: int, refs: Iterable[str]) -> dict[str, int]:
    """A prompt is named by its external id or its public id; the external id wins."""
    found: dict[str, int] = {}
    for batch in chunks(refs):
        by_public = select(Prompt.public_id, Prompt.id).where(
            Prompt.project_id == project_id, Prompt.public_id.in_(batch)
        )
        found.update({ref: pid for ref, pid in db.execute(by_public)})
        by_external = select(Prompt.external_id, Prompt.id).where(
            Prompt.project_id == project_id, Prompt.external_id.in_(batch)
        )
        found.update({ref: pid for ref, pid in db.execute(by_external)})
    return found


def existing_completion_keys(db: Session, prompt_ids: Iterable[int]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for batch in chunks(prompt_ids):
        query = select(Completion.prompt_id, Completion.external_id).where(
            Completion.prompt_id.in_(batch)
        )
        found.update((pid, ext) for pid, ext in db.execute(query))
    return found


def model_ids_by_name(db: Session, names: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunks(names):
        query = select(ModelVersion.name, ModelVersion.id).where(ModelVersion.name.in_(batch))
        found.update({name: mid for name, mid in db.execute(query)})
    return found


def insert_prompts(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(Prompt), list(rows))


def insert_completions(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(Completion), list(rows))
