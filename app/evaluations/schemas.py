"""Request and response bodies of the blind evaluation API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.evaluations.results import Outcome, Pair, Sweep
from app.inputs import ProjectRef, RequestModel
from app.projects.schemas import Sampling
from app.quality.schemas import EstimateOut

PublicId = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class PromptSource(RequestModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectRef = Field(description="the project whose prompts are evaluated: its id or short name")
    all: bool = Field(False, description="every prompt of the project, not only its held-out ones")


class EvaluationIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        None, min_length=1, max_length=200,
        description="the new project's name; labelers see it, so it should not name the models",
    )
    model_a: PublicId
    model_b: PublicId
    prompts: PromptSource
    max_prompts: int | None = Field(None, ge=1, le=5000, description="the first N prompts, oldest first")
    sampling: Sampling = Field(default_factory=lambda: Sampling.model_validate({}))
    overlap: int = Field(1, ge=1, le=50, description="labelers per item")
    labelers: list[PublicId] = Field(
        default_factory=list, max_length=1000,
        description="ids of active labelers to assign, besides the source project's labelers",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="fixes which model is shown first per item")
    concurrency: int = Field(4, ge=1, le=64, description="requests in flight (endpoint models)")

    @model_validator(mode="after")
    def _different(self) -> EvaluationIn:
        if self.model_a == self.model_b:
            raise ValueError("model_a and model_b are the same model version; choose two different ones")
        return self


class EvaluationOut(BaseModel):
    project_id: str
    project_slug: str
    name: str
    job_id: str
    prompts: int
    model_a: str = Field(description="model version id")
    model_b: str = Field(description="model version id")


# ----------------------------------------------------------------------- listing


class LabelerOut(BaseModel):
    """A labeler an evaluation may be assigned to."""

    id: str
    name: str


class SamplingJobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    done: int = Field(description="prompts sampled so far")
    total: int | None = Field(description="prompts to sample; null before the job started")


class VerdictOut(BaseModel):
    kind: Outcome
    text: str = Field(description="the result in one sentence")
    winner: str | None = Field(description="the top-rated model")
    runner_up: str | None
    win_rate: EstimateOut = Field(description="the winner's win rate over the runner-up, when compared directly")


class EvaluationSummaryOut(BaseModel):
    """One evaluation project in the list."""

    project_id: str
    project_slug: str
    name: str
    created_at: datetime
    archived: bool
    models: list[str] = Field(description="the model versions compared (names), reference first")
    items: int = Field(description="items to judge (one per prompt)")
    judgements: int
    job: SamplingJobOut | None = Field(description="the job sampling the replies")
    verdict: VerdictOut | None = Field(description="who won, from the win rate, when exactly two models were "
                                                   "compared; null otherwise (see the results)")


# ----------------------------------------------------------------------- results


class PairOut(BaseModel):
    """Two models' head-to-head record; ``win_rate`` is ``model_a``'s over ``model_b``."""

    model_a: str
    model_b: str
    comparisons: int
    a_wins: int
    b_wins: int
    ties: int
    both_bad: int = Field(description="verdicts calling both replies bad; counted as ties")
    win_rate: EstimateOut = Field(description="(a_wins + (ties + both_bad) / 2) / comparisons, "
                                              "95 % Wilson interval")

    @classmethod
    def of(cls, p: Pair) -> PairOut:
        return cls(model_a=p.model_a, model_b=p.model_b, comparisons=p.comparisons, a_wins=p.a_wins,
                   b_wins=p.b_wins, ties=p.ties, both_bad=p.both_bad, win_rate=EstimateOut.of(p.win_rate))


class RatingOut(BaseModel):
    model: str = Field(description="model version name")
    model_id: str | None = Field(description="its registry id; null for imported completions")
    rank: int
    rating: float = Field(description="Bradley–Terry rating, 400 points per factor 10 in the odds")
    low: float = Field(description="95 % bootstrap interval, lower end")
    high: float = Field(description="95 % bootstrap interval, upper end")
    comparisons: int
    sweep: Sweep | None = Field(description="won_all or lost_all when the model won (lost) every comparison: "
                                            "its rating rests on the prior (one virtual tie per pair) and its "
                                            "interval says nothing; null otherwise")


class LeaderboardOut(BaseModel):
    reference: str | None = Field(description="the model fixed at 1000; intervals are relative to it")
    ratings: list[RatingOut] = Field(description="best first")
    others: list[LeaderboardOut] = Field(description="groups of models with no chain of comparisons to "
                                                     "this board's, each fixed at its own first model")


class ResultsOut(BaseModel):
    """Who won: the leaderboard, the head-to-head table and the position bias."""

    projects: list[str] = Field(description="ids of the evaluation projects counted")
    comparisons: int = Field(description="human verdicts counted (rejected judgements, gold items and AI "
                                         "judges' verdicts excluded)")
    leaderboard: LeaderboardOut
    pairs: list[PairOut]
    position_bias: EstimateOut = Field(description="share of the verdicts preferring a side that the "
                                                   "reply shown first won; 50 % expected")
    verdict: VerdictOut
    method: str = Field(description="how the figures are computed")
