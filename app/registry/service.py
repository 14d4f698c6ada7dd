"""The model registry: local Hugging Face folders and OpenAI-compatible endpoints.

A local folder made by the trainer carries ``rankwise.json`` (kind, base model,
parent, data export checksum, config, metrics); it is read as plain JSON, so
registering never imports torch. An endpoint's API key is stored for the worker
to use and is never returned, logged or rendered: readers see only whether one
is set. Model versions are retired, never deleted, because completions and
evaluations keep pointing at them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app import audit
from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.models import ModelKind, ModelVersion, User
from app.registry import repository
from app.registry.endpoint import ChatParams, EndpointClient, EndpointError
from app.registry.safety import EndpointPolicy, UnsafeEndpoint, check_address

MANIFEST_NAME = "rankwise.json"
MAX_MANIFEST_BYTES = 1_000_000


class EndpointUnavailable(DomainError):
    status_code = 502
    code = "endpoint_unavailable"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise InvalidInput(f"{path} is larger than 1 MB; is it really a rankwise.json?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object.")
    return data


def _inside(folder: Path, roots: Sequence[Path]) -> Path:
    """The folder, resolved, when it is inside one of the roots; otherwise a refusal that
    says nothing about what exists on the server's disk."""
    where = " or ".join(str(r) for r in roots)
    refusal = InvalidInput(
        f"Model folders must be inside {where} (RANKWISE_MODELS_DIR); move or link the model there."
    )
    try:
        resolved = folder.resolve()
    except (OSError, RuntimeError):
        raise refusal from None
    if not any(resolved.is_relative_to(root) for root in roots):
        raise refusal
    return resolved


def _check_folder(path: str, roots: Sequence[Path] | None) -> Path:
    folder = Path(path)
    if not folder.is_absolute():
        raise InvalidInput("Give the model folder as an absolute path on the worker's host.")
    if roots is not None:
        folder = _inside(folder, roots)
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder the server can read.")
    if not (folder / "config.json").is_file():
        raise InvalidInput(
            f"{folder} has no config.json; point at a Hugging Face model folder "
            "(save_pretrained output)."
        )
    return folder.resolve()


def _unique_name(db: Session, name: str) -> None:
    if repository.by_name(db, name) is not None:
        raise Conflict(f"A model version named {name!r} already exists; choose another name.")


def get(db: Session, public_id: str) -> ModelVersion:
    mv = repository.by_public_id(db, public_id)
    if mv is None:
        raise NotFound("No such model version.")
    return mv


def by_id(db: Session, model_id: int) -> ModelVersion:
    mv = repository.by_id(db, model_id)
    if mv is None:
        raise NotFound("No such model version.")
    return mv


def listing(db: Session, *, include_retired: bool = False) -> Sequence[ModelVersion]:
    return repository.listing(db, include_retired=include_retired)


def parents(db: Session, versions: Sequence[ModelVersion]) -> dict[int, str]:
    return repository.public_ids(db, [v.parent_id for v in versions if v.parent_id is not None])


def register_local(
    db: Session, actor: User | None, *, name: str, path: str, roots: Sequence[Path] | None = None
) -> ModelVersion:
    """``roots``: the folders a request may name (settings.model_roots); None for the
    server's own callers (the demo, tests)."""
    _unique_name(db, name)
    folder = _check_folder(path, roots)
    manifest = read_manifest(folder)
    parent_id = None
    if manifest and manifest.get("parent"):
        parent = repository.by_name(db, str(manifest["parent"]))
        parent_id = parent.id if parent else None
    mv = ModelVersion(name=name, kind=ModelKind.local, path=str(folder), parent_id=parent_id,
                      info={"manifest": manifest} if manifest else {}, retired=False)
    db.add(mv)
    db.flush()
    audit.record(db, actor, "model.register", mv.public_id, {"name": name, "kind": "local"})
    return mv


def register_trained(
    db: Session, *, name: str, path: Path, parent_id: int | None, extra: dict[str, Any]
) -> ModelVersion:
    """A finished training run's output; a taken name gets the job id appended."""
    if repository.by_name(db, name) is not None:
        name = f"{name}-{extra.get('job', '')[:8]}"[:120]
    manifest = read_manifest(path) or {}
    mv = ModelVersion(name=name, kind=ModelKind.local, path=str(path.resolve()),
                      parent_id=parent_id, info={"manifest": manifest, **extra}, retired=False)
    db.add(mv)
    db.flush()
    audit.record(db, None, "model.register", mv.public_id, {"name": name, **extra})
    return mv


def register_endpoint(
    db: Session,
    actor: User | None,
    *,
    name: str,
    base_url: str,
    endpoint_model: str,
    api_key: str | None,
    policy: EndpointPolicy | None = None,
) -> ModelVersion:
    """``policy``: the addresses a request may name (checked again at every call); None
    for the server's own callers."""
    _unique_name(db, name)
    try:
        if policy is not None:
            check_address(base_url, policy)
        elif not base_url.startswith(("http://", "https://")):
            raise UnsafeEndpoint("the URL must start with http:// or https://")
    except UnsafeEndpoint as exc:
        raise InvalidInput(f"The base URL cannot be used: {exc}.") from None
    mv = ModelVersion(name=name, kind=ModelKind.endpoint, base_url=base_url.rstrip("/"),
                      endpoint_model=endpoint_model, api_key=api_key or None, info={},
                      retired=False)
    db.add(mv)
    db.flush()
    # The key itself is never written anywhere but its column.
    audit.record(db, actor, "model.register", mv.public_id,
                 {"name": name, "kind": "endpoint", "api_key": "set" if api_key else "not set"})
    return mv


def retire(db: Session, actor: User | None, mv: ModelVersion) -> ModelVersion:
    mv.retired = True
    db.flush()
    audit.record(db, actor, "model.retire", mv.public_id, {"name": mv.name})
    return mv


def local_model(db: Session, public_id: str) -> ModelVersion:
    """A usable local folder for training; endpoints and retired versions are refused."""
    mv = get(db, public_id)
    if mv.retired:
        raise InvalidInput(f"Model version {mv.name!r} is retired.")
    if mv.kind != ModelKind.local or not mv.path:
        raise InvalidInput(f"Model version {mv.name!r} is an endpoint; training needs a local folder.")
    return mv


def endpoint_client(
    mv: ModelVersion, policy: EndpointPolicy, *, max_concurrency: int = 4, timeout: float = 60.0
) -> EndpointClient:
    if mv.kind != ModelKind.endpoint or not mv.base_url or not mv.endpoint_model:
        raise InvalidInput(f"Model version {mv.name!r} is not an endpoint.")
    return EndpointClient(mv.base_url, mv.endpoint_model, mv.api_key,
                          max_concurrency=max_concurrency, timeout=timeout, policy=policy)


def test_endpoint(db: Session, mv: ModelVersion, prompt: str, max_tokens: int, policy: EndpointPolicy) -> str:
    """One reply from an endpoint, synchronously (the route runs in a worker thread)."""
    client = endpoint_client(mv, policy, timeout=30.0)
    client.max_retries = 1
    # Nothing was written; end the transaction so SQLite's write lock (BEGIN IMMEDIATE)
    # is not held for the length of a remote call.
    db.commit()
    try:
        return client.chat_many_sync([[{"role": "user", "content": prompt}]],
                                     ChatParams(temperature=0.7, top_p=1.0, max_tokens=max_tokens))[0]
    except EndpointError as exc:
        raise EndpointUnavailable(f"The endpoint did not answer: {exc}") from exc
