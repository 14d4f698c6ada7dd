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
"""

from __future__ import annotations

from typing import Any


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
