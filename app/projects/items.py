"""How prompts and completions become work items.

- demonstration: one item per prompt.
- ranking: one item per prompt once it has k_min..k_max completions; with more
  than k_max, the first k_max in import order. An item, once made, never
  changes: labelers may already have ranked exactly those completions.
- pairwise and evaluation: one item per consecutive pair of a prompt's
  completions in import order, (c0, c1), (c2, c3), ...; an odd one waits for
  the next completion of its prompt.
- prompt_writing: ``prompts_per_category`` items per category, no prompt.

Each item needs ``project.overlap`` labelers. Every function here is
idempotent: running it again for the same prompt adds nothing. Importers call
``add_prompts`` / ``add_completions``; the sampler job calls
``add_completions`` for each prompt it sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.models import Completion, Project, Prompt, TaskKind
from app.projects import repository as repo

PAIRED_KINDS = frozenset({TaskKind.pairwise, TaskKind.evaluation})
COMPLETION_KINDS = PAIRED_KINDS | {TaskKind.ranking}

# (prompt id, completion ids in canonical order) for each item to create
Plan = list[tuple[int, list[int]]]


def _plan_demonstration(db: Session, prompt_ids: Sequence[int]) -> Plan:
    have = repo.prompts_with_items(db, prompt_ids)
    return [(pid, []) for pid in prompt_ids if pid not in have]


def _plan_ranking(db: Session, project: Project, prompt_ids: Sequence[int]) -> Plan:
    have = repo.prompts_with_items(db, prompt_ids)
    waiting = [pid for pid in prompt_ids if pid not in have]
    by_prompt = repo.completion_ids_by_prompt(db, waiting)
    return [
        (pid, by_prompt[pid][: project.k_max])
        for pid in waiting
        if len(by_prompt.get(pid, [])) >= project.k_min
    ]


def _plan_pairs(db: Session, prompt_ids: Sequence[int]) -> Plan:
    used = repo.completion_ids_in_items(db, prompt_ids)
    by_prompt = repo.completion_ids_by_prompt(db, prompt_ids)
    plan: Plan = []
    for pid in prompt_ids:
        free = [cid for cid in by_prompt.get(pid, []) if cid not in used]
        plan += [(pid, free[i : i + 2]) for i in range(0, len(free) - 1, 2)]
    return plan


def sync_prompts(db: Session, project: Project, prompt_ids: Sequence[int]) -> int:
    """Create whatever items these prompts and their completions now allow; returns
    how many. Bulk queries, so an import of many thousand prompts stays quick."""
    ids = list(dict.fromkeys(prompt_ids))
    if not ids or project.task_kind == TaskKind.prompt_writing:
        return 0
    repo.lock_project(db, project.id)
    if project.task_kind == TaskKind.demonstration:
        plan = _plan_demonstration(db, ids)
    elif project.task_kind == TaskKind.ranking:
        plan = _plan_ranking(db, project, ids)
    else:
        plan = _plan_pairs(db, ids)
    categories = repo.prompt_categories(db, [pid for pid, _ in plan])
    item_ids = repo.insert_items(
        db,
        [
            {"project_id": project.id, "prompt_id": pid, "category": categories.get(pid), "required": project.overlap}
            for pid, _ in plan
        ],
    )
    repo.insert_item_completions(
        db,
        [
            {"item_id": item_id, "position": pos, "completion_id": cid}
            for item_id, (_, completion_ids) in zip(item_ids, plan, strict=True)
            for pos, cid in enumerate(completion_ids)
        ],
    )
    return len(plan)


def sync_prompt(db: Session, project: Project, prompt: Prompt) -> int:
    return sync_prompts(db, project, [prompt.id])


def add_prompts(db: Session, project: Project, prompts: Sequence[Prompt]) -> int:
    """Called after prompts are stored: demonstration projects get their items now;
    completion-based kinds wait for completions."""
    if project.task_kind != TaskKind.demonstration:
        return 0
    return sync_prompts(db, project, [p.id for p in prompts])


def add_completions(
    db: Session, project: Project, prompt: Prompt, completions: Sequence[Completion]
) -> int:
    """Called after ``completions`` of ``prompt`` are stored (import or sampler job)."""
    if not completions or project.task_kind not in COMPLETION_KINDS:
        return 0
    return sync_prompts(db, project, [prompt.id])


def ensure_prompt_writing_items(db: Session, project: Project) -> int:
    """Top up each category to ``prompts_per_category`` items (never removes any)."""
    if project.task_kind != TaskKind.prompt_writing:
        return 0
    repo.lock_project(db, project.id)
    have = repo.prompt_writing_counts(db, project.id)
    rows = [
        {"project_id": project.id, "prompt_id": None, "category": category, "required": project.overlap}
        for category in project.categories
        for _ in range(project.prompts_per_category - have.get(category, 0))
    ]
    return len(repo.insert_items(db, rows))


def backfill(db: Session, project: Project) -> int:
    """Items for every prompt of the project that can have one and has none yet
    (after an import, or when k_min / k_max changed); idempotent like everything here."""
    if project.task_kind == TaskKind.prompt_writing:
        return ensure_prompt_writing_items(db, project)
    if project.task_kind == TaskKind.demonstration:
        return sync_prompts(db, project, repo.prompts_without_items(db, project.id))
    return sync_prompts(db, project, repo.prompts_with_completions(db, project.id))
