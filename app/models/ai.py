"""AI labelers: a model version judging a project's items as a labeler account of kind
``ai``, and what each of its judgements was made from.

An AI judgement is an ordinary judgement row (the kind's table, validated like a
person's); ``AiJudgement`` beside it keeps the provenance: the judge's model version,
the prompts sent, the raw replies, the soft preference and the method.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, JSONType, PublicIdMixin, str_enum


class RankingMethod(enum.StrEnum):
    """How an AI labeler orders K answers."""

    pairwise = "pairwise"  # every pair judged (both orders), ordered by Copeland's method
    listwise = "listwise"  # one prompt showing every answer, asking for the order


class AiLabeler(PublicIdMixin, CreatedAtMixin, Base):
    """A model version attached to a ranking or pairwise project as a judge."""

    __tablename__ = "ai_labelers"
    __table_args__ = (UniqueConstraint("user_id"), Index("ix_ai_labelers_project_id", "project_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # The labeler account of kind "ai" its judgements are stored under.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="RESTRICT"))
    template: Mapped[str] = mapped_column(Text)
    # The current principles; every version is kept in ai_constitutions.
    constitution: Mapped[list[str]] = mapped_column(JSONType, default=list)
    constitution_version: Mapped[int] = mapped_column(default=0)
    both_orders: Mapped[bool] = mapped_column(default=True)
    rationale: Mapped[bool] = mapped_column(default=False)
    ranking_method: Mapped[RankingMethod] = mapped_column(
        str_enum(RankingMethod, "ranking_method"), default=RankingMethod.pairwise
    )
    max_tokens: Mapped[int] = mapped_column(default=256)
    active: Mapped[bool] = mapped_column(default=True)


class AiConstitution(CreatedAtMixin, Base):
    """One version of an AI labeler's principles (version 0 is "none")."""

    __tablename__ = "ai_constitutions"

    ai_labeler_id: Mapped[int] = mapped_column(ForeignKey("ai_labelers.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    principles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AiJudgement(CreatedAtMixin, Base):
    """The provenance of one AI judgement (the judgement itself is in its kind's table)."""

    __tablename__ = "ai_judgements"
    __table_args__ = (
        UniqueConstraint("judgement_public_id"),
        Index("ix_ai_judgements_labeler_item", "ai_labeler_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ai_labeler_id: Mapped[int] = mapped_column(ForeignKey("ai_labelers.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    judgement_public_id: Mapped[str] = mapped_column(String(16))
    job_public_id: Mapped[str | None] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(120))
    constitution_version: Mapped[int] = mapped_column(default=0)
    method: Mapped[str] = mapped_column(String(32))
    # P(canonical answer A is better), both orders combined; None without log-probabilities.
    p_a: Mapped[float | None]
    # Every call: {"prompt": [...messages], "raw": reply, "order": [...], "p_first": x}.
    calls: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
