"""Project create / update / read bodies, with a limit on every field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.inputs import Matching, RequestModel
from app.models import (
    DEFAULT_CATEGORIES,
    DEFAULT_FLAGS,
    MarginScale,
    Project,
    QueueOrder,
    TaskKind,
    User,
)

Slug = Annotated[str, Matching(
    r"^[a-z0-9][a-z0-9_]{0,39}$",
    "may use a–z, 0–9 and underscores (not first), at most 40 characters",
    max_length=40,
)]
ProjectSlug = Annotated[str, Matching(
    r"^[a-z0-9][a-z0-9-]{0,63}$",
    "may use a–z, 0–9 and dashes (not first), at most 64 characters",
    max_length=64,
)]
PublicId = Annotated[str, StringConstraints(min_length=1, max_length=32)]

SLUG_HELP = "lower-case letters, digits and underscores, at most 40 characters"
MAX_SLUG_LIST = 32
MAX_GUIDELINES = 50_000


class Sampling(RequestModel):
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(256, ge=1, le=32_768)


def _unique(values: list[str] | None, what: str) -> None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat a name")


class ProjectCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    slug: ProjectSlug | None = Field(None, description="URL name; made from the name when left out")
    task_kind: TaskKind
    guidelines: str = Field("", max_length=MAX_GUIDELINES, description="Markdown")
    k_min: int = Field(4, ge=4, le=9)
    k_max: int = Field(9, ge=4, le=9)
    overlap: int = Field(1, ge=1, le=50)
    lease_seconds: int = Field(1800, ge=30, le=7 * 24 * 3600)
    flags: list[Slug] = Field(default_factory=lambda: list(DEFAULT_FLAGS), max_length=MAX_SLUG_LIST, description=SLUG_HELP)
    categories: list[Slug] = Field(
        default_factory=lambda: list(DEFAULT_CATEGORIES), max_length=MAX_SLUG_LIST, description=SLUG_HELP
    )
    margin_scale: MarginScale = MarginScale.small
    safety_labels: bool = False
    multi_turn: bool = False
    sampler_model_id: PublicId | None = None
    sampling: Sampling = Field(default_factory=lambda: Sampling.model_validate({}))
    prompts_per_category: int = Field(10, ge=1, le=10_000)
    queue_order: QueueOrder = Field(QueueOrder.oldest, description="which open item a labeler gets next")

    @model_validator(mode="after")
    def _check(self) -> ProjectCreate:
        if self.k_min > self.k_max:
            raise ValueError("k_min must not be larger than k_max")
        _unique(self.flags, "flags")
        _unique(self.categories, "categories")
        return self


class ProjectUpdate(RequestModel):
    """Every field optional; the task kind of an existing project cannot change."""

    name: str | None = Field(None, min_length=1, max_length=200)
    guidelines: str | None = Field(None, max_length=MAX_GUIDELINES)
    k_min: int | None = Field(None, ge=4, le=9)
    k_max: int | None = Field(None, ge=4, le=9)
    overlap: int | None = Field(None, ge=1, le=50)
    lease_seconds: int | None = Field(None, ge=30, le=7 * 24 * 3600)
    flags: list[Slug] | None = Field(None, max_length=MAX_SLUG_LIST)
    categories: list[Slug] | None = Field(None, max_length=MAX_SLUG_LIST)
    margin_scale: MarginScale | None = None
    safety_labels: bool | None = None
    multi_turn: bool | None = None
    sampler_model_id: PublicId | None = None
    sampling: Sampling | None = None
    prompts_per_category: int | None = Field(None, ge=1, le=10_000)
    queue_order: QueueOrder | None = None
    archived: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> ProjectUpdate:
        _unique(self.flags, "flags")
        _unique(self.categories, "categories")
        return self


class ProjectOut(BaseModel):
    id: str
    slug: str
    name: str
    task_kind: TaskKind
    guidelines: str
    k_min: int
    k_max: int
    overlap: int
    lease_seconds: int
    flags: list[str]
    categories: list[str]
    margin_scale: MarginScale
    safety_labels: bool
    multi_turn: bool
    sampler_model_id: str | None
    sampling: dict[str, Any]
    prompts_per_category: int
    queue_order: QueueOrder
    archived: bool
    created_at: datetime

    @classmethod
    def of(cls, project: Project, sampler_public_id: str | None) -> ProjectOut:
        return cls(
            id=project.public_id,
            slug=project.slug,
            name=project.name,
            task_kind=project.task_kind,
            guidelines=project.guidelines,
            k_min=project.k_min,
            k_max=project.k_max,
            overlap=project.overlap,
            lease_seconds=project.lease_seconds,
            flags=project.flags,
            categories=project.categories,
            margin_scale=project.margin_scale,
            safety_labels=project.safety_labels,
            multi_turn=project.multi_turn,
            sampler_model_id=sampler_public_id,
            sampling=project.sampling,
            prompts_per_category=project.prompts_per_category,
            queue_order=project.queue_order,
            archived=project.archived,
            created_at=project.created_at,
        )


class MembersIn(RequestModel):
    user_ids: list[PublicId] = Field(max_length=10_000)


class MemberOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: str

    @classmethod
    def of(cls, user: User) -> MemberOut:
        return cls(id=user.public_id, email=user.email, display_name=user.display_name, role=user.role.value)
