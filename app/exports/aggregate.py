"""Rankings of one item by several labelers folded into one (export option).

A ranking is best-first tie groups of completion ids. Both methods return the
same shape, so an aggregated record is written exactly like a labeler's.

* Borda: a completion scores one point per completion ranked strictly below it
  and half a point per completion tied with it, summed over labelers.
* Bradley–Terry: strengths fitted to every pairwise outcome implied by the
  rankings (a tie is half a win each way) with Hunter's MM algorithm (Hunter
  2004, "MM algorithms for generalized Bradley–Terry models"); a small virtual
  tie between every pair keeps strengths finite when one completion always wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

TieGroups = list[list[str]]
_EPS = 1e-9


def preference_pairs(ranking: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """All (better, worse) pairs of a best-first ranking; tied completions give none."""
    out: list[tuple[str, str]] = []
    for i, tier in enumerate(ranking):
        for lower in ranking[i + 1 :]:
            out.extend((w, lo) for w in tier for lo in lower)
    return out


def _groups_by_score(scores: dict[str, float], tol: float) -> TieGroups:
    ordered = sorted(scores, key=lambda c: (-scores[c], c))
    groups: TieGroups = []
    for cid in ordered:
        if groups and abs(scores[groups[-1][0]] - scores[cid]) <= tol:
            groups[-1].append(cid)
        else:
            groups.append([cid])
    return groups


def borda_scores(rankings: Sequence[Sequence[Sequence[str]]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        below = sum(len(t) for t in ranking)
        for tier in ranking:
            below -= len(tier)
            for cid in tier:
                scores[cid] = scores.get(cid, 0.0) + below + 0.5 * (len(tier) - 1)
    return scores


def borda(rankings: Sequence[Sequence[Sequence[str]]]) -> TieGroups:
    return _groups_by_score(borda_scores(rankings), _EPS)


def bradley_terry_strengths(
    rankings: Sequence[Sequence[Sequence[str]]],
    prior: float = 0.1,
    iterations: int = 500,
    tolerance: float = 1e-10,
) -> dict[str, float]:
    """Log-strengths (mean 0) of the Bradley–Terry model fitted to the rankings."""
    ids = sorted({cid for r in rankings for tier in r for cid in tier})
    if not ids:
        return {}
    index = {cid: i for i, cid in enumerate(ids)}
    n = len(ids)
    wins = [[0.0] * n for _ in range(n)]
    for ranking in rankings:
        for i, tier in enumerate(ranking):
            for a, b in combinations(tier, 2):  # a tie: half a win each way
                wins[index[a]][index[b]] += 0.5
                wins[index[b]][index[a]] += 0.5
            for lower in ranking[i + 1 :]:
                for w in tier:
                    for lo in lower:
                        wins[index[w]][index[lo]] += 1.0
    for i in range(n):
        for j in range(n):
            if i != j:
                wins[i][j] += prior / 2
    p = [1.0] * n
    for _ in range(iterations):
        new = []
        for i in range(n):
            w_i = sum(wins[i][j] for j in range(n) if j != i)
            denom = sum((wins[i][j] + wins[j][i]) / (p[i] + p[j]) for j in range(n) if j != i)
            new.append(w_i / denom if denom > 0 else p[i])
        log_mean = sum(math.log(x) for x in new) / n
        new = [x / math.exp(log_mean) for x in new]
        delta = max(abs(a - b) for a, b in zip(new, p, strict=True))
        p = new
        if delta < tolerance:
            break
    return {cid: math.log(p[index[cid]]) for cid in ids}


def bradley_terry(rankings: Sequence[Sequence[Sequence[str]]]) -> TieGroups:
    return _groups_by_score(bradley_terry_strengths(rankings), 1e-6)


AGGREGATORS = {"borda": borda, "bradley_terry": bradley_terry}
