"""Parameters of the sampling jobs. ``sample`` is started through the jobs API; the
other two are queued by the registry (test button) and labeling (suggest button)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import ProjectRef, RequestModel
from app.jobs.schemas import PublicId
from app.models import JobKind

# Which prompts a new round samples (unless prompt_ids names them):
PromptChoice = Literal["unsampled", "all", "not_by_model", "held_out"]
PROMPT_CHOICES: dict[str, str] = {
    "unsampled": "prompts with no answer yet",
    "not_by_model": "prompts this model has not answered yet",
    "all": "every prompt (not the held-out ones)",
    "held_out": "only the held-out prompts",
}


class SampleParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    project_id: ProjectRef = Field(description="a project the caller may change: its id or short name")
    model_id: PublicId | None = Field(default=None, description="default: the project's sampler")
    k: int = Field(4, ge=2, le=9, description=(
        "completions per prompt: 2 make one A/B pair; a ranking project needs k_min to k_max"))
    prompt_ids: list[PublicId] | None = Field(default=None, max_length=5000)
    prompts: PromptChoice = Field("unsampled", description=(
        "which prompts, oldest first: " + "; ".join(f"{k}: {v}" for k, v in PROMPT_CHOICES.items())))
    limit: int = Field(20, ge=1, le=5000, description="at most this many prompts")
    from_project_id: PublicId | None = Field(default=None, description=(
        "copy up to `limit` prompts (not held out, oldest first) of this other project, one the "
        "caller may read, into the project, and sample those; prompts copied before are skipped"))
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    batch_size: int = Field(8, ge=1, le=256, description="rows per generate() call (local)")
    concurrency: int = Field(4, ge=1, le=64, description="requests in flight (endpoint)")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class SampleJobIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal[JobKind.sample]
    params: SampleParams


class Message(BaseModel):
    role: str
    content: str


class ModelTestParams(BaseModel):
    model_id: str
    prompt: str
    max_tokens: int = 64


class SuggestParams(BaseModel):
    """Queued by app/labeling/suggest.py (which also keeps ``assignment_id`` here)."""

    model_id: str
    messages: list[Message]
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
