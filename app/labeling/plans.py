"""How prompts and completions become work items: the plans a task kind names.

- ``OnePerPrompt`` (demonstration): one item per prompt.
- ``ranking_groups()`` (ranking): a prompt's completions that are in no item yet form
  a *round*; with at least k_min of them it becomes an item of the first k_max in
  import order (and more items of that round while k_min are left). Fewer than k_min
  wait for more completions of their prompt and are reported. An item, once made,
  never changes: labelers may already have ranked exactly those completions.
- ``pairs()`` (pairwise, evaluation): a prompt's free completions pair up in
  import order, (c0, c1), (c2, c3), ...; an odd one out waits for the next completion
  of its prompt and is reported.
- ``PerCategory`` (prompt writing): ``prompts_per_category`` items per category, no
  prompt.

A plan only says which items to make; app/labeling/items.py stores them, numbers
their rounds and holds the lock.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy.orm import Session

from app.labeling import items_repository as repo
from app.models import Project

# Keep the report's per-prompt list small on huge imports; the counts stay exact.
WAITING_LISTED = 100


class NotQueued(enum.StrEnum):
    """Why completions did not reach the queue (yet)."""

    too_few_completions = "too_few_completions"  # a ranking round needs k_min of them
    odd_one_out = "odd_one_out"  # a pair needs a partner
    not_used_by_kind = "not_used_by_kind"  # demonstration and prompt writing rank nothing


@dataclass(frozen=True)
class PlannedItem:
    prompt_id: int | None
    completion_ids: list[int] = field(default_factory=list)
    category: str | None = None  # prompt writing; other items take their prompt's


@dataclass(frozen=True)
class Waiting:
    """Completions of one prompt that are not in any item."""

    prompt_id: int
    completions: int
    reason: NotQueued


@dataclass
class QueueReport:
    """What a call made and what it left out, with the reason; pass one to the functions
    of app/labeling/items.py to collect it over many calls."""

    created: int = 0
    not_queued: Counter[NotQueued] = field(default_factory=Counter)  # completions by reason
    waiting: list[Waiting] = field(default_factory=list)  # the first WAITING_LISTED prompts

    def wait(self, prompt_id: int, completions: int, reason: NotQueued) -> None:
        self.not_queued[reason] += completions
        if len(self.waiting) < WAITING_LISTED:
            self.waiting.append(Waiting(prompt_id, completions, reason))

    def as_dict(self) -> dict[str, object]:
        """For a job's result or an import report."""
        return {
            "items": self.created,
            "not_queued": {reason.value: n for reason, n in sorted(self.not_queued.items())},
        }


class ItemPlan(ABC):
    takes_completions: ClassVar[bool] = False

    @abstractmethod
    def for_prompts(
        self, db: Session, project: Project, prompt_ids: Sequence[int], report: QueueReport
    ) -> list[PlannedItem]:
        """The items these prompts (and their completions) allow now."""

    def backfill(self, db: Session, project: Project, report: QueueReport) -> list[PlannedItem]:
        """The items every prompt of the project allows now."""
        return self.for_prompts(db, project, repo.prompts_with_completions(db, project.id), report)

    def top_up(self, db: Session, project: Project) -> list[PlannedItem]:
        """Items the project's settings ask for, independent of its prompts (none here)."""
        return []


class OnePerPrompt(ItemPlan):
    def for_prompts(
        self, db: Session, project: Project, prompt_ids: Sequence[int], report: QueueReport
    ) -> list[PlannedItem]:
        have = repo.prompts_with_items(db, prompt_ids)
        return [PlannedItem(pid) for pid in prompt_ids if pid not in have]

    def backfill(self, db: Session, project: Project, report: QueueReport) -> list[PlannedItem]:
        return self.for_prompts(db, project, repo.prompts_without_items(db, project.id), report)


def _free_completions(db: Session, prompt_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each prompt's completions that are in none of its items, in import order."""
    used = repo.completion_ids_in_items(db, prompt_ids)
    by_prompt = repo.completion_ids_by_prompt(db, prompt_ids)
    return {pid: [cid for cid in cids if cid not in used] for pid, cids in by_prompt.items()}


class CompletionGroups(ItemPlan):
    """Items of ``sizes(project)`` = (at least, at most) free completions of a prompt;
    completions too few for one more item wait, reported as ``short``."""

    takes_completions = True

    def __init__(self, sizes: Callable[[Project], tuple[int, int]], short: NotQueued) -> None:
        self.sizes = sizes
        self.short = short

    def for_prompts(
        self, db: Session, project: Project, prompt_ids: Sequence[int], report: QueueReport
    ) -> list[PlannedItem]:
        least, most = self.sizes(project)
        free = _free_completions(db, prompt_ids)
        plan: list[PlannedItem] = []
        for pid in prompt_ids:
            left = free.get(pid, [])
            while len(left) >= least:
                plan.append(PlannedItem(pid, left[:most]))
                left = left[most:]
            if left:
                report.wait(pid, len(left), self.short)
        return plan


def ranking_groups() -> CompletionGroups:
    """A ranking shows k_min..k_max completions (the project's settings)."""
    return CompletionGroups(lambda project: (project.k_min, project.k_max), NotQueued.too_few_completions)


def pairs() -> CompletionGroups:
    """A pair shows two completions, in import order."""
    return CompletionGroups(lambda project: (2, 2), NotQueued.odd_one_out)


class PerCategory(ItemPlan):
    def for_prompts(
        self, db: Session, project: Project, prompt_ids: Sequence[int], report: QueueReport
    ) -> list[PlannedItem]:
        return []  # prompt-writing items ask for prompts; they are not made from them

    def backfill(self, db: Session, project: Project, report: QueueReport) -> list[PlannedItem]:
        return self.top_up(db, project)

    def top_up(self, db: Session, project: Project) -> list[PlannedItem]:
        """Each category topped up to ``prompts_per_category`` items (never removes any)."""
        have = repo.prompt_writing_counts(db, project.id)
        return [
            PlannedItem(None, category=category)
            for category in project.categories
            for _ in range(project.prompts_per_category - have.get(category, 0))
        ]
