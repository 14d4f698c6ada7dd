"""Gold items: imported with their known answer, or an existing item given one.

An import line carries a whole item (the prompt, its completions in the order they are
shown as A, B, …, and the gold answer), so a gold item never waits for completions:

    {"id": "g1", "text": "2 + 2?", "completions": [{"id": "a", "content": "4", "model": "ref"},
     {"id": "b", "content": "5", "model": "ref"}], "gold": {"preferred": "a"}, "screening": true}

Like every import, the whole file is checked first and stored only when every line is
valid. A gold item is never open in the regular queue; the quality policy serves it
(app/quality/queue_policy.py), so its slots are many: every labeler may get it once.
"""

from __future__ import annotations

from collections import Counter
from typing import IO, Any

from sqlalchemy.orm import Session

from app import audit
from app.errors import InvalidInput, NotFound
from app.imports.parsers import LineError, check_messages, json_object, jsonl_records
from app.imports.service import PREVIEW, ErrorList, ImportReport
from app.models import Project, TaskKind, User, WorkItem, new_public_id, utcnow
from app.quality import repository as repo
from app.quality import service
from app.quality.gold import GoldError, GoldSpec, correct, parse
from app.quality.schemas import GoldIn, GoldItemOut

GOLD_SLOTS = 1_000_000  # a gold item's `required`: in effect, every labeler once
FIELDS = ("id", "prompt", "text", "category", "completions", "gold", "screening", "note")
GOLD_KINDS = frozenset({TaskKind.ranking, TaskKind.pairwise, TaskKind.evaluation})
MAX_ID = 128


class _Bad(ValueError):
    pass


def _sizes(project: Project) -> tuple[int, int]:
    return (2, 2) if project.task_kind != TaskKind.ranking else (project.k_min, project.k_max)


