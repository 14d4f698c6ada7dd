"""Request and response bodies of the labeling endpoints.

Limits here stop oversized or malformed bodies early; what depends on the item or the
project (which completion ids, which flags, the text limit in settings) is checked in
validation.py against the task, with a message per problem.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.inputs import RequestModel
from app.models import MarginLabel, Safety, TaskKind

CompletionId = Annotated[str, StringConstraints(max_length=32)]
FlagName = Annotated[str, StringConstraints(max_length=64)]
TieGroup = Annotated[list[CompletionId], Field(max_length=9)]
Rating = Annotated[int, Field(ge=1, le=7)]
TEXT_MAX = 200_000  # hard cap before settings.max_text_chars gives the precise message
SLUG_MAX = 64


class MessageIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(max_length=16)
    content: str = Field(max_length=TEXT_MAX)


class SubmitIn(RequestModel):
    """One body for every task kind; validation.py says which fields a task takes."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    seconds: float = Field(0.0, ge=0, le=7 * 24 * 3600)
    # prompt writing
    messages: list[MessageIn] | None = Field(None, max_length=64)
    category: str | None = Field(None, max_length=SLUG_MAX)
    # demonstration
    turns: list[MessageIn] | None = Field(None, max_length=64)
    # ranking, pairwise, evaluation
    verdict: Literal["ranked", "not_rankable", "preferred", "both_bad"] | None = None
    ranking: list[TieGroup] | None = Field(None, max_length=9)
    ratings: dict[CompletionId, Rating] | None = Field(None, max_length=9)
    flags: dict[CompletionId, Annotated[list[FlagName], Field(max_length=32)]] | None = Field(
        None, max_length=9
    )
    preferred: CompletionId | None = None
    margin_label: MarginLabel | None = None
    safety: dict[CompletionId, Safety] | None = Field(None, max_length=2)
    reason: str | None = Field(None, max_length=4000)


class ProjectBrief(BaseModel):
    id: str
    name: str
    guidelines: str
    flags: list[str]
    categories: list[str]
    margin_scale: str
    safety_labels: bool
    multi_turn: bool
    lease_seconds: int


class MessageOut(BaseModel):
    role: str
    content: str


class PromptOut(BaseModel):
    id: str
    messages: list[MessageOut]
    category: str | None


class CompletionOut(BaseModel):
    id: str
    content: str


class LabelerProgress(BaseModel):
    done_today: int
    done_total: int
    remaining: int


class TaskOut(BaseModel):
    assignment_id: str
    item_id: str
    task_kind: TaskKind
    project: ProjectBrief
    expires_at: datetime
    category: str | None
    prompt: PromptOut | None
    completions: list[CompletionOut]
    progress: LabelerProgress


class SubmitOut(BaseModel):
    judgement_id: str
    kind: TaskKind
    created_at: datetime
    next_available: bool
    # Only with ?next=true (left out of the answer otherwise): the labeler's next task,
    # leased in the same transaction as the judgement, or null when nothing is left.
    next: TaskOut | None = None


class MyProjectOut(BaseModel):
    id: str
    name: str
    task_kind: TaskKind
    done_today: int
    done_total: int
    remaining: int


class ItemCounts(BaseModel):
    total: int
    done: int
    in_progress: int
    remaining: int


class LabelerStats(BaseModel):
    labeler: str
    id: str
    total: int
    today: int
    median_seconds: float | None


class DayCount(BaseModel):
    date: str
    labeler: str
    count: int


class ProgressOut(BaseModel):
    items: ItemCounts | None = Field(description="project-wide counts; null for labelers")
    judgements: int
    per_labeler: list[LabelerStats]
    per_day: list[DayCount]
    median_seconds: float | None


class JudgementSummary(BaseModel):
    id: str
    kind: TaskKind
    labeler: str
    created_at: datetime
    seconds: float
    summary: str


class JudgementPage(BaseModel):
    items: list[JudgementSummary]
    next_cursor: str | None


class ShownCompletion(BaseModel):
    id: str
    content: str
    model: str | None = Field(description="the model that wrote it; shown to admins only")


class JudgementOut(BaseModel):
    id: str
    kind: TaskKind
    project: dict[str, str]
    labeler: dict[str, str]
    item_id: str
    created_at: datetime
    seconds: float
    shown_order: list[str]
    prompt: PromptOut | None
    completions: list[ShownCompletion]
    answer: dict[str, Any] = Field(description="what the labeler submitted, by task kind")
