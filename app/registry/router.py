"""The model registry API (engineers and admins)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.deps import EngineerUser, SessionDep, SettingsDep
from app.errors import Forbidden
from app.inputs import PathId
from app.jobs import service as jobs
from app.models import JobKind, ModelKind, Role
from app.openapi import errors
from app.registry import service
from app.registry.safety import EndpointPolicy
from app.registry.schemas import (
    EndpointModelIn,
    ModelIn,
    ModelOut,
    ModelTestIn,
    ModelTestOut,
    model_out,
)

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.get("")
def list_models(
    db: SessionDep, _user: EngineerUser, include_retired: bool = Query(False)
) -> list[ModelOut]:
    """Registered model versions, newest first."""
    versions = service.listing(db, include_retired=include_retired)
    parents = service.parents(db, versions)
    return [model_out(v, parents) for v in versions]


@router.post("", status_code=201, responses=errors(409))
def register_model(body: ModelIn, db: SessionDep, user: EngineerUser, settings: SettingsDep) -> ModelOut:
    """Register a local Hugging Face folder (inside the models folder) or, admins only, an
    OpenAI-compatible endpoint (public addresses unless the operator allows others)."""
    if isinstance(body, EndpointModelIn):
        if user.role != Role.admin:
            # The server sends prompts and the stored key wherever the URL points.
            raise Forbidden("Only admins register endpoints.")
        mv = service.register_endpoint(db, user, name=body.name, base_url=body.base_url,
                                       endpoint_model=body.endpoint_model, api_key=body.api_key,
                                       policy=EndpointPolicy.of(settings))
    else:
        mv = service.register_local(db, user, name=body.name, path=body.path, roots=settings.model_roots)
    return model_out(mv, service.parents(db, [mv]))


@router.get("/{mid}")
def get_model(mid: PathId, db: SessionDep, _user: EngineerUser) -> ModelOut:
    """One model version, with its rankwise.json when it has one."""
    mv = service.get(db, mid)
    return model_out(mv, service.parents(db, [mv]))


@router.post("/{mid}/retire")
def retire_model(mid: PathId, db: SessionDep, user: EngineerUser) -> ModelOut:
    """Hide a version from pickers; completions made by it keep their link."""
    mv = service.retire(db, user, service.get(db, mid))
    return model_out(mv, service.parents(db, [mv]))


@router.post("/{mid}/test", responses=errors(502))
def test_model(
    mid: PathId, body: ModelTestIn, db: SessionDep, user: EngineerUser, settings: SettingsDep
) -> ModelTestOut:
    """Generate one reply: at once from an endpoint, through a job for a local folder."""
    mv = service.get(db, mid)
    if mv.kind == ModelKind.endpoint:
        reply = service.test_endpoint(db, mv, body.prompt, body.max_tokens, EndpointPolicy.of(settings))
        return ModelTestOut(reply=reply)
    job = jobs.enqueue(db, JobKind.model_test, {"model_id": mv.public_id, "prompt": body.prompt,
                                          "max_tokens": body.max_tokens}, actor=user)
    return ModelTestOut(job_id=job.public_id)
