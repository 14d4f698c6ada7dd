"""One table per judgement kind.

Every judgement records who, when, how long the labeler spent, the order the
completions were shown in, and the idempotency key of the submit that stored
it. ``UNIQUE(item_id, user_id)`` and ``UNIQUE(user_id, idempotency_key)`` make
a duplicate impossible even if application code were wrong.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.models.base import Base, CreatedAtMixin, JSONType, PublicIdMixin, str_enum


class JudgementMixin(PublicIdMixin, CreatedAtMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(default=0.0)
    shown_order: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # SHA-256 of the answer as submitted (without the key and the time spent): a retry
    # with the same key replays only if it carries the same answer. None on older rows.
    body_hash: Mapped[str | None] = mapped_column(String(64))

    @declared_attr
    def item_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))

    @declared_attr
    def user_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    @declared_attr
    def project_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            UniqueConstraint("item_id", "user_id"),
            UniqueConstraint("user_id", "idempotency_key"),
            Index(f"ix_{name}_project_created", "project_id", "created_at"),
            Index(f"ix_{name}_user_created", "user_id", "created_at"),
        )


class PromptSubmission(JudgementMixin, Base):
    """A prompt a labeler wrote; it also enters the project's prompt pool."""

    __tablename__ = "prompt_submissions"

    messages: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    category: Mapped[str | None] = mapped_column(String(64))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id", ondelete="SET NULL"))


class Demonstration(JudgementMixin, Base):
    """The full conversation; messages[prompt_turns:] were written by the labeler."""

    __tablename__ = "demonstrations"

    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    messages: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    prompt_turns: Mapped[int]
    suggestion_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )


class RankingVerdict(enum.StrEnum):
    ranked = "ranked"
    not_rankable = "not_rankable"


class Ranking(JudgementMixin, Base):
    __tablename__ = "rankings"

    verdict: Mapped[RankingVerdict] = mapped_column(str_enum(RankingVerdict, "ranking_verdict"))
    reason: Mapped[str | None] = mapped_column(Text)


class RankingEntry(Base):
    """One completion's place in a ranking: tie group 0 is best; equal groups tie."""

    __tablename__ = "ranking_entries"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 7)", name="rating_range"),
        CheckConstraint("tie_group IS NULL OR tie_group >= 0", name="tie_group_min"),
    )

    ranking_id: Mapped[int] = mapped_column(
        ForeignKey("rankings.id", ondelete="CASCADE"), primary_key=True
    )
    completion_id: Mapped[int] = mapped_column(
        ForeignKey("completions.id", ondelete="CASCADE"), primary_key=True
    )
    tie_group: Mapped[int | None]
    rating: Mapped[int | None]
    flags: Mapped[list[str]] = mapped_column(JSONType, default=list)


class Winner(enum.StrEnum):
    a = "a"
    b = "b"
    tie = "tie"
    both_bad = "both_bad"


class MarginLabel(enum.StrEnum):
    significantly_better = "significantly_better"
    better = "better"
    slightly_better = "slightly_better"
    negligibly_better = "negligibly_better"


class Safety(enum.StrEnum):
    safe = "safe"
    unsafe = "unsafe"


class PairwiseJudgement(JudgementMixin, Base):
    """A/B refer to the item's canonical positions 0 and 1, not the shown order."""

    __tablename__ = "pairwise_judgements"

    winner: Mapped[Winner] = mapped_column(str_enum(Winner, "winner"))
    margin_label: Mapped[MarginLabel | None] = mapped_column(str_enum(MarginLabel, "margin_label"))
    safety_a: Mapped[Safety | None] = mapped_column(str_enum(Safety, "safety_a"))
    safety_b: Mapped[Safety | None] = mapped_column(str_enum(Safety, "safety_b"))
    reason: Mapped[str | None] = mapped_column(Text)
