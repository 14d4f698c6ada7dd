"""Every input has a bound the database can hold, checked over the whole API at once.

The OpenAPI document is what clients and the fuzzer read, and FastAPI builds it from
the same annotations that validate requests, so walking it proves the class: every
integer parameter or body field fits an INTEGER column on both databases, every text input has a length
limit, and every limited column has a schema limit no larger than the column.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import String

from app.evaluations.schemas import EvaluationIn
from app.inputs import DB_INT_MAX, DB_INT_MIN
from app.labeling.kinds.base import SubmitBase
from app.labeling.kinds.prompt_writing import PromptWritingIn
from app.models import Base
from app.projects.schemas import ProjectCreate, ProjectUpdate
from app.registry.schemas import EndpointModelIn, LocalModelIn
from app.training.schemas import TrainParams
from app.users.schemas import TokenCreate, UserCreate, UserUpdate


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the document is the same on both databases


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def _schemas(spec: dict[str, Any], node: Any, where: str, seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema of an input, with where it is, following $refs once per path."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if ref in seen:
                return
            yield from _schemas(spec, _resolve(spec, node), where, seen | {ref})
            return
        yield where, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from _schemas(spec, sub, f"{where}.{name}", seen)
            elif key in ("items", "additionalProperties", "propertyNames", "schema"):
                yield from _schemas(spec, value, f"{where}[]", seen)
            elif key in ("anyOf", "oneOf", "allOf"):
                for sub in value:
                    yield from _schemas(spec, sub, where, seen)
            elif key == "content":
                for media, sub in value.items():
                    yield from _schemas(spec, sub, f"{where}({media})", seen)


def _inputs(app: FastAPI) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = app.openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                yield from _schemas(spec, param["schema"], f"{method.upper()} {path} {param['in']}:{param['name']}")
            if "requestBody" in op:
                yield from _schemas(spec, op["requestBody"], f"{method.upper()} {path} body")


class TestEveryInputIsBounded:
    def test_every_integer_fits_an_integer_column(self, app: FastAPI) -> None:
        unbounded = [
            where for where, s in _inputs(app)
            if s.get("type") == "integer"
            and not (s.get("minimum", s.get("exclusiveMinimum", DB_INT_MIN - 1)) >= DB_INT_MIN
                     and s.get("maximum", s.get("exclusiveMaximum", DB_INT_MAX + 1)) <= DB_INT_MAX)
        ]
        assert unbounded == []

    def test_every_text_input_has_a_length_limit(self, app: FastAPI) -> None:
        unlimited = [
            where for where, s in _inputs(app)
            if s.get("type") == "string" and "maxLength" not in s and "enum" not in s
            and "const" not in s and s.get("format") not in ("binary", "date-time")
        ]
        assert unlimited == []

    def test_every_number_is_finite_and_bounded(self, app: FastAPI) -> None:
        loose = [where for where, s in _inputs(app)
                 if s.get("type") == "number" and ("maximum" not in s or ("minimum" not in s and "exclusiveMinimum" not in s))]
        assert loose == []


def _max_length(model: type[BaseModel], field: str) -> int:
    schema = model.model_json_schema()["properties"][field]
    options = schema.get("anyOf", [schema])
    limits = [o["maxLength"] for o in options if o.get("type") == "string"]
    assert limits, f"{model.__name__}.{field} has no max_length"
    return int(max(limits))


# column -> the request fields written into it (their limit must fit the column).
FROM_SCHEMAS: dict[str, list[tuple[type[BaseModel], str]]] = {
    "users.email": [(UserCreate, "email")],
    "users.display_name": [(UserCreate, "display_name"), (UserUpdate, "display_name")],
    "api_tokens.name": [(TokenCreate, "name")],
    "projects.slug": [(ProjectCreate, "slug")],
    "projects.name": [(ProjectCreate, "name"), (ProjectUpdate, "name"), (EvaluationIn, "name")],
    "model_versions.name": [(LocalModelIn, "name"), (EndpointModelIn, "name"), (TrainParams, "name")],
    "model_versions.path": [(LocalModelIn, "path")],
    "model_versions.base_url": [(EndpointModelIn, "base_url")],
    "model_versions.endpoint_model": [(EndpointModelIn, "endpoint_model")],
    "model_versions.api_key": [(EndpointModelIn, "api_key")],
    "*.idempotency_key": [(SubmitBase, "idempotency_key")],
    "prompt_submissions.category": [(PromptWritingIn, "category")],
    # a project's categories are the only values prompts and items take
    "prompts.category": [],
    "work_items.category": [],
}
# column -> why no request writes it unchecked (generated, hashed, truncated, or a fixed set).
NOT_FROM_REQUESTS = {
    "*.public_id": "new_public_id(): 16 characters",
    "users.password_hash": "an Argon2 hash",
    "web_sessions.token_hash": "a SHA-256 hex digest",
    "api_tokens.token_hash": "a SHA-256 hex digest",
    "audit_log.action": "written by the code; audit.record() cuts it to 64",
    "audit_log.target": "audit.record() cuts it to 200",
    "jobs.kind": "a Literal of the job kinds",
    "jobs.worker": "the worker's own name",
    "jobs.status": "an enum",
    "exports.status": "an enum",
    "exports.manifest_sha256": "a SHA-256 hex digest",
    "*.body_hash": "a SHA-256 hex digest of the canonical answer",
    "exports.path": "a folder under the data dir",
    "prompts.external_id": "imports: parsers.MAX_ID (checked below)",
    "completions.external_id": "imports: parsers.MAX_ID (checked below)",
    "completions.model_name": "imports: parsers.MAX_MODEL; sampling: a model version's name",
    "prompts.source": "a fixed word (import, written, …)",
    "prompts.batch": "generated: import-<10 characters>",
    "ai_judgements.judgement_public_id": "new_public_id() of the judgement it describes",
    "ai_judgements.job_public_id": "new_public_id() of the run",
    "ai_judgements.model_name": "a model version's name (model_versions.name, 120)",
    "ai_judgements.method": "written by the code: 'pairwise, both orders', 'copeland, one order', 'listwise'",
}


def _string_columns() -> dict[str, int]:
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String) and column.type.length is not None and not hasattr(column.type, "enums"):
                found[f"{table.name}.{column.name}"] = column.type.length
    return found


def _rule(table: dict[str, Any], column: str) -> Any:
    name = column.split(".", 1)[1]
    return table.get(column, table.get(f"*.{name}"))


class TestEveryLimitedColumnHasASchemaLimit:
    def test_every_limited_column_is_accounted_for(self) -> None:
        missing = [c for c in _string_columns()
                   if _rule(FROM_SCHEMAS, c) is None and _rule(NOT_FROM_REQUESTS, c) is None]
        assert missing == []

    def test_every_schema_limit_fits_its_column(self) -> None:
        columns = _string_columns()
        too_long = [
            (column, f"{model.__name__}.{field}", _max_length(model, field), columns[column])
            for column in columns
            for model, field in (_rule(FROM_SCHEMAS, column) or [])
            if _max_length(model, field) > columns[column]
        ]
        assert too_long == []

    def test_imported_ids_models_and_categories_fit(self) -> None:
        from app.imports import parsers
        from app.projects.schemas import Slug

        columns = _string_columns()
        assert parsers.MAX_ID <= columns["prompts.external_id"] == columns["completions.external_id"]
        assert columns["completions.model_name"] >= parsers.MAX_MODEL
        slug_limit = next(m.max_length for m in Slug.__metadata__ if hasattr(m, "max_length"))
        assert slug_limit <= columns["prompts.category"] and slug_limit <= columns["work_items.category"]
