"""Work items and the leases (assignments) that hand them to labelers.

Invariants the database itself enforces, so a bug cannot break them silently:
an item never has more taken slots (active leases + judgements) than it needs
(``taken <= required``), and a labeler holds at most one assignment per item.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, JSONType, PublicIdMixin, str_enum, utcnow


class WorkItem(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "work_items"
    __table_args__ = (
        CheckConstraint("taken >= 0 AND taken <= required", name="taken_range"),
        CheckConstraint("done >= 0 AND done <= taken", name="done_range"),
        # `next` walks this index: open items of one project in id order.
        Index("ix_work_items_queue", "project_id", "is_open", "id"),
        # The quality policy looks up a project's gold items (app/quality/queue_policy.py).
        Index("ix_work_items_gold", "project_id", "is_gold"),
        # The "uncertainty" queue order walks this index: smallest reward-model margin first.
        Index("ix_work_items_uncertainty", "project_id", "is_open", "uncertainty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), index=True
    )
    # Prompt-writing items ask for a prompt of this category.
    category: Mapped[str | None] = mapped_column(String(64))
    # 1 for a prompt's first item; each later round of its completions (re-sampling from
    # a newer model) makes items of the next round (app/labeling/items.py).
    round: Mapped[int] = mapped_column(default=1, server_default="1")
    required: Mapped[int] = mapped_column(default=1)
    taken: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    is_open: Mapped[bool] = mapped_column(default=True)
    # A gold item has a known answer (``gold``, see app/quality/gold.py); it is never
    # open in the regular queue: the quality policy mixes it in for every labeler.
    is_gold: Mapped[bool] = mapped_column(default=False)
    gold: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The margin between the two best reward-model scores of its answers (app/labeling/
    # active.py), written by the score-uncertainty job; None until scored.
    uncertainty: Mapped[float | None]


class ItemCompletion(Base):
    """The completions an item shows, in canonical order (A, B for pairwise)."""

    __tablename__ = "item_completions"
    __table_args__ = (UniqueConstraint("item_id", "completion_id"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(
        ForeignKey("completions.id", ondelete="CASCADE"), index=True
    )


class AssignmentStatus(enum.StrEnum):
    active = "active"
    submitted = "submitted"
    skipped = "skipped"
    expired = "expired"


class Assignment(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id"),
        Index("ix_assignments_user_project_status", "user_id", "project_id", "status"),
        # `next` starts its search past the newest item the labeler was given, so a
        # labeler with 50k judgements does not re-probe them all on every request.
        Index("ix_assignments_user_project_item", "user_id", "project_id", "item_id"),
        Index("ix_assignments_project_status_expires", "project_id", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[AssignmentStatus] = mapped_column(
        str_enum(AssignmentStatus, "assignment_status"), default=AssignmentStatus.active
    )
    leased_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Completion public ids in the order this labeler is shown them.
    shown_order: Mapped[list[str]] = mapped_column(JSONType, default=list)