def _record(text: str, project: Project, max_chars: int) -> dict[str, Any]:
    """One import line, checked on its own; raises ``_Bad`` with what to fix."""
    try:
        obj = json_object(text, FIELDS)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    ext = obj.get("id")
    if not isinstance(ext, str | int) or isinstance(ext, bool) or not str(ext).strip() or len(str(ext)) > MAX_ID:
        raise _Bad(f'"id" must be a string of 1 to {MAX_ID} characters (it names the item in reports)')
    if ("prompt" in obj) == ("text" in obj):
        raise _Bad('give either "prompt" (a list of messages) or "text" (a plain string), not both')
    try:
        if "text" in obj:
            messages = check_messages([{"role": "user", "content": obj["text"]}], max_chars)
        else:
            messages = check_messages(obj["prompt"], max_chars)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    category = obj.get("category")
    if category is not None and category not in project.categories:
        raise _Bad(f"unknown category {category!r}; this project's categories are: {', '.join(project.categories)}")
    completions = obj.get("completions")
    low, high = _sizes(project)
    if not isinstance(completions, list) or not low <= len(completions) <= high:
        raise _Bad(f'"completions" must list {low} to {high} answers for this project' if low != high
                   else f'"completions" must list exactly {low} answers for this project')
    rows = []
    for n, c in enumerate(completions, start=1):
        if not isinstance(c, dict) or set(c) - {"id", "content", "model"} or "id" not in c or "content" not in c:
            raise _Bad(f'completion {n} must be an object with "id", "content" and optionally "model"')
        content = c["content"]
        if not isinstance(content, str) or not content.strip() or len(content) > max_chars:
            raise _Bad(f"completion {n}'s content must be a non-empty string of at most {max_chars} characters")
        model = c.get("model", "gold")
        if not isinstance(model, str) or not model.strip() or len(model) > 120:
            raise _Bad(f'completion {n}\'s "model" must be a short name')
        rows.append({"external_id": str(c["id"]).strip()[:MAX_ID], "content": content, "model_name": model.strip()})
    ids = [r["external_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise _Bad("two completions share an id; give each its own")
    screening = obj.get("screening", False)
    note = obj.get("note")
    if not isinstance(screening, bool) or (note is not None and not isinstance(note, str)):
        raise _Bad('"screening" must be true or false and "note" a string')
    try:
        spec = parse(obj.get("gold"), ids, pairwise=project.task_kind != TaskKind.ranking,
                     screening=screening, note=note)
    except GoldError as exc:
        raise _Bad(f"gold: {exc}") from None
    return {"id": str(ext).strip(), "messages": messages, "category": category, "completions": rows, "spec": spec}


def import_gold(
    db: Session, actor: User, ref: str, fh: IO[bytes], *, max_chars: int, dry_run: bool = False
) -> ImportReport:
    project = service.admin_project(db, actor, ref)
    if project.task_kind not in GOLD_KINDS:
        raise InvalidInput(
            f"This is a {project.task_kind.value.replace('_', ' ')} project; gold items have a known "
            "preference, so only ranking, pairwise and evaluation projects take them."
        )
    report, errors = ImportReport(), ErrorList()
    records: list[tuple[int, dict[str, Any]]] = []
    for read in jsonl_records(fh, lambda line, text: (line, _record(text, project, max_chars))):
        report.lines += 1
        if isinstance(read, LineError):
            errors.add(read)
        else:
            records.append(read)
    seen = Counter(r["id"] for _, r in records)
    taken = repo.existing_external_ids(db, project.id, [f"gold-{r['id']}" for _, r in records])
    for line, r in records:
        if seen[r["id"]] > 1:
            errors.add(LineError(line, f"the id {r['id']!r} is used on more than one line"))
        elif f"gold-{r['id']}" in taken:
            errors.add(LineError(line, f"a gold item with id {r['id']!r} is already in this project"))
    for _, r in records[:PREVIEW]:
        report.preview.append({"id": r["id"], "completions": len(r["completions"]),
                               "gold": r["spec"].to_json(), "screening": r["spec"].screening})
    if report.lines == 0 and errors.count == 0:
        errors.add(LineError(1, "the file has no records"))
    report.error_count, report.errors = errors.count, errors.first()
    report.valid = max(0, report.lines - errors.count)
    if not report.ok or dry_run:
        return report
    for _, r in records:
        spec: GoldSpec = r["spec"]
        public = {c["external_id"]: new_public_id() for c in r["completions"]}
        spec = _renamed(spec, public)
        repo.add_prompt_with_item(
            db, project,
            prompt={"external_id": f"gold-{r['id']}", "messages": r["messages"], "category": r["category"],
                    "source": "gold", "created_at": utcnow()},
            completions=[{**c, "public_id": public[c["external_id"]], "created_at": utcnow()} for c in r["completions"]],
            item={"is_gold": True, "gold": spec.to_json(), "is_open": False, "required": GOLD_SLOTS},
        )
        report.stored += 1
        report.items += 1
    audit.record(db, actor, "gold.import", project.slug, {"project": project.public_id, "items": report.items})
    return report


def _renamed(spec: GoldSpec, ids: dict[str, str]) -> GoldSpec:
    """The spec in completion public ids (the import names completions by its own ids)."""
    return GoldSpec(
        above=tuple((ids[x], ids[y]) for x, y in spec.above),
        margins=spec.margins,
        screening=spec.screening,
        note=spec.note,
        order=tuple(tuple(ids[c] for c in tier) for tier in spec.order) if spec.order is not None else None,
    )


def _item(db: Session, item_public_id: str) -> tuple[WorkItem, Project]:
    item = repo.item_by_public_id(db, item_public_id)
    if item is None:
        raise NotFound("No such item.")
    project = db.get(Project, item.project_id)
    assert project is not None
    return item, project


def set_gold(db: Session, actor: User, item_public_id: str, body: GoldIn) -> GoldItemOut:
    """Give an existing item a gold answer (by completion ids); it leaves the regular queue."""
    item, project = _item(db, item_public_id)
    if project.task_kind not in GOLD_KINDS:
        raise InvalidInput("Only ranking, pairwise and evaluation items can have a gold answer.")
    completions = [c for c, _, _ in repo.item_completion_texts(db, [item.id]).get(item.id, [])]
    try:
        spec = parse(body.gold, completions, pairwise=project.task_kind != TaskKind.ranking,
                     screening=body.screening, note=body.note)
    except GoldError as exc:
        raise InvalidInput(f"gold: {exc}", details=[{"field": "gold", "message": str(exc)}]) from None
    with service.content_change(db, project, item.id):
        item.is_gold = True
        item.gold = spec.to_json()
        item.is_open = False
        item.required = max(GOLD_SLOTS, item.taken)
    audit.record(db, actor, "gold.set", project.slug, {"item": item.public_id, "gold": spec.to_json()})
    return _out(db, project, item)


def unset_gold(db: Session, actor: User, item_public_id: str) -> None:
    """The item becomes a regular one again, needing the project's overlap."""
    item, project = _item(db, item_public_id)
    if not item.is_gold:
        return
    with service.content_change(db, project, item.id):
        item.is_gold = False
        item.gold = None
        item.required = max(project.overlap, item.taken)
        item.is_open = item.done < item.required
    audit.record(db, actor, "gold.unset", project.slug, {"item": item.public_id})


def list_gold(db: Session, actor: User, ref: str) -> list[GoldItemOut]:
    project = service.admin_project(db, actor, ref)
    return [_out(db, project, item) for item in repo.gold_items(db, project.id)]


def _out(db: Session, project: Project, item: WorkItem) -> GoldItemOut:
    spec = GoldSpec.from_json(item.gold or {})
    votes = repo.VOTE_LOADERS[project.task_kind](db, [item.id]).get(item.id, [])
    letters = {cid: service.LETTERS[i] for i, (cid, _, _) in enumerate(repo.item_completion_texts(db, [item.id])[item.id])}
    return GoldItemOut(
        item_id=item.public_id, screening=spec.screening, note=spec.note,
        gold=service.gold_in_letters(spec, letters), answers=len(votes),
        correct=sum(correct(spec, v.ranks, v.margin) for v in votes),
    )
