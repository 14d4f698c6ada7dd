"""Quality control: per-project settings, each labeler's standing, reviews, corrections,
and the incremental statistics the quality page reads.

The statistics are kept as *bins*: for every figure (agreement, bias, speed, gold…) the
number of items (or judgements) that contributed the same ``(a, c)`` pair — ``a``
successes out of ``c`` trials, e.g. 5 agreeing pairs out of 6 compared. A figure is
``Σ a·n / Σ c·n`` and its interval a bootstrap over the contributing units, so a project
with a million judgements is summarised by a few thousand rows (app/quality/stats.py).
``quality_items`` remembers which judgements each item's contribution was computed from,
so re-computing an item (a new judgement, a correction, a rejection) replaces exactly
its old contribution.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, JSONType, str_enum, utcnow


class Standing(enum.StrEnum):
    """Whether a labeler gets work in a project."""

    active = "active"
    screening = "screening"  # gets the screening items first, real work after passing
    failed_screening = "failed_screening"
    paused = "paused"


class ReviewVerdict(enum.StrEnum):
    accepted = "accepted"
    rejected = "rejected"


class Metric(enum.StrEnum):
    """What a bin counts (app/quality/stats.py says how each is computed)."""

    agree = "agree"  # untied pairs a labeler shares with others: agreed / compared
    agree_day = "agree_day"  # the same, project-wide, by the day of the judgement
    pair = "pair"  # between two labelers (user_id < other_id)
    loo = "loo"  # with the consensus of the other labelers (leave one out)
    tau = "tau"  # Kendall's tau-b with each other labeler, in thousandths
    margin = "margin"  # pairwise: same preferred side and margin bucket
    position = "position"  # untied pairs won by the answer shown first
    length = "length"  # untied pairs (of unequal length) won by the longer answer
    gold = "gold"  # gold items answered correctly
    fast = "fast"  # judgements quicker than the time needed to read them
    unusable = "unusable"  # not rankable / both bad
    seconds = "seconds"  # time per judgement, as a log-scale bucket index in ``a``
    coincidence = "coincidence"  # Krippendorff's coincidences: values a, c; m coders; group


class QualitySettings(Base):
    __tablename__ = "quality_settings"
    __table_args__ = (
        CheckConstraint("gold_rate >= 0 AND gold_rate <= 0.5", name="gold_rate_range"),
        CheckConstraint("screening_pass >= 0 AND screening_pass <= 1", name="screening_pass_range"),
        CheckConstraint("gold_min_accuracy >= 0 AND gold_min_accuracy <= 1", name="gold_min_accuracy_range"),
        CheckConstraint("gold_min_answers >= 1 AND gold_min_answers <= 1000", name="gold_min_answers_range"),
        CheckConstraint("correction_minutes >= 0 AND correction_minutes <= 10080", name="correction_minutes_range"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    # Share of the tasks handed out that are gold items (while unseen ones remain).
    gold_rate: Mapped[float] = mapped_column(default=0.0)
    require_screening: Mapped[bool] = mapped_column(default=False)
    screening_pass: Mapped[float] = mapped_column(default=0.8)
    gold_min_accuracy: Mapped[float] = mapped_column(default=0.7)
    gold_min_answers: Mapped[int] = mapped_column(default=5)
    pause_on_gold_failure: Mapped[bool] = mapped_column(default=False)
    # How long after submitting a labeler may still correct a judgement (0: never).
    correction_minutes: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelerQuality(CreatedAtMixin, Base):
    """A labeler's standing in one project, and the evidence behind it."""

    __tablename__ = "labeler_quality"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    standing: Mapped[Standing] = mapped_column(str_enum(Standing, "standing"), default=Standing.active)
    screening_correct: Mapped[int] = mapped_column(default=0)
    screening_answered: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JudgementReview(CreatedAtMixin, Base):
    """A reviewer's verdict on one judgement (the latest; earlier ones are in the audit log).

    ``judgement_id`` is the row id in the project's judgement table (one table per task
    kind, so it is unique within a project)."""

    __tablename__ = "judgement_reviews"
    __table_args__ = (
        UniqueConstraint("project_id", "judgement_id"),
        Index("ix_judgement_reviews_item_id", "item_id"),
        Index("ix_judgement_reviews_labeler_updated", "labeler_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    judgement_id: Mapped[int]
    labeler_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verdict: Mapped[ReviewVerdict] = mapped_column(str_enum(ReviewVerdict, "review_verdict"))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JudgementRevision(Base):
    """An earlier version of a judgement its labeler corrected (the row itself holds the
    latest, which is what exports read)."""

    __tablename__ = "judgement_revisions"
    __table_args__ = (UniqueConstraint("project_id", "judgement_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    judgement_id: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    revision: Mapped[int]
    answer: Mapped[dict[str, Any]] = mapped_column(JSONType)
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityState(Base):
    """How far the statistics of a project have read its judgements.

    Every judgement made before ``counted_before`` is counted; ``recent`` lists the ids of
    those made since that are counted already. The mark trails the clock by
    app/quality/service.py's ``SETTLE``: a judgement's time is taken when its submit
    starts, and it may commit a little later."""

    __tablename__ = "quality_state"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    counted_before: Mapped[datetime | None]
    recent: Mapped[list[int]] = mapped_column(JSONType, default=list)
    refreshed_at: Mapped[datetime | None]
    # A new random number whenever the bins change (random, not counted, so a database
    # rebuilt or restored never reuses one): figures computed from the bins can be
    # reused until it moves (app/quality/service.py, ``figures_of``).
    version: Mapped[int] = mapped_column(default=0)


class QualityItem(Base):
    """One item's agreement, and the judgements its contribution to the bins came from."""

    __tablename__ = "quality_items"
    __table_args__ = (Index("ix_quality_items_project_dispute", "project_id", "dispute", "item_id"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    judgements: Mapped[list[int]] = mapped_column(JSONType, default=list)
    labelers: Mapped[int] = mapped_column(default=0)
    agreed: Mapped[int] = mapped_column(default=0)
    compared: Mapped[int] = mapped_column(default=0)
    # 1 − agreement over the item's shared untied pairs; 0 when nothing was compared.
    dispute: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityBin(Base):
    """``n`` units contributed ``(a, c)`` to ``metric`` for ``user_id`` (0: the project)."""

    __tablename__ = "quality_bins"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[Metric] = mapped_column(str_enum(Metric, "metric"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    other_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    a: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    c: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)

