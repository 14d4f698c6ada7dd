"""Request and response shapes of the exports API, with a limit on every field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.inputs import DateTime, RequestModel
from app.models import ExportStatus

Kind = Literal["demonstration", "ranking", "pairwise", "evaluation", "prompt"]
MarginLabelName = Literal["significantly_better", "better", "slightly_better", "negligibly_better"]
PublicId = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[0-9a-z]+$")]
ModelName = Annotated[str, Field(min_length=1, max_length=120)]
ALL_KINDS: tuple[Kind, ...] = ("demonstration", "ranking", "pairwise", "evaluation", "prompt")
MARGIN_LABELS: tuple[MarginLabelName, ...] = (
    "significantly_better", "better", "slightly_better", "negligibly_better",
)


Format = Literal["jsonl", "parquet"]
ReviewStatus = Literal["accepted", "unreviewed", "rejected"]
AiFilter = Literal["exclude", "include", "only"]


def _jsonl_only() -> list[Format]:
    return ["jsonl"]


class _Strict(RequestModel):
    model_config = ConfigDict(extra="forbid")


class ExportFilters(_Strict):
    since: DateTime | None = Field(default=None, description="only judgements made at or after this time")
    until: DateTime | None = Field(default=None, description="only judgements made before this time")
    labelers: list[PublicId] | None = Field(
        default=None, max_length=1000, description="user ids whose judgements to include (default: all)"
    )
    kinds: list[Kind] | None = Field(default=None, max_length=5, description="judgement kinds (default: all)")
    models: list[ModelName] | None = Field(
        default=None, max_length=100,
        description="only judgements whose every completion came from one of these models",
    )
    min_agreement: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="leave out labelers whose agreement with others (untied pairs shared) is below this",
    )
    min_gold_accuracy: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="leave out labelers who answered gold items with a lower accuracy (those with no gold answer stay)",
    )
    exclude_rejected: bool = Field(default=True, description="leave out judgements a reviewer rejected")
    review_status: list[ReviewStatus] | None = Field(
        default=None, max_length=3, description="only judgements with these review states (default: all)",
    )
    include_gold: bool = Field(default=False, description="also export labelers' judgements of gold items")
    ai: AiFilter = Field(
        default="exclude",
        description="judgements of AI labelers: 'exclude' (people only, the default), 'include' (both, each "
                    "record marked), 'only' (AI only)",
    )

    @model_validator(mode="after")
    def _window(self) -> ExportFilters:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-11-01T00:00:00Z")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be earlier than until")
        return self


class ExportSplit(_Strict):
    validation_fraction: float = Field(default=0.1, ge=0.0, le=0.9)
    seed: int = Field(default=1234, ge=0, le=2**31 - 1)


class ExportCreate(_Strict):
    filters: ExportFilters = Field(default_factory=lambda: ExportFilters())
    split: ExportSplit = Field(default_factory=lambda: ExportSplit())
    aggregate: Literal["borda", "bradley_terry"] | None = Field(
        default=None, description="one ranking per item instead of one per labeler"
    )
    margin_scale: Literal["small", "large"] | None = Field(
        default=None, description="Llama 2 margin scale (default: the project's)"
    )
    margin_mapping: dict[MarginLabelName, Annotated[float, Field(ge=-100, le=100)]] | None = Field(
        default=None, description="margin per label; every label must be given"
    )
    formats: list[Format] = Field(default_factory=_jsonl_only, max_length=2)

    @model_validator(mode="after")
    def _margin(self) -> ExportCreate:
        if self.margin_scale is not None and self.margin_mapping is not None:
            raise ValueError("give margin_scale or margin_mapping, not both")
        if self.margin_mapping is not None:
            missing = [m for m in MARGIN_LABELS if m not in self.margin_mapping]
            if missing:
                raise ValueError(f"margin_mapping lacks {', '.join(missing)}")
        return self


class FileOut(BaseModel):
    records: int
    sha256: str


class ExportOut(BaseModel):
    id: str
    project: str
    status: ExportStatus
    created_at: datetime
    created_by: str | None
    request: dict[str, Any]
    counts: dict[str, Any]
    files: dict[str, FileOut]
    parquet: dict[str, FileOut]
    manifest_sha256: str | None
    error: str | None
    downloads: dict[str, str]


class ExportList(BaseModel):
    items: list[ExportOut]


class FileDiff(BaseModel):
    this: FileOut | None
    other: FileOut | None
    same: bool


class CountDiff(BaseModel):
    this: int
    other: int
    delta: int


class ExportCompare(BaseModel):
    export: str
    other: str
    counts: dict[str, CountDiff]
    files: dict[str, FileDiff]
