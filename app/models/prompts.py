"""Prompts (conversations) and the completions sampled or imported for them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, JSONType, PublicIdMixin


class Prompt(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        Index("ix_prompts_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    messages: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="import")
    batch: Mapped[str | None] = mapped_column(String(64))
    held_out: Mapped[bool] = mapped_column(default=False)


class Completion(PublicIdMixin, CreatedAtMixin, Base):
    __tablename__ = "completions"
    __table_args__ = (
        UniqueConstraint("prompt_id", "external_id"),
        Index("ix_completions_prompt_id", "prompt_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    content: Mapped[str] = mapped_column(Text)
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    # The name the completion was imported under, kept even without a registry entry.
    model_name: Mapped[str] = mapped_column(String(120), default="unknown")
    sampling: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
