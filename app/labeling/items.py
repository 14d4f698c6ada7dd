"""Work items: made by the project's task kind's plan (app/labeling/plans.py), stored
here with their round.

Rounds: every item of a prompt made by one call is of the same round, 1 for the
prompt's first items and one more than its newest items for each later call that makes
any (a new round of completions sampled from a newer model becomes new items, it is
not lost). Each item needs ``project.overlap`` labelers.

Every function here is idempotent: running it again for the same prompt adds nothing.
Importers call ``add_prompts`` / ``add_completions``; the sampler job calls
``add_completions`` for each prompt it sampled. Each returns how many items it made;
pass a ``QueueReport`` to also learn which completions were not queued and why (too
few for a ranking round, an odd one out of a pair...).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.labeling import items_repository as repo
from app.labeling.kinds import kind_of
from app.labeling.kinds import table as kinds_table
from app.labeling.plans import ItemPlan, NotQueued, PlannedItem, QueueReport
from app.models import Completion, Project, Prompt

__all__ = [
    "COMPLETION_KINDS",
    "NotQueued",
    "QueueReport",
    "add_completions",
    "add_prompts",
    "backfill",
    "ensure_prompt_writing_items",
    "sync_prompt",
    "sync_prompts",
]

# The kinds whose items show completions (imports refuse completions for the others).
COMPLETION_KINDS = frozenset(k for k, kind in kinds_table().items() if kind.item_plan.takes_completions)


def _plan(project: Project) -> ItemPlan:
    return kind_of(project.task_kind).item_plan


def _store(db: Session, project: Project, planned: list[PlannedItem], report: QueueReport) -> int:
    prompt_ids = list(dict.fromkeys(p.prompt_id for p in planned if p.prompt_id is not None))
    categories = repo.prompt_categories(db, prompt_ids)
    newest = repo.newest_rounds(db, prompt_ids)
    rows = [
        {
            "project_id": project.id,
            "prompt_id": p.prompt_id,
            "category": p.category if p.prompt_id is None else categories.get(p.prompt_id),
            "round": newest.get(p.prompt_id, 0) + 1 if p.prompt_id is not None else 1,
            "required": project.overlap,
        }
        for p in planned
    ]
    item_ids = repo.insert_items(db, rows)
    repo.insert_item_completions(
        db,
        [
            {"item_id": item_id, "position": pos, "completion_id": cid}
            for item_id, p in zip(item_ids, planned, strict=True)
            for pos, cid in enumerate(p.completion_ids)
        ],
    )
    report.created += len(item_ids)
    return len(item_ids)


def sync_prompts(
    db: Session, project: Project, prompt_ids: Sequence[int], report: QueueReport | None = None
) -> int:
    """Create whatever items these prompts and their completions now allow; returns
    how many. Bulk queries, so an import of many thousand prompts stays quick."""
    ids = list(dict.fromkeys(prompt_ids))
    if not ids:
        return 0
    report = report if report is not None else QueueReport()
    repo.lock_project(db, project.id)
    return _store(db, project, _plan(project).for_prompts(db, project, ids, report), report)


def sync_prompt(db: Session, project: Project, prompt: Prompt, report: QueueReport | None = None) -> int:
    return sync_prompts(db, project, [prompt.id], report)


def add_prompts(
    db: Session, project: Project, prompts: Sequence[Prompt], report: QueueReport | None = None
) -> int:
    """Called after prompts are stored: demonstration projects get their items now;
    completion-based kinds wait for completions."""
    if _plan(project).takes_completions:
        return 0
    return sync_prompts(db, project, [p.id for p in prompts], report)


def add_completions(
    db: Session,
    project: Project,
    prompt: Prompt,
    completions: Sequence[Completion],
    report: QueueReport | None = None,
) -> int:
    """Called after ``completions`` of ``prompt`` are stored (import or sampler job)."""
    if not completions:
        return 0
    if not _plan(project).takes_completions:
        if report is not None:
            report.wait(prompt.id, len(completions), NotQueued.not_used_by_kind)
        return 0
    return sync_prompts(db, project, [prompt.id], report)


def ensure_prompt_writing_items(db: Session, project: Project) -> int:
    """Top up what the project's settings ask for regardless of its prompts (prompt
    writing: ``prompts_per_category`` items per category); other kinds make none here."""
    repo.lock_project(db, project.id)
    return _store(db, project, _plan(project).top_up(db, project), QueueReport())


def backfill(db: Session, project: Project, report: QueueReport | None = None) -> int:
    """Items for every prompt of the project that can have one and has none yet
    (after an import, or when k_min / k_max changed); idempotent like everything here."""
    report = report if report is not None else QueueReport()
    repo.lock_project(db, project.id)
    return _store(db, project, _plan(project).backfill(db, project, report), report)
