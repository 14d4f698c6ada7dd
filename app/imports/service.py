"""Prompt and completion imports: validate every line, then store all or nothing.

Two passes over the (seekable) upload keep memory flat: the first checks every
record and remembers only ids and line numbers; the second, run only when the
whole file is valid and this is not a dry run, parses again and inserts in
batches inside the caller's unit of work. Items are created at the end, in the
same transaction, so a failed import leaves neither prompts nor items behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from sqlalchemy.orm import Session

from app import audit
from app.errors import InvalidInput
from app.imports import parsers
from app.imports import repository as repo
from app.imports.parsers import CompletionRecord, LineError, PromptRecord
from app.labeling import items
from app.models import Project, TaskKind, User, new_public_id, utcnow

MAX_REPORTED_ERRORS = 100
PREVIEW = 5
BATCH = 1000
PREVIEW_CHARS = 300


class ErrorList:
    """Counts every error but keeps only the first ``MAX_REPORTED_ERRORS`` by line."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[LineError] = []

    def add(self, error: LineError) -> None:
        self.count += 1
        self._kept.append(error)
        if len(self._kept) > 10 * MAX_REPORTED_ERRORS:
            self._trim()

    def _trim(self) -> None:
        self._kept.sort(key=lambda e: e.line)
        del self._kept[MAX_REPORTED_ERRORS:]

    def first(self) -> list[LineError]:
        self._trim()
        return list(self._kept)


@dataclass
class ImportReport:
    lines: int = 0
    valid: int = 0
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)
    stored: int = 0
    items: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> str:
        first = self.errors[0] if self.errors else None
        where = f" The first is on line {first.line}: {first.message}." if first else ""
        return f"{self.error_count} of {self.lines} records have errors; nothing was stored.{where}"


