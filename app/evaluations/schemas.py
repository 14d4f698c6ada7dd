"""Request and response bodies of the blind evaluation API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.inputs import ProjectRef, RequestModel
from app.projects.schemas import Sampling

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
    labelers: list[PublicId] = Field(default_factory=list, max_length=1000, description="user ids")
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
