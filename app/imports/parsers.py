"""Line-by-line parsers for prompt and completion files.

They read a binary file one line at a time (never the whole upload), check
every record, and yield either a parsed record or a ``LineError`` naming the
1-based line and what to fix. Checks that need the database (ids already
stored, unknown prompts) are the service's.

Whatever a line holds, the parser answers with a record or a line error, never an
exception: JSON nested too deep for the parser, numbers too long to convert, a
NUL character (which PostgreSQL cannot store), a CSV quote that is never closed
(which would otherwise swallow every following row into one cell).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar

ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 200
MAX_ID = 128
MAX_MODEL = 120
_MAX_ID_BITS = 425  # an integer id of more bits has more than MAX_ID digits
T = TypeVar("T")
PROMPT_FIELDS = ("id", "prompt", "text", "category")
COMPLETION_FIELDS = ("id", "prompt_id", "content", "model")
CSV_COLUMNS = ("id", "prompt", "category")


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


@dataclass(frozen=True)
class PromptRecord:
    line: int
    external_id: str | None
    messages: list[dict[str, str]]
    category: str | None


@dataclass(frozen=True)
class CompletionRecord:
    line: int
    prompt_ref: str
    external_id: str | None
    content: str
    model: str


class _Invalid(ValueError):
    pass


def numbered_lines(fh: IO[bytes], bad_utf8: set[int] | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line; a line that is not UTF-8 is decoded with
    replacement characters and its number added to ``bad_utf8``."""
    for n, raw in enumerate(fh, start=1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # Excel writes a byte-order mark
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            if bad_utf8 is not None:
                bad_utf8.add(n)
        yield n, text


NOT_UTF8 = "is not valid UTF-8 text; save the file with UTF-8 encoding"


NUL_MESSAGE = "contains a NUL character (U+0000), which cannot be stored; remove it"


def _text(value: Any, what: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{what} must be a string")
    if "\x00" in value:
        raise _Invalid(f"{what} {NUL_MESSAGE}")
    if not value.strip():
        raise _Invalid(f"{what} is empty")
    if len(value) > max_chars:
        raise _Invalid(f"{what} has {len(value)} characters; the limit is {max_chars}")
    return value


def _identifier(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(f"{what} must be a string or an integer")
    if isinstance(value, int) and value.bit_length() > _MAX_ID_BITS:
        raise _Invalid(f"{what} is longer than {MAX_ID} characters")
    if isinstance(value, str) and "\x00" in value:
        raise _Invalid(f"{what} {NUL_MESSAGE}")
    text = str(value).strip()
    if not text:
        raise _Invalid(f"{what} is empty; leave it out to have one generated")
    if len(text) > MAX_ID:
        raise _Invalid(f"{what} is longer than {MAX_ID} characters")
    return text


def _category(value: Any, categories: list[str]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in categories:
        allowed = ", ".join(categories) or "(none)"
        raise _Invalid(f"unknown category {value!r}; this project's categories are: {allowed}")
    return value


def check_messages(value: Any, max_chars: int) -> list[dict[str, str]]:
    """A prompt conversation: roles system/user/assistant, a system message only first,
    and it ends with the user's turn (the assistant's is what gets written or judged)."""
    if not isinstance(value, list) or not value:
        raise _Invalid('"prompt" must be a non-empty list of {"role", "content"} messages')
    if len(value) > MAX_MESSAGES:
        raise _Invalid(f'"prompt" has {len(value)} messages; the limit is {MAX_MESSAGES}')
    messages = []
    for i, msg in enumerate(value, start=1):
        if not isinstance(msg, dict) or set(msg) != {"role", "content"}:
            raise _Invalid(f'message {i} must be an object with exactly "role" and "content"')
        role = msg["role"]
        if role not in ROLES:
            raise _Invalid(f"message {i} has role {role!r}; use one of {', '.join(ROLES)}")
        if role == "system" and i != 1:
            raise _Invalid(f"message {i} is a system message; only the first message may be one")
        messages.append({"role": role, "content": _text(msg["content"], f"message {i}'s content", max_chars)})
    if messages[-1]["role"] != "user":
        raise _Invalid("the last message must be the user's (the prompt ends before the reply)")
    return messages


def json_object(text: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """One line as a JSON object with only the ``allowed`` fields (ValueError says why not)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise _Invalid("is nested too deeply to read; a record is an object of messages") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise _Invalid(f"cannot be read: {exc}") from None
    if not isinstance(value, dict):
        raise _Invalid("each line must be one JSON object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _Invalid(f"unknown field {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    return value


def _prompt_from_object(
    line: int, obj: dict[str, Any], max_chars: int, categories: list[str]
) -> PromptRecord:
    if ("prompt" in obj) == ("text" in obj):
        raise _Invalid('give either "prompt" (a list of messages) or "text" (a plain string), not both')
    if "text" in obj:
        messages = [{"role": "user", "content": _text(obj["text"], '"text"', max_chars)}]
    else:
        messages = check_messages(obj["prompt"], max_chars)
    return PromptRecord(
        line=line,
        external_id=_identifier(obj.get("id"), '"id"'),
        messages=messages,
        category=_category(obj.get("category"), categories),
    )


def jsonl_records(fh: IO[bytes], parse: Callable[[int, str], T]) -> Iterator[T | LineError]:
    """``parse(line number, text)`` of every non-blank line; a line that is not UTF-8, or
    that ``parse`` refuses by raising ValueError, is a LineError naming it. Every JSONL
    upload (prompts, completions, gold items) reads its lines here."""
    bad: set[int] = set()
    for n, text in numbered_lines(fh, bad):
        if n in bad:
            yield LineError(n, f"line {NOT_UTF8}")
            continue
        if not text.strip():
            continue
        try:
            yield parse(n, text)
        except ValueError as exc:
            yield LineError(n, str(exc))


def prompts_jsonl(
    fh: IO[bytes], max_chars: int, categories: list[str]
) -> Iterator[PromptRecord | LineError]:
    return jsonl_records(
        fh, lambda n, text: _prompt_from_object(n, json_object(text, PROMPT_FIELDS), max_chars, categories)
    )


def prompts_csv(
    fh: IO[bytes], max_chars: int, categories: list[str]
) -> Iterator[PromptRecord | LineError]:
    csv.field_size_limit(max(csv.field_size_limit(), max_chars * 4 + 1024))
    bad: set[int] = set()
    lines: Iterable[str] = (text for _, text in numbered_lines(fh, bad))
    # strict: a quote never closed is an error at the end of the file, not a cell that
    # silently swallows every row after it.
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield LineError(1, f"the CSV header cannot be read: {exc}")
        return
    columns = [c.strip().lower() for c in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if "prompt" not in columns or unknown or len(set(columns)) != len(columns):
        yield LineError(
            1,
            "the first row must be a header naming the columns: prompt (required), id and "
            f"category (optional), each once; found {', '.join(map(repr, columns))}",
        )
        return
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                yield LineError(start, 'a quoted cell that starts in this row is never closed (a missing \'"\'); '
                                       "every row after it would have been read into that cell")
            else:
                yield LineError(start, f"the CSV cannot be read from here on: {exc}")
            return
        previous_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if bad.intersection(range(start, previous_end + 1)):
            yield LineError(start, f"line {NOT_UTF8}")
            continue
        if len(row) != len(columns):
            yield LineError(start, f"has {len(row)} cells; the header has {len(columns)}")
            continue
        cells = dict(zip(columns, row, strict=True))
        try:
            yield PromptRecord(
                line=start,
                external_id=_identifier(cells.get("id") or None, "id"),
                messages=[{"role": "user", "content": _text(cells["prompt"], "prompt", max_chars)}],
                category=_category(cells.get("category", "").strip() or None, categories),
            )
        except _Invalid as exc:
            yield LineError(start, str(exc))


def _completion(n: int, text: str, max_chars: int) -> CompletionRecord:
    obj = json_object(text, COMPLETION_FIELDS)
    for required in ("prompt_id", "content", "model"):
        if required not in obj:
            raise _Invalid(f'"{required}" is missing')
    ref = _identifier(obj["prompt_id"], '"prompt_id"')
    if ref is None:
        raise _Invalid('"prompt_id" is missing')
    return CompletionRecord(
        line=n,
        prompt_ref=ref,
        external_id=_identifier(obj.get("id"), '"id"'),
        content=_text(obj["content"], '"content"', max_chars),
        model=_text(obj["model"], '"model"', MAX_MODEL).strip(),
    )


def completions_jsonl(fh: IO[bytes], max_chars: int) -> Iterator[CompletionRecord | LineError]:
    return jsonl_records(fh, lambda n, text: _completion(n, text, max_chars))
