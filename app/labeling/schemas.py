"""Response bodies of the labeling endpoints.

The submit bodies are the task kinds' own schemas (app/labeling/kinds/): their limits
stop oversized or malformed bodies early; what depends on the item or the project
(which completion ids, which flags, the text limit in settings) is checked by the kind
against the task, with a message per problem.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from app.labeling.kinds import ANSWERS, AnswerOut
from app.models import TaskKind


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
    hold_until: datetime = Field(description="renewing (POST /assignments/{aid}/renew) keeps the task until then at most")
    category: str | None
    prompt: PromptOut | None
    completions: list[CompletionOut]
    progress: LabelerProgress


class RenewOut(BaseModel):
    expires_at: datetime = Field(description="the task is yours until then")
    hold_until: datetime = Field(description="renewals cannot keep it past this time")


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
    round: int = Field(description="the item's round: 1, then one more per re-sampling of its prompt")
    summary: str


class JudgementPage(BaseModel):
    items: list[JudgementSummary]
    next_cursor: str | None


class ShownCompletion(BaseModel):
    id: str
    content: str
    model: str | None = Field(description="the model that wrote it; shown to admins only")


# Typed by kind in the OpenAPI document (one of the kinds' answer models).
KindAnswer = Annotated[AnswerOut, PlainSerializer(lambda answer: answer, return_type=ANSWERS)]


class JudgementOut(BaseModel):
    id: str
    kind: TaskKind
    project: dict[str, str]
    labeler: dict[str, str]
    item_id: str
    round: int
    created_at: datetime
    seconds: float
    shown_order: list[str]
    prompt: PromptOut | None
    completions: list[ShownCompletion]
    answer: KindAnswer = Field(description="what the labeler submitted, by task kind")
