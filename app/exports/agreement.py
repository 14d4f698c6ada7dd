"""Labeler agreement: how often a labeler's comparisons match other labelers'.

For every item judged by at least two labelers, each judgement is reduced to
its comparisons between pairs of completions (a ranking gives C(K,2), a
pairwise judgement one): +1 if the first completion of the pair is preferred,
-1 if the second, 0 for a tie. A labeler's agreement is the fraction of
(their comparison, another labeler's comparison of the same pair) matches —
the statistic InstructGPT reports (about 73% between training labelers,
Ouyang et al. 2022, section 5.1). Both-bad and not-rankable verdicts carry
no preference and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Comparisons = dict[tuple[str, str], int]


@dataclass
class AgreementStat:
    agreed: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return self.agreed / self.total if self.total else None


@dataclass
class ItemJudgements:
    """One item's judgements: labeler id -> that labeler's comparisons."""

    item_id: int
    by_labeler: dict[int, Comparisons] = field(default_factory=dict)


def ranking_comparisons(ranking: Iterable[Iterable[str]]) -> Comparisons:
    """Sign of every pair (smaller id first) of a best-first ranking with tie groups."""
    rank: dict[str, int] = {}
    for g, tier in enumerate(ranking):
        for cid in tier:
            rank[cid] = g
    out: Comparisons = {}
    for a, b in combinations(sorted(rank), 2):
        out[(a, b)] = (rank[a] < rank[b]) - (rank[a] > rank[b])
    return out


def pairwise_comparisons(first: str, second: str, winner: str) -> Comparisons:
    """A pairwise verdict ('a' = ``first`` preferred, 'b', 'tie') as one comparison."""
    sign = {"a": 1, "b": -1, "tie": 0}.get(winner)
    if sign is None:
        return {}
    if first > second:
        first, second, sign = second, first, -sign
    return {(first, second): sign}


def agreement_from_items(items: Iterable[ItemJudgements]) -> dict[int, AgreementStat]:
    stats: dict[int, AgreementStat] = {}
    for item in items:
        labelers = list(item.by_labeler)
        for user in labelers:
            mine = item.by_labeler[user]
            stat = stats.setdefault(user, AgreementStat())
            for other in labelers:
                if other == user:
                    continue
                theirs = item.by_labeler[other]
                for pair, sign in mine.items():
                    if pair in theirs:
                        stat.total += 1
                        stat.agreed += sign == theirs[pair]
    return stats


def labeler_agreement(db: Session, project_id: int) -> dict[int, AgreementStat]:
    """Agreement per labeler (user id) over the project's multiply-judged items.

    Streams item by item, so memory is bounded by the largest item's judgements.
    """
    from app.exports import repository

    return agreement_from_items(repository.iter_shared_item_judgements(db, project_id))
