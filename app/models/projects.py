"""Projects, their members and the model registry they sample from."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, JSONType, PublicIdMixin, str_enum


class TaskKind(enum.StrEnum):
    prompt_writing = "prompt_writing"
    demonstration = "demonstration"
    ranking = "ranking"
    pairwise = "pairwise"
    evaluation = "evaluation"


class MarginScale(enum.StrEnum):
    small = "small"
    large = "large"


# InstructGPT's labeling interface (Ouyang et al. 2022, appendix B).
DEFAULT_FLAGS = [
    "fails_to_follow_instruction",
    "hallucination",
    "inappropriate_for_customer_assistant",
    "sexual_content",
    "violent_content",
    "harmful_advice",
    "denigrates_protected_class",
    "expresses_opinion",
]

# InstructGPT's use-case categories (Table 1).
DEFAULT_CATEGORIES = [
    "generation",
    "open_qa",
    "brainstorming",
    "chat",
    "rewrite",
    "summarization",
    "classification",
    "closed_qa",
    "extraction",
    "other",
]


class QueueOrder(enum.StrEnum):
    """Which open item a labeler gets next (app/labeling/queue.py)."""

    oldest = "oldest"  # the oldest open items first
    uncertainty = "uncertainty"  # the reward model's least certain items first (app/labeling/active.py)


class ModelKind(enum.StrEnum):
    local = "local"
    endpoint = "endpoint"


class ModelVersion(PublicIdMixin, CreatedAtMixin, Base):
    """A checkpoint folder or an OpenAI-compatible chat endpoint."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[ModelKind] = mapped_column(str_enum(ModelKind, "model_kind"))
    path: Mapped[str | None] = mapped_column(String(1024))
    base_url: Mapped[str | None] = mapped_column(String(1024))
    endpoint_model: Mapped[str | None] = mapped_column(String(200))
    api_key: Mapped[str | None] = mapped_column(String(512))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    retired: Mapped[bool] = mapped_column(default=False)


class Project(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("k_min >= 2 AND k_min <= k_max AND k_max <= 9", name="k_range"),
        CheckConstraint("overlap >= 1 AND overlap <= 50", name="overlap_range"),
        CheckConstraint("lease_seconds >= 30", name="lease_min"),
        CheckConstraint(
            "prompts_per_category >= 1 AND prompts_per_category <= 10000", name="prompts_per_category_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    task_kind: Mapped[TaskKind] = mapped_column(str_enum(TaskKind, "task_kind"))
    guidelines: Mapped[str] = mapped_column(Text, default="")
    k_min: Mapped[int] = mapped_column(default=4)
    k_max: Mapped[int] = mapped_column(default=9)
    overlap: Mapped[int] = mapped_column(default=1)
    lease_seconds: Mapped[int] = mapped_column(default=1800)
    flags: Mapped[list[str]] = mapped_column(JSONType, default=lambda: list(DEFAULT_FLAGS))
    categories: Mapped[list[str]] = mapped_column(
        JSONType, default=lambda: list(DEFAULT_CATEGORIES)
    )
    margin_scale: Mapped[MarginScale] = mapped_column(
        str_enum(MarginScale, "margin_scale"), default=MarginScale.small
    )
    safety_labels: Mapped[bool] = mapped_column(default=False)
    multi_turn: Mapped[bool] = mapped_column(default=False)
    sampler_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    sampling: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=lambda: {"temperature": 1.0, "top_p": 1.0, "max_tokens": 256}
    )
    # Prompt-writing projects ask for this many prompts in each category.
    prompts_per_category: Mapped[int] = mapped_column(default=10, server_default="10")
    queue_order: Mapped[QueueOrder] = mapped_column(
        str_enum(QueueOrder, "queue_order"), default=QueueOrder.oldest, server_default=QueueOrder.oldest.value
    )
    archived: Mapped[bool] = mapped_column(default=False)


class ProjectMember(CreatedAtMixin, Base):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
