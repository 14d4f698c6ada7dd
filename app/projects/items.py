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

from app.models import Completion, ItemCompletion, Project, Prompt, TaskKind, WorkItem
from app.projects import repository as repo

PAIRED_KINDS = frozenset({TaskKind.pairwise, TaskKind.evaluation})
COMPLETION_KINDS = PAIRED_KINDS | {TaskKind.ranking}


def _new_item(db: Session, project: Project, prompt: Prompt | None, completion_ids: Sequence[int], category: str | None = None) -> WorkItem:
    item = WorkItem(
        project_id=project.id,
        prompt_id=prompt.id if prompt is not None else None,
        category=category if prompt is None else prompt.category,
        required=project.overlap,
    )
    db.add(item)
    db.flush()
    db.add_all(
        ItemCompletion(item_id=item.id, position=pos, completion_id=cid)
        for pos, cid in enumerate(completion_ids)
    )
    return item


def _sync_ranking(db: Session, project: Project, prompt: Prompt) -> int:
    if repo.prompt_has_item(db, prompt.id):
        return 0
    ids = repo.completion_ids(db, prompt.id)
    if len(ids) < project.k_min:
        return 0
    _new_item(db, project, prompt, ids[: project.k_max])
    return 1


def _sync_pairs(db: Session, project: Project, prompt: Prompt) -> int:
    used = repo.completion_ids_in_items(db, prompt.id)
    free = [cid for cid in repo.completion_ids(db, prompt.id) if cid not in used]
    pairs = [free[i : i + 2] for i in range(0, len(free) - 1, 2)]
    for pair in pairs:
        _new_item(db, project, prompt, pair)
    return len(pairs)


def _sync_demonstration(db: Session, project: Project, prompt: Prompt) -> int:
    if repo.prompt_has_item(db, prompt.id):
        return 0
    _new_item(db, project, prompt, [])
    return 1


def sync_prompt(db: Session, project: Project, prompt: Prompt) -> int:
    """Create whatever items the prompt and its completions now allow; returns how many."""
    repo.lock_prompt(db, prompt.id)
    if project.task_kind == TaskKind.demonstration:
        made = _sync_demonstration(db, project, prompt)
    elif project.task_kind == TaskKind.ranking:
        made = _sync_ranking(db, project, prompt)
    elif project.task_kind in PAIRED_KINDS:
        made = _sync_pairs(db, project, prompt)
    else:
        made = 0
    db.flush()
    return made


def add_prompts(db: Session, project: Project, prompts: Sequence[Prompt]) -> int:
    """Called after prompts are stored: demonstration projects get their items now;
    completion-based kinds wait for completions."""
    if project.task_kind != TaskKind.demonstration:
        return 0
    return sum(sync_prompt(db, project, prompt) for prompt in prompts)


def add_completions(
    db: Session, project: Project, prompt: Prompt, completions: Sequence[Completion]
) -> int:
    """Called after ``completions`` of ``prompt`` are stored (import or sampler job)."""
    if not completions or project.task_kind not in COMPLETION_KINDS:
        return 0
    return sync_prompt(db, project, prompt)


def ensure_prompt_writing_items(db: Session, project: Project) -> int:
    """Top up each category to ``prompts_per_category`` items (never removes any)."""
    if project.task_kind != TaskKind.prompt_writing:
        return 0
    repo.lock_project(db, project.id)
    have = repo.prompt_writing_counts(db, project.id)
    made = 0
    for category in project.categories:
        for _ in range(project.prompts_per_category - have.get(category, 0)):
            _new_item(db, project, None, [], category=category)
            made += 1
    db.flush()
    return made


def backfill(db: Session, project: Project) -> int:
    """Items for prompts stored before the project could make them (e.g. after a kind's
    settings changed); idempotent like everything here."""
    if project.task_kind == TaskKind.prompt_writing:
        return ensure_prompt_writing_items(db, project)
    return sum(sync_prompt(db, project, p) for p in repo.prompts_without_items(db, project.id))
