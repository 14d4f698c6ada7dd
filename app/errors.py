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


def error_response(request: Request, status: int, body: dict[str, Any], user: Any = None) -> Response:
    """JSON for the API, else the error page; ``user`` (who is logged in, if known) gives
    the page its navigation."""
    if wants_json(request):
        return JSONResponse(body, status_code=status)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": body.get("detail", ""), "user": user},
        status_code=status,
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


# Pydantic's error type -> the sentence, filled from the error's context (app/inputs.py's
# Matching gives patterns their own words).
_SENTENCES = {
    "missing": "{label} is required",
    "extra_forbidden": "{label} is not a field this request takes; leave it out",
    "string_too_short": "{label} must be at least {min_chars}",
    "string_too_long": "{label} must be at most {max_chars}",
    "too_long": "{label} may have at most {max_entries}",
    "too_short": "{label} needs at least {min_entries}",
    "greater_than_equal": "{label} must be at least {ge}",
    "greater_than": "{label} must be more than {gt}",
    "less_than_equal": "{label} must be at most {le}",
    "less_than": "{label} must be less than {lt}",
    "int_parsing": "{label} must be a whole number",
    "int_type": "{label} must be a whole number",
    "int_from_float": "{label} must be a whole number",
    "float_parsing": "{label} must be a number",
    "float_type": "{label} must be a number",
    "finite_number": "{label} must be a finite number (not NaN or Infinity)",
    "bool_type": "{label} must be true or false",
    "bool_parsing": "{label} must be true or false",
    "string_type": "{label} must be a text string",
    "string_unicode": "{label} must be a text string",
    "enum": "{label} must be {expected}",
    "literal_error": "{label} must be {expected}",
    "dict_type": "{label} must be a JSON object",
    "model_type": "{label} must be a JSON object",
    "model_attributes_type": "{label} must be a JSON object",
    "list_type": "{label} must be a list",
    "json_invalid": "the body is not valid JSON ({error})",
    "datetime_parsing": "{label} must be a date and time such as 2026-11-30T12:00:00Z",
    "datetime_type": "{label} must be a date and time such as 2026-11-30T12:00:00Z",
    "union_tag_invalid": "{label} must be {expected_tags}",
    "union_tag_not_found": "{label} needs its {discriminator} field",
}


class _Context(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "the allowed value"


def _sentence(err: Mapping[str, Any], field: str | None) -> str:
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    label = _label(field)
    message = str(err.get("msg", "is invalid"))
    if kind == "value_error":  # a model validator's own sentence
        return message.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(ctx.get("pattern", "")))
        return f"{label} {hint}" if hint else f"{label} has characters that are not allowed here"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{label} must not be empty"
    template = _SENTENCES.get(kind)
    if template is None:
        return f"{label}: {message[0].lower() + message[1:] if message else 'is invalid'}"
    return template.format_map(_Context(
        ctx, label=label,
        min_chars=_plural(ctx.get("min_length"), "character", "characters"),
        max_chars=_plural(ctx.get("max_length"), "character", "characters"),
        min_entries=_plural(ctx.get("min_length"), "entry", "entries"),
        max_entries=_plural(ctx.get("max_length"), "entry", "entries"),
    ))


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
