"""Queries on model versions.

Model versions are shared by the engineers and admins who manage them (the
routes check the role); nothing here is per-user.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ModelVersion


def by_public_id(db: Session, public_id: str) -> ModelVersion | None:
    return db.scalar(select(ModelVersion).where(ModelVersion.public_id == public_id))


def by_id(db: Session, model_id: int) -> ModelVersion | None:
    return db.get(ModelVersion, model_id)


def by_name(db: Session, name: str) -> ModelVersion | None:
    return db.scalar(select(ModelVersion).where(ModelVersion.name == name))


def listing(db: Session, *, include_retired: bool) -> Sequence[ModelVersion]:
    query = select(ModelVersion).order_by(ModelVersion.id.desc())
    if not include_retired:
        query = query.where(ModelVersion.retired.is_(False))
    return db.scalars(query).all()


def public_ids(db: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.execute(
        select(ModelVersion.id, ModelVersion.public_id).where(ModelVersion.id.in_(list(ids)))
    ).all()
    return {row[0]: row[1] for row in rows}
