"""Request and response bodies of the AI-labeling API, with a limit on every field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import ProjectRef, RequestModel
from app.models import RankingMethod

PublicId = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[0-9a-z]+$")]
Principle = Annotated[str, Field(min_length=1, max_length=2000)]
TEMPLATE_MAX = 20_000
PRINCIPLES_MAX = 50


class _Strict(RequestModel):
    model_config = ConfigDict(extra="forbid")


class AiLabelerIn(_Strict):
    project_id: ProjectRef
    model_id: PublicId = Field(description="the judge: a model version of the registry")
    name: str | None = Field(default=None, min_length=1, max_length=100,
                             description="shown as the labeler's name (default: 'AI: <model>')")
    template: str | None = Field(default=None, min_length=1, max_length=TEMPLATE_MAX,
                                 description="judge prompt; placeholders {guidelines} {principles} {prompt} "
                                             "{answer_a} {answer_b} {answers} {instruction}")
    constitution: list[Principle] = Field(default_factory=list, max_length=PRINCIPLES_MAX)
    both_orders: bool = Field(default=True, description="judge every pair in both orders (cancels position bias)")
    rationale: bool = Field(default=False, description="a chain-of-thought rationale before the verdict")
    ranking_method: RankingMethod = RankingMethod.pairwise
    max_tokens: int = Field(default=256, ge=1, le=4096)


class AiLabelerUpdate(_Strict):
    template: str | None = Field(default=None, min_length=1, max_length=TEMPLATE_MAX)
    constitution: list[Principle] | None = Field(default=None, max_length=PRINCIPLES_MAX,
                                                 description="a new version of the principles")
    both_orders: bool | None = None
    rationale: bool | None = None
    ranking_method: RankingMethod | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    active: bool | None = None


class AiRunIn(_Strict):
    max_items: int = Field(default=200, ge=1, le=100_000, description="items to judge in this run")
    max_calls: int = Field(default=2_000, ge=1, le=1_000_000,
                           description="budget: model calls this run may make; items that would pass it wait")
    concurrency: int = Field(default=4, ge=1, le=64, description="endpoint requests in flight")


class AiLabelerOut(BaseModel):
    id: str
    project: str
    user_id: str = Field(description="the labeler account (kind 'ai') its judgements are stored under")
    name: str
    model: dict[str, str]
    template: str
    constitution: list[str]
    constitution_version: int
    both_orders: bool
    rationale: bool
    ranking_method: RankingMethod
    max_tokens: int
    active: bool
    judgements: int
    created_at: datetime


class AiLabelerList(BaseModel):
    items: list[AiLabelerOut]


class ConstitutionOut(BaseModel):
    version: int
    principles: list[str]
    created_at: datetime


class ProvenanceOut(BaseModel):
    judgement_id: str
    source: str = "ai"
    ai_labeler: str
    model: str
    constitution_version: int
    method: str
    p_a: float | None = Field(description="P(canonical answer A is better), both orders combined")
    calls: list[dict[str, Any]] = Field(description="every prompt sent, the raw reply and what it was read as")
    job: str | None
    created_at: datetime


class EstimateOut(BaseModel):
    value: float | None
    low: float | None
    high: float | None
    n: int


class HumanAgreementOut(BaseModel):
    id: str
    name: str
    agreement: EstimateOut = Field(description="AI vs this labeler, untied pairs both judged")


class AgreementOut(BaseModel):
    ai_labeler: str
    name: str
    items: int = Field(description="items the AI and at least one person judged")
    with_majority: EstimateOut = Field(description="AI vs the majority of the people on each pair")
    humans_with_majority: EstimateOut = Field(
        description="each person vs the majority of the other people, on the same items: the bar to compare with")
    with_humans: list[HumanAgreementOut]
