"""What every request body and parameter is checked against, in one place.

- ``RequestModel``: the base of every request body. Unknown fields are refused,
  NaN and ±Infinity are refused (Python's JSON parser accepts them, PostgreSQL's
  JSON cannot store them), and booleans are strict: ``0``, ``1``, ``"yes"`` are
  not ``false``/``true`` (a typo must not silently deactivate an account).
- ``DbInt``/``DbId``/``Count``: integers the database can hold. Every integer
  column is an ``INTEGER``: 32-bit signed on PostgreSQL (SQLite's holds 64), so
  the bound is the smaller one, the same on both, and a query parameter or a
  decoded cursor of 20 digits is a 422, not a 500.
- ``DateTime``: an ISO 8601 date and time, as the OpenAPI says; a bare number is
  not taken for seconds since 1970 (Pydantic's lax reading: ``until=12``).
- ``Matching``: a pattern with the sentence shown when it does not match, so
  the client reads "the project's short name may use a–z, 0–9 and dashes"
  rather than the regular expression.

NUL characters are refused earlier, for every field at once, by
``app.security.middleware.InputGuard``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
)
from pydantic_core import CoreSchema

__all__ = [
    "DB_INT_MAX",
    "DB_INT_MIN",
    "PATTERN_HINTS",
    "Count",
    "DateTime",
    "DbId",
    "DbInt",
    "Matching",
    "PathId",
    "ProjectPath",
    "ProjectRef",
    "RequestModel",
]

DB_INT_MAX = 2**31 - 1
DB_INT_MIN = -(2**31)

# Any integer an INTEGER column can hold on both databases.
DbInt = Annotated[int, Field(ge=DB_INT_MIN, le=DB_INT_MAX)]
# Row ids and id cursors: positive.
DbId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
# Counts and offsets that start at zero.
Count = Annotated[int, Field(ge=0, le=DB_INT_MAX)]

_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")


def _no_timestamps(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("give a date and time such as 2026-11-30T12:00:00Z, not a number")
    return value


DateTime = Annotated[datetime, BeforeValidator(_no_timestamps)]

# A public id in the URL path.
PathId = Annotated[str, Path(min_length=1, max_length=64)]

# A project, named by its public id or its short name (slug): every route and request
# body that names a project takes either (app/access.py finds it).
_PROJECT_REF = "the project's id or short name (slug)"
ProjectPath = Annotated[str, Path(min_length=1, max_length=64, description=_PROJECT_REF)]
ProjectRef = Annotated[str, StringConstraints(min_length=1, max_length=64), Field(description=_PROJECT_REF)]

# regex -> what the person should type instead; read by the 422 handler (app/errors.py).
PATTERN_HINTS: dict[str, str] = {}


def Matching(regex: str, hint: str, *, min_length: int | None = None, max_length: int | None = None) -> Any:
    """``Annotated[str, Matching(...)]``: a pattern whose failure message is ``hint``."""
    PATTERN_HINTS[regex] = hint
    return StringConstraints(pattern=regex, min_length=min_length, max_length=max_length)


def _strict_bools(schema: Any) -> Any:
    """A copy of a core schema in which every ``bool`` validator is strict."""
    if isinstance(schema, dict):
        copied = {key: _strict_bools(value) for key, value in schema.items()}
        if copied.get("type") == "bool":
            copied["strict"] = True
        return copied
    if isinstance(schema, list):
        return [_strict_bools(value) for value in schema]
    return schema


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler) -> CoreSchema:
        # Pydantic has no per-type strictness setting; model-wide strict mode would also
        # refuse enum values and ISO dates given as JSON strings. So only the bool
        # validators of the generated schema are made strict.
        schema: CoreSchema = _strict_bools(handler(source))
        return schema
