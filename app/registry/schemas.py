"""Request and response bodies of the model registry API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import RequestModel
from app.models import ModelKind, ModelVersion

Name = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")]


class LocalModelIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["local"]
    name: Name
    path: str = Field(min_length=1, max_length=1024, description="absolute folder on the worker host")


class EndpointModelIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["endpoint"]
    name: Name
    base_url: str = Field(min_length=8, max_length=1024, description="up to /v1, e.g. http://gpu:8000/v1")
    endpoint_model: str = Field(min_length=1, max_length=200)
    api_key: str | None = Field(default=None, max_length=512, description="stored, never shown again")


ModelIn = Annotated[LocalModelIn | EndpointModelIn, Field(discriminator="kind")]


class ModelTestIn(RequestModel):
    prompt: str = Field(min_length=1, max_length=4000)
    max_tokens: int = Field(64, ge=1, le=1024)


class ModelTestOut(BaseModel):
    reply: str | None = Field(default=None, description="the endpoint's answer")
    job_id: str | None = Field(default=None, description="local models answer through a job; poll it")


class ModelOut(BaseModel):
    id: str
    name: str
    kind: ModelKind
    path: str | None
    base_url: str | None
    endpoint_model: str | None
    api_key: Literal["set", "not set"]
    parent_id: str | None
    info: dict[str, Any]
    retired: bool
    created_at: datetime


def model_out(mv: ModelVersion, parents: dict[int, str]) -> ModelOut:
    return ModelOut(
        id=mv.public_id,
        name=mv.name,
        kind=mv.kind,
        path=mv.path,
        base_url=mv.base_url,
        endpoint_model=mv.endpoint_model,
        api_key="set" if mv.api_key else "not set",
        parent_id=parents.get(mv.parent_id) if mv.parent_id is not None else None,
        info=mv.info or {},
        retired=mv.retired,
        created_at=mv.created_at,
    )
