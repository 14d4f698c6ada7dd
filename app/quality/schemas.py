"""Bodies of the quality API, with a limit on every field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.inputs import RequestModel
from app.models import ReviewVerdict, Standing, TaskKind
from app.quality.stats import Estimate

REASON_MAX = 2000


class EstimateOut(BaseModel):
    value: float | None = Field(description="the figure; null when nothing was measured")
    low: float | None = Field(description="95 % interval, lower end")
    high: float | None = Field(description="95 % interval, upper end")
    n: int = Field(description="units it is made of (items, judgements, pairable values)")

    @classmethod
    def of(cls, e: Estimate) -> EstimateOut:
        return cls(value=e.value, low=e.low, high=e.high, n=e.n)


class LabelerOut(BaseModel):
    id: str
    name: str
    standing: Standing
    judgements: int
    agreement: EstimateOut = Field(description="with the other labelers, over the untied pairs shared")
    loo: EstimateOut = Field(description="with the consensus of the other labelers")
    tau: EstimateOut = Field(description="mean Kendall tau-b with the other labelers (rankings)")
    margin: EstimateOut = Field(description="same side and margin label (pairwise)")
    gold: EstimateOut = Field(description="gold items answered correctly (Wilson interval)")
    position: EstimateOut = Field(description="untied pairs won by the answer shown first (50 % expected)")
    length: EstimateOut = Field(description="untied pairs won by the longer answer")
    length_base: float | None = Field(description="the other labelers' rate for the longer answer")
    seconds: EstimateOut = Field(description="median seconds per judgement")
    seconds_ratio: EstimateOut = Field(description="median seconds over the other labelers' median")
    fast: EstimateOut = Field(description="judgements quicker than reading the task takes")
    unusable: EstimateOut = Field(description="not rankable / both bad")
    skips: EstimateOut = Field(description="tasks skipped, of those skipped or judged (Wilson)")
    flags: list[str]


class PairOut(BaseModel):
    a: str
    b: str
    agreement: EstimateOut


class DayOut(BaseModel):
    date: str
    agreement: EstimateOut


class DisputedOut(BaseModel):
    item_id: str
    prompt: str | None
    labelers: int
    agreed: int
    compared: int
    dispute: float


class SettingsOut(BaseModel):
    gold_rate: float
    require_screening: bool
    screening_pass: float
    gold_min_accuracy: float
    gold_min_answers: int
    pause_on_gold_failure: bool
    correction_minutes: int


class SettingsIn(RequestModel):
    gold_rate: float | None = Field(None, ge=0.0, le=0.5, description="share of tasks that are gold items")
    require_screening: bool | None = None
    screening_pass: float | None = Field(None, ge=0.0, le=1.0, description="share of screening items to get right")
    gold_min_accuracy: float | None = Field(None, ge=0.0, le=1.0)
    gold_min_answers: int | None = Field(None, ge=1, le=1000, description="gold answers before a labeler is judged")
    pause_on_gold_failure: bool | None = None
    correction_minutes: int | None = Field(None, ge=0, le=10080, description="0: judgements cannot be corrected")


class ProjectFiguresOut(BaseModel):
    judgements: int
    agreement: EstimateOut
    tau: EstimateOut
    margin: EstimateOut
    alpha: EstimateOut = Field(description="Krippendorff's alpha, ordinal")
    position: EstimateOut
    length: EstimateOut
    seconds: EstimateOut
    fast: EstimateOut
    unusable: EstimateOut


class QualityOut(BaseModel):
    project: dict[str, str]
    task_kind: TaskKind
    counted_up_to: datetime | None = Field(description="when the figures were last brought up to date")
    pending: int = Field(description="judgements not yet counted (a bigger refresh counts them)")
    figures: ProjectFiguresOut
    labelers: list[LabelerOut]
    pairs: list[PairOut]
    days: list[DayOut]
    disputed: list[DisputedOut]
    settings: SettingsOut
    gold_items: int
    screening_items: int


class MyQualityOut(BaseModel):
    project: dict[str, str]
    labeler: LabelerOut
    team: ProjectFiguresOut


class GoldMistakeOut(BaseModel):
    item_id: str
    screening: bool
    prompt: str | None
    gold: dict[str, Any]
    answer: dict[str, Any]


class LabelerDetailOut(BaseModel):
    labeler: LabelerOut
    screening_correct: int
    screening_answered: int
    reason: str | None
    gold_answers: int
    mistakes: list[GoldMistakeOut]


class StandingIn(RequestModel):
    standing: Standing
    reason: str | None = Field(None, max_length=REASON_MAX)


class StandingOut(BaseModel):
    labeler: str
    standing: Standing
    reason: str | None


class RefreshOut(BaseModel):
    counted: int
    pending: int


class GoldIn(RequestModel):
    gold: dict[str, Any] = Field(description='e.g. {"ranking": [["c1"], ["c2", "c3"]]} or {"preferred": "c1"}')
    screening: bool = False
    note: str | None = Field(None, max_length=REASON_MAX)


class GoldItemOut(BaseModel):
    item_id: str
    screening: bool
    note: str | None
    gold: dict[str, Any]
    answers: int
    correct: int


class ReviewIn(RequestModel):
    verdict: ReviewVerdict
    reason: str | None = Field(None, max_length=REASON_MAX)


class ReviewOut(BaseModel):
    judgement_id: str
    verdict: ReviewVerdict
    reason: str | None
    reviewer: str | None
    updated_at: datetime


class ReviewJudgementOut(BaseModel):
    id: str
    labeler: dict[str, str]
    created_at: datetime
    seconds: float
    answer: dict[str, Any] = Field(description="what the labeler answered, by completion letter")
    disagreements: int = Field(description="untied pairs where this labeler differs from the majority")
    compared: int
    gold_correct: bool | None
    review: ReviewOut | None
    revisions: int


class ReviewItemOut(BaseModel):
    item_id: str
    project: dict[str, str]
    task_kind: TaskKind
    prompt: list[dict[str, str]] | None
    completions: list[dict[str, str]] = Field(description="canonical order: letter, id, content, model")
    gold: dict[str, Any] | None
    consensus: list[list[str]] = Field(description="letters best first by pairwise majority (Copeland), ties grouped")
    judgements: list[ReviewJudgementOut]


class ReviewQueueOut(BaseModel):
    items: list[DisputedOut]


class HistoryItemOut(BaseModel):
    id: str
    project: dict[str, str]
    item_id: str
    created_at: datetime
    task_kind: TaskKind
    summary: str
    shown: list[str] = Field(description="the completion ids in the order you saw them (A first)")
    review: ReviewOut | None
    correctable_until: datetime | None
    revisions: int


class HistoryOut(BaseModel):
    items: list[HistoryItemOut]
    next_cursor: str | None


class RevisionOut(BaseModel):
    revision: int
    answer: dict[str, Any]
    replaced_at: datetime


class CorrectionOut(BaseModel):
    judgement_id: str
    revision: int
    answer: dict[str, Any]
