"""Who won a blind evaluation: win rates, Bradley–Terry ratings and position bias.

Pure functions over ``Comparison`` rows (one labeler's verdict on one item, with the
models behind its canonical sides A and B); the queries are in repository.py.

Definitions (those of Chatbot Arena: Chiang et al. 2024, "Chatbot Arena: An Open
Platform for Evaluating LLMs by Human Preference", §4–5):

- A verdict prefers A, prefers B, calls the two replies a tie, or calls both bad.
  "Both bad" says neither reply is better than the other, so it counts as a tie.
  **A tie counts half a win for each side**, in the win rate and in Bradley–Terry.
- Win rate of X over Y: (wins of X + ties / 2) / comparisons of the pair, with
  Wilson's score interval (app/quality/stats.wilson): the figure that says who won
  a two-model evaluation.
- Bradley–Terry: P(i beats j) = 1 / (1 + exp(θj − θi)). A rating is
  1000 + 400/ln 10 · (θi − θref): 400 points per factor of 10 in the odds, the Elo
  scale. The reference model (the first of ``models`` that was compared, unless one
  is named) is fixed at 1000, so every interval is that of the difference to the
  reference, and the reference's own is zero wide. Only models joined to the
  reference by a chain of comparisons can be rated against it; every other group of
  models gets its own board, anchored at its first model.
- Prior: one virtual tie between every two models compared (``PRIOR_TIES``; the
  virtual draws of Coulom 2008, "Whole-History Rating", §2.3). Without it a model that
  won every comparison would have an infinite rating; with it, small evaluations are
  pulled a little toward an even match (30 wins to 10 reads as 30.5 to 10.5).
- Intervals of ratings: the percentile bootstrap, ``BOOTSTRAP`` replicates of all
  comparisons drawn with replacement, with a fixed seed so a page shows the same
  figures twice. A model that won every comparison it took part in (or lost every
  one) is marked with its ``sweep``: every replicate repeats the sweep, so its
  interval shrinks to a point and says nothing; its win rates' Wilson intervals still do.
- Position bias of the evaluation: of the verdicts that prefer a side, the share won
  by the reply the labeler saw first (50 % when labelers ignore the order; the order
  is shuffled per labeler), with its Wilson interval.

Why ``choix`` rather than our own solver: the maximum-likelihood fit is the part
most easily got subtly wrong (convergence, ties, a model that never lost). choix is a
maintained, tested implementation of I-LSR (Maystre & Grossglauser 2015, "Fast and
accurate inference of Plackett–Luce models") that needs only numpy and scipy, and its
``ilsr_pairwise_dense`` takes a matrix of win counts, which may be fractional: half
wins for ties, the virtual ties and bootstrap replicates go in as they are.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import choix
import numpy as np
import numpy.typing as npt

from app.models import Winner
from app.quality.stats import NONE, Estimate, wilson

Floats = npt.NDArray[np.float64]

SCALE = 400 / math.log(10)  # rating points per unit of θ (natural log of the odds)
BASE = 1000.0
BOOTSTRAP = 400  # replicates: the interval ends move by about 1 % of its width between seeds
SEED = 20240307
LEVEL = 0.95
PRIOR_TIES = 1.0  # virtual ties between every two models compared
MAX_ITER = 10_000


@dataclass(frozen=True)
class Comparison:
    """One verdict: the models at the item's canonical sides A and B and which side won.
    ``a_shown_first`` says whether the labeler saw A first (None when unknown)."""

    model_a: str
    model_b: str
    winner: Winner
    a_shown_first: bool | None = None


@dataclass(frozen=True)
class Pair:
    """Two models' head-to-head record; ``win_rate`` is ``model_a``'s over ``model_b``."""

    model_a: str
    model_b: str
    a_wins: int
    b_wins: int
    ties: int
    both_bad: int
    win_rate: Estimate

    @property
    def comparisons(self) -> int:
        return self.a_wins + self.b_wins + self.ties + self.both_bad


class Sweep(enum.StrEnum):
    won_all = "won_all"
    lost_all = "lost_all"


@dataclass(frozen=True)
class Rating:
    model: str
    rating: float
    low: float
    high: float
    comparisons: int
    rank: int
    sweep: Sweep | None = None  # won or lost every comparison: the interval is not informative


@dataclass(frozen=True)
class Leaderboard:
    reference: str | None
    ratings: list[Rating]
    # Groups of models never linked to this board's by comparisons, each on its own scale.
    others: list[Leaderboard] = field(default_factory=list)


class Outcome(enum.StrEnum):
    """How the verdict is worded (``Verdict.kind``)."""

    winner = "winner"
    no_clear_winner = "no_clear_winner"
    no_data = "no_data"


@dataclass(frozen=True)
class Verdict:
    kind: Outcome
    text: str
    winner: str | None = None
    runner_up: str | None = None
    win_rate: Estimate = NONE


@dataclass(frozen=True)
class Results:
    comparisons: int
    pairs: list[Pair]
    leaderboard: Leaderboard
    position: Estimate
    verdict: Verdict


# ----------------------------------------------------------------------- win rates


def pairs(comparisons: Iterable[Comparison], order: Sequence[str] = ()) -> list[Pair]:
    """Every pair of models compared at least once, the earlier one in ``order`` (then
    by name) as ``model_a``; each pair once, in that order."""
    rank = {m: i for i, m in enumerate(order)}

    def key(m: str) -> tuple[int, str]:
        return (rank.get(m, len(rank)), m)

    tally: Counter[tuple[str, str, str]] = Counter()
    for c in comparisons:
        if c.model_a == c.model_b:
            continue
        first, second = sorted((c.model_a, c.model_b), key=key)
        won = c.winner.value
        if c.winner in (Winner.a, Winner.b) and first != c.model_a:
            won = "b" if c.winner == Winner.a else "a"  # the sides swap with the models
        tally[(first, second, won)] += 1
    out = []
    for first, second in sorted({(a, b) for a, b, _ in tally}, key=lambda p: (key(p[0]), key(p[1]))):
        a, b = tally[(first, second, "a")], tally[(first, second, "b")]
        ties, bad = tally[(first, second, "tie")], tally[(first, second, "both_bad")]
        out.append(Pair(first, second, a, b, ties, bad, win_rate(a, b, ties + bad)))
    return out


def win_rate(wins: int, losses: int, ties: int) -> Estimate:
    """(wins + ties / 2) / comparisons with Wilson's interval; ties count half."""
    return wilson(wins + ties / 2, wins + losses + ties)