def _short(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def _file_kind(filename: str) -> str:
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise InvalidInput(f"{filename!r} is neither .jsonl nor .csv; upload one of those.")


def _prompt_parser(filename: str) -> Callable[[IO[bytes], int, list[str]], Iterator[PromptRecord | LineError]]:
    return parsers.prompts_csv if _file_kind(filename) == "csv" else parsers.prompts_jsonl


def _finish(report: ImportReport, errors: ErrorList) -> ImportReport:
    if report.lines == 0 and errors.count == 0:
        errors.add(LineError(1, "the file has no records"))
    report.error_count = errors.count
    report.errors = errors.first()
    # Each record gets at most one error (a record failing one check skips the rest).
    report.valid = max(0, report.lines - errors.count)
    return report


class Importer(Protocol):
    """``import_prompts`` and ``import_completions``: one upload into a project, all or nothing."""

    def __call__(
        self, db: Session, project: Project, fh: IO[bytes], /, *, filename: str, max_text_chars: int,
        actor: User | None, dry_run: bool = False,
    ) -> ImportReport: ...


# --- prompts ---------------------------------------------------------------


def import_prompts(
    db: Session,
    project: Project,
    fh: IO[bytes],
    *,
    filename: str,
    max_text_chars: int,
    actor: User | None,
    dry_run: bool = False,
) -> ImportReport:
    parse = _prompt_parser(filename)
    report, errors = ImportReport(), ErrorList()
    first_line: dict[str, int] = {}
    for rec in parse(fh, max_text_chars, project.categories):
        report.lines += 1
        if isinstance(rec, LineError):
            errors.add(rec)
            continue
        if rec.external_id is not None:
            if rec.external_id in first_line:
                errors.add(LineError(rec.line, f"duplicate id {rec.external_id!r} (first used on line {first_line[rec.external_id]})"))
                continue
            first_line[rec.external_id] = rec.line
        if len(report.preview) < PREVIEW:
            report.preview.append(
                {"id": rec.external_id, "prompt": [{**m, "content": _short(m["content"])} for m in rec.messages], "category": rec.category}
            )
    for ext in sorted(repo.existing_prompt_ids(db, project.id, first_line)):
        errors.add(LineError(first_line[ext], f"a prompt with id {ext!r} is already in this project"))
    _finish(report, errors)
    if not report.ok or dry_run:
        return report

    fh.seek(0)
    batch_name = f"import-{new_public_id()[:10]}"
    rows: list[dict[str, Any]] = []
    for rec in parse(fh, max_text_chars, project.categories):
        assert isinstance(rec, PromptRecord)  # the first pass found no errors
        public_id = new_public_id()
        rows.append(
            {
                "public_id": public_id,
                "project_id": project.id,
                "external_id": rec.external_id or public_id,
                "messages": rec.messages,
                "category": rec.category,
                "source": "import",
                "batch": batch_name,
                "created_at": utcnow(),
            }
        )
        if len(rows) >= BATCH:
            repo.insert_prompts(db, rows)
            report.stored += len(rows)
            rows = []
    repo.insert_prompts(db, rows)
    report.stored += len(rows)
    db.flush()
    report.items = items.backfill(db, project) if project.task_kind == TaskKind.demonstration else 0
    audit.record(
        db, actor, "prompts.import", project.slug,
        {"project": project.public_id, "file": filename[:200], "stored": report.stored, "items": report.items, "batch": batch_name},
    )
    return report


# --- completions -----------------------------------------------------------


def import_completions(
    db: Session,
    project: Project,
    fh: IO[bytes],
    *,
    filename: str,
    max_text_chars: int,
    actor: User | None,
    dry_run: bool = False,
) -> ImportReport:
    if project.task_kind not in items.COMPLETION_KINDS:
        raise InvalidInput(
            f"This is a {project.task_kind.value} project; completions are only used by "
            "ranking, pairwise and evaluation projects."
        )
    if _file_kind(filename) != "jsonl":
        raise InvalidInput("Completions are imported from JSON Lines (.jsonl) files only.")
    report, errors = ImportReport(), ErrorList()
    # Only what the database checks need: which lines name which prompt and id.
    lines_of_ref: dict[str, list[int]] = {}
    keyed: list[tuple[str, str, int]] = []
    models: set[str] = set()
    for rec in parsers.completions_jsonl(fh, max_text_chars):
        report.lines += 1
        if isinstance(rec, LineError):
            errors.add(rec)
            continue
        lines_of_ref.setdefault(rec.prompt_ref, []).append(rec.line)
        models.add(rec.model)
        if rec.external_id is not None:
            keyed.append((rec.prompt_ref, rec.external_id, rec.line))
        if len(report.preview) < PREVIEW:
            report.preview.append(
                {"prompt_id": rec.prompt_ref, "id": rec.external_id, "model": rec.model, "content": _short(rec.content)}
            )
    prompt_of = repo.prompt_ids_by_ref(db, project.id, lines_of_ref)
    for ref, lines in lines_of_ref.items():
        if ref not in prompt_of:
            for line in lines:
                errors.add(LineError(line, f"prompt_id {ref!r} names no prompt in this project; import the prompts first"))
    stored_keys = repo.existing_completion_keys(db, set(prompt_of.values()))
    first_line: dict[tuple[int, str], int] = {}
    for ref, ext, line in keyed:
        if ref not in prompt_of:
            continue
        key = (prompt_of[ref], ext)
        if key in first_line:
            errors.add(LineError(line, f"duplicate id {ext!r} for this prompt (first used on line {first_line[key]})"))
        elif key in stored_keys:
            errors.add(LineError(line, f"this prompt already has a completion with id {ext!r}"))
        else:
            first_line[key] = line
    _finish(report, errors)
    if not report.ok or dry_run:
        return report

    fh.seek(0)
    model_ids = repo.model_ids_by_name(db, models)
    touched: dict[int, None] = {}
    rows: list[dict[str, Any]] = []
    for rec in parsers.completions_jsonl(fh, max_text_chars):
        assert isinstance(rec, CompletionRecord)
        prompt_id = prompt_of[rec.prompt_ref]
        touched[prompt_id] = None
        public_id = new_public_id()
        rows.append(
            {
                "public_id": public_id,
                "prompt_id": prompt_id,
                "external_id": rec.external_id or public_id,
                "content": rec.content,
                "model_name": rec.model,
                "model_version_id": model_ids.get(rec.model),
                "sampling": {},
                "created_at": utcnow(),
            }
        )
        if len(rows) >= BATCH:
            repo.insert_completions(db, rows)
            report.stored += len(rows)
            rows = []
    repo.insert_completions(db, rows)
    report.stored += len(rows)
    db.flush()
    report.items = items.sync_prompts(db, project, list(touched))
    audit.record(
        db, actor, "completions.import", project.slug,
        {"project": project.public_id, "file": filename[:200], "stored": report.stored, "items": report.items},
    )
    return report
