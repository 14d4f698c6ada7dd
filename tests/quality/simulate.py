"""Simulated labelers of known quality, for the statistics to recover.

Every item has completions of known utility; a labeler's behaviour says how they answer:

- ``accurate``: prefers the truly better answer with probability ``accuracy``;
- ``position``: picks the answer shown first with probability ``bias``, else answers
  like an accurate labeler (so the first-shown answer wins ``bias + (1 − bias)/2``);
- ``longer``: picks the longer answer with probability ``bias``;
- ``fast``: answers like an accurate labeler of ``accuracy`` but in about a second.

Rankings are built by pairwise choices the same way (a noisy sort), so the pairwise
accuracy of a ranking labeler is known too. Everything is seeded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["pairwise", "ranking"]
MARGINS = ("negligibly_better", "slightly_better", "better", "significantly_better")


@dataclass(frozen=True)
class Labeler:
    name: str
    behaviour: Literal["accurate", "position", "longer", "fast"]
    accuracy: float = 0.95
    bias: float = 0.0
    seconds: float = 25.0


@dataclass
class SimItem:
    index: int
    utilities: list[float]
    lengths: list[int]
    gold: bool = False


@dataclass
class SimJudgement:
    item: int
    labeler: int
    shown: list[int]  # completion indices in the order shown
    groups: list[list[int]] | None  # ranking tie groups best first (pairwise: winner first)
    margin: str | None
    seconds: float


@dataclass
class Simulation:
    kind: Kind
    k: int
    labelers: list[Labeler]
    items: list[SimItem] = field(default_factory=list)
    judgements: list[SimJudgement] = field(default_factory=list)


def better(labeler: Labeler, item: SimItem, x: int, y: int, shown: list[int], rng: random.Random) -> bool:
    """Whether the labeler prefers completion x over y."""
    truth = item.utilities[x] > item.utilities[y]
    if labeler.behaviour == "position" and rng.random() < labeler.bias:
        return shown.index(x) < shown.index(y)
    if labeler.behaviour == "longer" and rng.random() < labeler.bias:
        return item.lengths[x] > item.lengths[y]
    return truth if rng.random() < labeler.accuracy else not truth


def simulate(
    labelers: list[Labeler], *, kind: Kind = "pairwise", items: int = 200, gold: int = 40, k: int | None = None,
    overlap: int | None = None, seed: int = 7,
) -> Simulation:
    rng = random.Random(seed)
    k = k or (2 if kind == "pairwise" else 4)
    sim = Simulation(kind, k, labelers)
    for i in range(items + gold):
        utilities = [rng.gauss(0, 1) for _ in range(k)]
        lengths = [rng.randint(40, 400) for _ in range(k)]
        sim.items.append(SimItem(i, utilities, lengths, gold=i >= items))
    for item in sim.items:
        judges = range(len(labelers)) if overlap is None or item.gold else rng.sample(range(len(labelers)), overlap)
        for li in judges:
            labeler = labelers[li]
            shown = list(range(k))
            rng.shuffle(shown)
            seconds = rng.uniform(0.4, 1.4) if labeler.behaviour == "fast" else rng.lognormvariate(0, 0.3) * labeler.seconds
            if kind == "pairwise":
                a_wins = better(labeler, item, 0, 1, shown, rng)
                groups = [[0], [1]] if a_wins else [[1], [0]]
                margin = rng.choice(MARGINS)
            else:
                order = _noisy_sort(labeler, item, shown, rng)
                groups = [[c] for c in order]
                margin = None
            sim.judgements.append(SimJudgement(item.index, li, shown, groups, margin, seconds))
    return sim


def _noisy_sort(labeler: Labeler, item: SimItem, shown: list[int], rng: random.Random) -> list[int]:
    order = list(shown)
    for i in range(1, len(order)):  # insertion sort with noisy comparisons
        j = i
        while j > 0 and better(labeler, item, order[j], order[j - 1], shown, rng):
            order[j], order[j - 1] = order[j - 1], order[j]
            j -= 1
    return order


def gold_order(item: SimItem) -> list[int]:
    return sorted(range(len(item.utilities)), key=lambda c: -item.utilities[c])
