"""Domain errors carry their HTTP status; one handler renders them as JSON or HTML.

The hierarchy:

    DomainError            400 unless a subclass says otherwise
      ├── InvalidInput      422: a payload or file that fails validation (may carry per-line errors)
      ├── NotAuthenticated  401
      ├── Forbidden         403
      ├── NotFound          404: also "exists but not yours"
      ├── Conflict          409: already submitted, duplicate name
      ├── LeaseExpired      410
      ├── PayloadTooLarge   413
      └── RateLimited       429

Every error answer has one shape, for the JSON API and the middleware alike:
``{"error": code, "detail": one sentence, "errors"?: [...]}`` (``ErrorOut`` in
app/openapi.py documents it). ``error_response`` renders it as JSON for the API
and as the error page for a browser; ``validation_errors`` turns Pydantic's
errors into sentences a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.inputs import PATTERN_HINTS
from app.templating import templates


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": self.message}
        if self.details is not None:
            body["errors"] = self.details
        return body


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class LeaseExpired(DomainError):
    status_code = 410
    code = "lease_expired"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- rendering ---------------------------------------------------------------


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    return "application/json" in request.headers.get("accept", "")


def error_response(request: Request, status: int, body: dict[str, Any]) -> Response:
    if wants_json(request):
        return JSONResponse(body, status_code=status)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": body.get("detail", "")}, status_code=status
    )


# --- validation messages -------------------------------------------------------

# What a field is called in a message; others use their name with spaces.
FIELD_LABELS = {
    "slug": "the project's short name",
    "name": "the name",
    "email": "the e-mail address",
    "display_name": "the display name",
    "password": "the password",
    "base_url": "the base URL",
    "endpoint_model": "the endpoint's model name",
    "api_key": "the API key",
    "idempotency_key": "the idempotency key",
    "task_kind": "the task kind",
    "user_ids": "the user ids",
}
_LOCATIONS = frozenset({"body", "query", "path", "form", "header", "cookie"})


def _label(field: str | None) -> str:
    """A top-level field by what it is called; a nested one by its path (``sampling.top_p``,
    ``ratings.<id>``, ``flags.2``), which says exactly where to look."""
    if not field:
        return "the request"
    return FIELD_LABELS.get(field, field)


def _plural(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _sentence(err: Mapping[str, Any], field: str | None) -> str:
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    label = _label(field)
    message = str(err.get("msg", "is invalid"))
    if kind == "missing":
        return f"{label} is required"
    if kind == "extra_forbidden":
        return f"{label} is not a field this request takes; leave it out"
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(ctx.get("pattern", "")))
        return f"{label} {hint}" if hint else f"{label} has characters that are not allowed here"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return f"{label} must not be empty" if n == 1 else f"{label} must be at least {_plural(n, 'character', 'characters')}"
    if kind == "string_too_long":
        return f"{label} must be at most {_plural(ctx.get('max_length'), 'character', 'characters')}"
    if kind == "too_long":
        return f"{label} may have at most {_plural(ctx.get('max_length'), 'entry', 'entries')}"
    if kind == "too_short":
        return f"{label} needs at least {_plural(ctx.get('min_length'), 'entry', 'entries')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        bound = next(iter(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt")), "")
        return f"{label} must be {words} {bound}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return f"{label} must be a number"
    if kind == "finite_number":
        return f"{label} must be a finite number (not NaN or Infinity)"
    if kind in ("bool_type", "bool_parsing"):
        return f"{label} must be true or false"
    if kind in ("string_type", "string_unicode"):
        return f"{label} must be a text string"
    if kind in ("enum", "literal_error"):
        return f"{label} must be {ctx.get('expected', 'one of the allowed values')}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{label} must be a JSON object"
    if kind == "list_type":
        return f"{label} must be a list"
    if kind == "json_invalid":
        return f"the body is not valid JSON ({ctx.get('error', 'cannot be read')})"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return f"{label} must be a date and time such as 2026-11-30T12:00:00Z"
    if kind == "union_tag_invalid":
        return f"{label} must be {ctx.get('expected_tags', 'one of the allowed kinds')}"
    if kind == "union_tag_not_found":
        return f"{label} needs its {ctx.get('discriminator', 'kind')} field"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return f"{label}: {message[0].lower() + message[1:] if message else 'is invalid'}"


def validation_errors(raw: Iterable[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(the first problem as a sentence, every problem as {field, message})."""
    errors: list[dict[str, Any]] = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ()) if p not in _LOCATIONS]
        field = ".".join(loc) or None
        errors.append({"field": field, "message": _sentence(err, field)})
    first: str = errors[0]["message"] if errors else "the request is invalid"
    # A field path stays as it is spelled; a sentence starting with "the" gets its capital.
    detail = ("T" + first[1:] if first.startswith("the ") else first) + ("" if first.endswith(".") else ".")
    if len(errors) > 1:
        detail += f" ({len(errors) - 1} more {'problem' if len(errors) == 2 else 'problems'} listed in errors.)"
    return detail, errors
