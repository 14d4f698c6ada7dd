"""The OpenAPI document says what the server really answers, so generated clients work.

Every error answer has the shape ``ErrorOut`` (app/errors.py renders it). FastAPI
documents only its own ``HTTPValidationError`` for 422, with ``detail`` as a list;
``document_errors`` replaces it and adds the statuses every route can give,
inferred from the route itself:

- 400 where there is a body (one that cannot be decoded at all),
- 401 where a user is needed (and on the login itself), 403 where a role is needed
  and on every state-changing method (CSRF token, cross-site refusal), 404 where
  the path names something, 413 where there is a body, 415 on the upload routes,
  422 where there is any input;
- the rest (409, 410, 429, 502) a route declares with ``responses=errors(...)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, Field

from app.deps import current_user, user_work
from app.security.middleware import UNSAFE_METHODS

__all__ = ["ErrorOut", "FieldError", "api_routes", "document_errors", "errors", "is_upload_route"]


class FieldError(BaseModel):
    field: str | None = Field(None, description="dotted path of the field, when one is at fault")
    line: int | None = Field(None, description="1-based line of an uploaded file")
    message: str


class ErrorOut(BaseModel):
    error: str = Field(description="a stable code: invalid_input, not_authenticated, forbidden, …")
    detail: str = Field(description="one sentence a person can act on")
    errors: list[FieldError] | None = Field(None, description="every problem, when there are several")


DESCRIPTIONS = {
    400: "The request cannot be understood",
    401: "Not logged in, or the token or session is no longer valid",
    403: "Not allowed: role, CSRF token or a cross-site request",
    404: "No such thing, or it is not yours",
    405: "Method not allowed",
    409: "Conflicts with the current state (already done, name taken)",
    410: "Gone: the lease on this task has expired",
    413: "The body is larger than the limit",
    415: "Only file uploads take multipart/form-data",
    422: "The input is invalid; `detail` says what to change",
    429: "Too many requests; see Retry-After",
    502: "An external model endpoint did not answer",
}
_REF = "#/components/schemas/ErrorOut"
_UPLOAD_CONTENT = "multipart/form-data"


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=errors(409, 410)`` in a route decorator: statuses only that route gives."""
    return {s: {"model": ErrorOut, "description": DESCRIPTIONS[s]} for s in statuses}


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route as mounted (with its router's prefix), included routers unfolded.

    The items are FastAPI's ``RouteContext`` objects, which answer like the APIRoute
    at its full path (``path_format``, ``path_regex``, ``methods``, ``dependant`` …).
    """
    return [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def is_upload_route(route: APIRoute | RouteContext) -> bool:
    body = (route.openapi_extra or {}).get("requestBody", {})
    return _UPLOAD_CONTENT in body.get("content", {})


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _inferred(route: Any) -> set[int]:
    calls = _calls(route.dependant)
    needs_user = current_user in calls or user_work in calls
    has_input = bool(route.dependant.path_params or route.dependant.query_params or route.body_field
                     or is_upload_route(route))
    statuses: set[int] = set()
    if needs_user:
        statuses.add(401)
    if any(getattr(c, "__qualname__", "").startswith("require_role") for c in calls):
        statuses.add(403)
    if route.methods & UNSAFE_METHODS:
        statuses |= {403, 413}
    if route.body_field is not None or is_upload_route(route):
        statuses.add(400)  # a body that cannot be decoded at all (not UTF-8, a 5,000-digit number)
    if route.dependant.path_params:
        statuses.add(404)
    if is_upload_route(route):
        statuses.add(415)
    if has_input:
        statuses.add(422)
    return statuses


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorOut"] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"][route.path_format].get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_inferred(route) | {int(s) for s in responses if str(s).isdigit() and int(s) >= 400}):
                responses[str(status)] = {
                    "description": DESCRIPTIONS.get(status, "Error"),
                    "content": {"application/json": {"schema": {"$ref": _REF}}},
                }
    app.openapi_schema = schema
    return schema


def document_errors(app: FastAPI) -> None:
    """Replace the app's OpenAPI generator with one that documents the error answers."""
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
