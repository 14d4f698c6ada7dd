"""How quality control reads and corrects a judgement, through the labeling kinds
(app/labeling/kinds/): each kind already says how its answer reads (``answer_out``), how
a body is checked (``parse``, ``validate``) and stored (``columns``, ``after_insert``).

- ``answer``: the answer in completion ids (the kind's record), kept as a revision;
- ``in_letters`` / ``summary``: the same with letters for completions, for the review
  page (letters in the item's canonical order) and a labeler's history (in the order
  that labeler saw them);
- ``correct``: store a corrected answer in place (exports read the row: the latest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import InvalidInput
from app.labeling.kinds import kind_of
from app.labeling.kinds.base import Recording, Task
from app.models import Assignment, Project, TaskKind
from app.quality import repository as repo

Letters = Mapping[str, str]  # completion public id -> letter

# Rows a kind hangs off its judgement, removed before the corrected answer stores its own.
_DETACH: dict[TaskKind, Callable[[Session, int], None]] = {TaskKind.ranking: repo.delete_ranking_entries}
# A written prompt has joined the project's prompts: it is not corrected in place.
CORRECTABLE = frozenset({TaskKind.ranking, TaskKind.pairwise, TaskKind.evaluation, TaskKind.demonstration})


def answer(db: Session, project: Project, judgement: Any, completions: list[tuple[str, int]]) -> dict[str, Any]:
    """What the judgement says, as the kind's record shows it (completion ids);
    ``completions``: the item's (public id, id) pairs (repo.completion_pairs)."""
    out: dict[str, Any] = kind_of(project.task_kind).answer_out(db, judgement, completions).model_dump(mode="json")
    return out


def in_letters(record: Mapping[str, Any], letters: Letters) -> dict[str, Any]:
    """The record with completion ids replaced by letters (where the kinds put ids: the
    order, the preferred answer, and per-answer maps)."""
    def name(cid: str) -> str:
        return letters.get(cid, cid)

    out = dict(record)
    if out.get("ranking") is not None:
        groups = [sorted(name(c) for c in tier) for tier in out["ranking"]]
        out["ranking"] = groups
    if out.get("preferred") is not None:
        out["preferred"] = name(out["preferred"])
    for key in ("ratings", "flags", "safety"):
        if isinstance(out.get(key), dict):
            out[key] = {name(c): v for c, v in sorted(out[key].items(), key=lambda kv: name(kv[0]))}
    return out


def summary(view: Mapping[str, Any]) -> str:
    """One line of an answer in letters: "B > A = C", "A better", "both bad"…"""
    verdict = str(view.get("verdict") or "")
    if view.get("ranking"):
        return " > ".join(" = ".join(tier) for tier in view["ranking"])
    if verdict == "preferred":
        return f"{view['preferred']} {str(view.get('margin_label') or '').replace('_', ' ')}".strip()
    if verdict:
        reason = f": {str(view['reason'])[:80]}" if view.get("reason") else ""
        return verdict.replace("_", " ") + reason
    messages = view.get("messages") or []
    return str(messages[-1]["content"])[:80] if messages else ""


def check(db: Session, project: Project, judgement: Any, raw: Mapping[str, Any], settings: Settings) -> Any:
    """``raw`` as a submit of the project's kind, checked against what the labeler was shown."""
    if project.task_kind not in CORRECTABLE:
        raise InvalidInput("A written prompt has joined the project's prompts and cannot be corrected.")
    kind = kind_of(project.task_kind)
    shown = list(judgement.shown_order or [])
    item = repo.item_rows(db, [judgement.item_id])[judgement.item_id]
    return kind.validate(kind.parse(raw, shown), Task(project, shown, item.category, settings.max_text_chars))


def correct(db: Session, project: Project, judgement: Any, checked: Any) -> None:
    """Store a checked answer in place of the judgement's."""
    kind = kind_of(project.task_kind)
    # The kinds read the item and the labeler off the lease; a transient one carries them
    # (the judgement's own assignment row is not needed, nor changed).
    lease = Assignment(item_id=judgement.item_id, user_id=judgement.user_id, project_id=judgement.project_id,
                       shown_order=list(judgement.shown_order or []))
    rec = Recording(db, project, lease, judgement.public_id)
    for column, value in kind.columns(rec, checked).items():
        setattr(judgement, column, value)
    db.flush()
    detach = _DETACH.get(project.task_kind)
    if detach is not None:
        detach(db, judgement.id)
    kind.after_insert(rec, judgement.id, checked)