def position_bias(comparisons: Iterable[Comparison]) -> Estimate:
    """Share of the verdicts preferring a side that the reply shown first won."""
    first_won = decided = 0
    for c in comparisons:
        if c.a_shown_first is None or c.winner not in (Winner.a, Winner.b) or c.model_a == c.model_b:
            continue
        decided += 1
        first_won += (c.winner == Winner.a) == c.a_shown_first
    return wilson(first_won, decided)


# ----------------------------------------------------------------------- Bradley–Terry


def _components(models: Sequence[str], edges: Iterable[tuple[int, int]]) -> list[int]:
    """Union–find: the component label of each model."""
    parent = list(range(len(models)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in edges:
        parent[find(i)] = find(j)
    return [find(i) for i in range(len(models))]


def fit(wins: Floats) -> Floats:
    """θ of each model from ``wins[i, j]``, the (fractional) number of times i beat j;
    the comparison graph must be strongly connected (the prior's virtual ties make it so)."""
    return np.asarray(choix.ilsr_pairwise_dense(wins, max_iter=MAX_ITER), dtype=np.float64)


def _cells(comparisons: Sequence[Comparison], index: dict[str, int]) -> tuple[Floats, Floats]:
    """Distinct (pair, outcome) cells: their counts and each cell's m×m win matrix,
    flattened, with a tie as half a win each way."""
    m = len(index)
    tally: Counter[tuple[int, int, str]] = Counter()
    for c in comparisons:
        if c.model_a in index and c.model_b in index and c.model_a != c.model_b:
            decided = c.winner in (Winner.a, Winner.b)
            tally[(index[c.model_a], index[c.model_b], c.winner.value if decided else "tie")] += 1
    keys = sorted(tally)
    counts = np.array([tally[k] for k in keys], dtype=np.float64)
    effect = np.zeros((len(keys), m * m))
    for row, (i, j, won) in enumerate(keys):
        if won == "a":
            effect[row, i * m + j] = 1.0
        elif won == "b":
            effect[row, j * m + i] = 1.0
        else:
            effect[row, i * m + j] = effect[row, j * m + i] = 0.5
    return counts, effect


def leaderboard(comparisons: Sequence[Comparison], models: Sequence[str] = (),
                reference: str | None = None, *, prior: float = PRIOR_TIES, replicates: int = BOOTSTRAP,
                seed: int = SEED) -> Leaderboard:
    """Bradley–Terry ratings with bootstrap intervals; see the module's definitions.
    ``models`` orders the models (the first compared one is the default reference).
    Models with no chain of comparisons to the reference cannot be rated against it:
    each such group gets its own board, anchored at its first model, in ``others``."""
    compared = [c for c in comparisons if c.model_a != c.model_b]
    seen = {m for c in compared for m in (c.model_a, c.model_b)}
    names = [m for m in dict.fromkeys(models) if m in seen] + sorted(seen - set(models))
    if not names:
        return Leaderboard(None, [])
    ref = reference if reference in seen else names[0]
    index = {m: i for i, m in enumerate(names)}
    labels = _components(names, ((index[c.model_a], index[c.model_b]) for c in compared))
    groups = list(dict.fromkeys([labels[index[ref]], *labels]))
    boards = []
    for n, label in enumerate(groups):
        members = [m for m in names if labels[index[m]] == label]
        anchor = ref if n == 0 else members[0]
        mine = [c for c in compared if labels[index[c.model_a]] == label]
        boards.append(Leaderboard(anchor, _rate(mine, members, anchor, prior, replicates, seed)))
    return Leaderboard(boards[0].reference, boards[0].ratings, boards[1:])


def _rate(compared: Sequence[Comparison], rated: list[str], ref: str, prior: float, replicates: int,
          seed: int) -> list[Rating]:
    """One connected group of models, ``ref`` fixed at ``BASE``."""
    index = {m: i for i, m in enumerate(rated)}
    k = len(rated)
    counts, effect = _cells(compared, index)
    total = int(counts.sum())
    observed = (counts @ effect).reshape(k, k)
    compared_pairs = (observed + observed.T) > 0
    virtual = np.where(compared_pairs, prior / 2, 0.0)
    theta = fit(observed + virtual)
    point = BASE + SCALE * (theta - theta[index[ref]])
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, counts / total, size=replicates).astype(np.float64)
    samples = np.empty((replicates, k))
    for r, wins in enumerate(draws @ effect):
        t = fit(wins.reshape(k, k) + virtual)
        samples[r] = BASE + SCALE * (t - t[index[ref]])
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    played = Counter(m for c in compared for m in (c.model_a, c.model_b))
    wins, losses = observed.sum(axis=1), observed.sum(axis=0)
    sweeps = [Sweep.won_all if losses[i] == 0 else Sweep.lost_all if wins[i] == 0 else None for i in range(k)]
    order = sorted(rated, key=lambda m: (-point[index[m]], m))
    return [
        Rating(m, float(point[index[m]]), float(low[index[m]]), float(high[index[m]]), played[m], rank,
               sweeps[index[m]])
        for rank, m in enumerate(order, start=1)
    ]


# ----------------------------------------------------------------------- in words


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def verdict(board: Leaderboard, head_to_head: Sequence[Pair]) -> Verdict:
    """The winner in words: the top-rated model, and whether its lead over the
    runner-up is clear — their win rate's interval excludes 50 % when they were compared
    directly, else their rating intervals do not overlap."""
    if len(board.ratings) < 2:
        return Verdict(Outcome.no_data, "No two models have been compared yet.")
    top, second = board.ratings[0], board.ratings[1]
    pair = next((p for p in head_to_head if {p.model_a, p.model_b} == {top.model, second.model}), None)
    if pair is not None:
        return pair_verdict(pair, top.model)
    detail = (f"rated {top.rating:.0f} (95 % interval {top.low:.0f}–{top.high:.0f}) against "
              f"{second.rating:.0f} ({second.low:.0f}–{second.high:.0f})")
    return _worded(top.model, second.model, detail, top.low > second.high, NONE)


def pair_verdict(pair: Pair, leader: str | None = None) -> Verdict:
    """The verdict of one head-to-head record (the whole story of a two-model evaluation);
    ``leader`` defaults to the side winning at least half."""
    if pair.comparisons == 0:
        return Verdict(Outcome.no_data, "No two models have been compared yet.")
    if leader is None:
        leader = pair.model_a if (pair.win_rate.value or 0) >= 0.5 else pair.model_b
    rate = pair.win_rate if pair.model_a == leader else _flip(pair.win_rate)
    other = pair.model_b if leader == pair.model_a else pair.model_a
    detail = (f"it wins {_pct(rate.value)} of their {pair.comparisons} comparisons "
              f"(95 % interval {_pct(rate.low)}–{_pct(rate.high)}; ties count half)")
    return _worded(leader, other, detail, rate.low is not None and rate.low > 0.5, rate)


def _worded(top: str, second: str, detail: str, clear: bool, rate: Estimate) -> Verdict:
    if clear:
        return Verdict(Outcome.winner, f"{top} beats {second}: {detail}.", top, second, rate)
    return Verdict(Outcome.no_clear_winner,
                   f"No clear winner yet: {top} leads {second}, but {detail}, "
                   "which does not exclude an even match. More judgements would tell.",
                   top, second, rate)


def _flip(e: Estimate) -> Estimate:
    if e.value is None:
        return e
    return Estimate(1 - e.value, None if e.high is None else 1 - e.high,
                    None if e.low is None else 1 - e.low, e.n, e.se)


def results(comparisons: Sequence[Comparison], models: Sequence[str] = (),
            reference: str | None = None) -> Results:
    """Every figure of the results page."""
    table = pairs(comparisons, models)
    board = leaderboard(comparisons, models, reference)
    counted = sum(c.model_a != c.model_b for c in comparisons)
    return Results(counted, table, board, position_bias(comparisons), verdict(board, table))
