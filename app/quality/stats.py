"""The statistics of quality control: pure functions over judgements, numpy for the
intervals, no SQL.

Two stages keep the quality page fast at a million judgements:

1. ``contributions`` turns one item and its judgements into *bins*: ``(metric, user,
   other, day, a, c) -> count``, e.g. "labeler 7 agreed on 5 of the 6 untied pairs they
   share with others on this item". An item's bins are replaced whenever it changes
   (app/quality/service.py keeps their sum per project in ``quality_bins``).
2. ``summarize`` reads the summed bins and computes every figure with an interval.

Definitions (InstructGPT's agreement, Ouyang et al. 2022 §5.1; Krippendorff 2011,
"Computing Krippendorff's alpha-reliability"):

- A judgement compares every two completions of its item: +1 when the first (in the
  item's canonical order) is preferred, −1 the second, 0 a tie. Two labelers *agree*
  on a pair both left untied when they prefer the same side: agreement is over the
  untied pairs they share. Not rankable / both bad give no pairs.
- Leave one out: a labeler's untied pairs against the majority sign of the other
  labelers on that pair (pairs the others tie overall are left out).
- Kendall's tau-b between two labelers' rankings of an item (ties corrected).
- Pairwise margin: the same preferred side *and* the same margin label.
- Krippendorff's alpha (ordinal): for rankings a unit is one completion of an item and
  its value the tie-group rank it was given; for pairwise a unit is an item and its
  value the signed margin (A significantly better … tie … B significantly better).
- Position bias: of a labeler's untied pairs, how many the answer shown first won
  (50 % expected: the order is shuffled per labeler). Length bias: how many the longer
  answer won, against the other labelers' rate on the same project (flagged when
  higher: favouring the longer answer).
- Too fast: quicker than ``READ_CHARS_PER_SECOND`` over what the task shows, or under
  ``MIN_READ_SECONDS``.

Intervals are bootstraps over the units a figure is made of (items, or judgements),
seeded so a page shows the same numbers twice. A bin of ``n`` identical units gets a
Poisson(n) weight in each replicate — the Poisson bootstrap (Hanley & MacGibbon 2006),
which resamples units without materialising them, so its cost depends on the number of
distinct bins, not of judgements. Alpha is not a ratio of per-item sums; its interval
resamples ``ALPHA_GROUPS`` random groups of items. Gold accuracy, skip rate and the
share of too-fast judgements, being plain proportions, get Wilson intervals.
A flag needs both a large effect and significance (|z| ≥ ``FLAG_Z``, p < 0.001 two-sided):
with a dozen labelers and several figures each, a 5 % test would flag an accurate
labeler by chance on most pages.
"""

from __future__ import annotations

import enum
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from app.models import Metric
from app.quality.gold import GoldSpec, correct

Floats = npt.NDArray[np.float64]
BinKey = tuple[Metric, int, int, int, int, int]  # metric, user, other, day, a, c

PROJECT = 0  # the user id of project-wide bins
READ_CHARS_PER_SECOND = 80.0  # about 1,000 words a minute: faster is not reading
MIN_READ_SECONDS = 2.0
SECONDS_BASE = 0.25  # seconds histogram: bucket i covers [BASE·R^i, BASE·R^(i+1))
SECONDS_RATIO = 1.2
SECONDS_BUCKETS = 60  # up to about four hours
ALPHA_GROUPS = 64
ALPHA_VALUES = 9  # ranks 0..8 (K ≤ 9); pairwise margins −4..4 shifted to 0..8
TAU_SCALE = 1000
BOOTSTRAP = 500  # replicates: interval ends within a few % of their width
LEVEL = 0.95
FLAG_Z = 3.29
MIN_UNITS = 10  # fewer units than this: a figure is shown, never flagged
POSITION_EFFECT = 0.10
LENGTH_EFFECT = 0.10
AGREEMENT_EFFECT = 0.15
RATE_EFFECT = 0.20
FAST_SHARE = 0.20
FAST_MEDIAN_RATIO = 0.5


# ------------------------------------------------------------------ judgements of an item


@dataclass(frozen=True)
class Vote:
    """One judgement as the statistics see it."""

    judgement_id: int
    user_id: int
    day: int  # days since 1970-01-01 (UTC)
    seconds: float
    shown: tuple[str, ...]  # completion ids in the order this labeler saw them
    ranks: Mapping[str, int] | None  # tie group per completion, 0 best; None: no preference
    margin: int | None = None  # pairwise: ± margin magnitude, + when A (canonical first) won


@dataclass(frozen=True)
class ItemData:
    item_id: int
    completions: tuple[str, ...]  # canonical order
    lengths: Mapping[str, int]
    chars: int  # prompt and completions: what a labeler has to read
    votes: tuple[Vote, ...]
    gold: GoldSpec | None = None
    pairwise: bool = False  # two answers with a margin (pairwise, evaluation)


@dataclass
class ItemStats:
    bins: Counter[BinKey]
    labelers: int
    agreed: int
    compared: int

    @property
    def dispute(self) -> float:
        return 1.0 - self.agreed / self.compared if self.compared else 0.0


def pair_signs(ranks: Mapping[str, int], completions: Sequence[str]) -> dict[tuple[int, int], int]:
    """+1 / −1 / 0 for every two completions (by canonical index) both ranked."""
    idx = [(i, ranks[c]) for i, c in enumerate(completions) if c in ranks]
    return {(i, j): (ri < rj) - (ri > rj) for (i, ri), (j, rj) in combinations(idx, 2)}


def shared_agreement(mine: Mapping[tuple[int, int], int], theirs: Mapping[tuple[int, int], int]) -> tuple[int, int]:
    """(agreed, compared) over the pairs both left untied."""
    agreed = compared = 0
    for pair, sign in mine.items():
        other = theirs.get(pair, 0)
        if sign and other:
            compared += 1
            agreed += sign == other
    return agreed, compared


def kendall_tau_b(mine: Mapping[tuple[int, int], int], theirs: Mapping[tuple[int, int], int]) -> float | None:
    """Kendall's tau-b over the pairs both ranked; None when either tied everything."""
    concordant = discordant = tied_mine = tied_theirs = total = 0
    for pair, sign in mine.items():
        if pair not in theirs:
            continue
        other = theirs[pair]
        total += 1
        tied_mine += sign == 0
        tied_theirs += other == 0
        if sign and other:
            concordant += sign == other
            discordant += sign != other
    denominator = math.sqrt((total - tied_mine) * (total - tied_theirs))
    return (concordant - discordant) / denominator if denominator else None


def copeland(signs: Sequence[Mapping[tuple[int, int], int]], k: int) -> list[list[int]]:
    """Completion indices best first by pairwise majority: a point for each completion
    the labelers' majority prefers it to, half for a tie (Copeland's method)."""
    if not signs:
        return []
    score = [0.0] * k
    for i, j in combinations(range(k), 2):
        votes = sum(s.get((i, j), 0) for s in signs)
        score[i] += 1.0 if votes > 0 else 0.5 if votes == 0 else 0.0
        score[j] += 1.0 if votes < 0 else 0.5 if votes == 0 else 0.0
    tiers: dict[float, list[int]] = {}
    for index in range(k):
        tiers.setdefault(score[index], []).append(index)
    return [tiers[s] for s in sorted(tiers, reverse=True)]


def alpha_group(item_id: int) -> int:
    """A fixed pseudo-random group per item (Knuth's multiplicative hash)."""
    return (item_id * 2654435761 % 2**32) % ALPHA_GROUPS


def is_too_fast(seconds: float, chars: int) -> bool:
    return seconds < max(MIN_READ_SECONDS, chars / READ_CHARS_PER_SECOND)


def seconds_bucket(seconds: float) -> int:
    if seconds <= SECONDS_BASE:
        return 0
    return min(SECONDS_BUCKETS - 1, int(math.log(seconds / SECONDS_BASE) / math.log(SECONDS_RATIO)))


def contributions(item: ItemData) -> ItemStats:
    """Everything one item adds to the bins, from its current (valid) judgements."""
    bins: Counter[BinKey] = Counter()
    signs = {v.user_id: pair_signs(v.ranks, item.completions) for v in item.votes if v.ranks is not None}
    for vote in item.votes:
        _per_judgement(bins, item, vote, signs.get(vote.user_id))
    users = sorted(signs)
    agreed: dict[int, int] = defaultdict(int)
    compared: dict[int, int] = defaultdict(int)
    tau_sum: dict[int, float] = defaultdict(float)
    tau_n: dict[int, int] = defaultdict(int)
    margin_agreed: dict[int, int] = defaultdict(int)
    margin_n: dict[int, int] = defaultdict(int)
    margins = {v.user_id: v.margin for v in item.votes if v.ranks is not None and v.margin is not None}
    project_tau, project_tau_n, project_margin, project_margin_n = 0.0, 0, 0, 0
    for u, v in combinations(users, 2):
        a, c = shared_agreement(signs[u], signs[v])
        if c:
            bins[(Metric.pair, u, v, 0, a, c)] += 1
            for w in (u, v):
                agreed[w] += a
                compared[w] += c
        tau = None if item.pairwise else kendall_tau_b(signs[u], signs[v])
        if tau is not None:
            for w in (u, v):
                tau_sum[w] += tau
                tau_n[w] += 1
            project_tau += tau
            project_tau_n += 1
        if u in margins and v in margins:
            same = margins[u] == margins[v]
            for w in (u, v):
                margin_agreed[w] += same
                margin_n[w] += 1
            project_margin += same
            project_margin_n += 1
    days = {v.user_id: v.day for v in item.votes}
    for u in users:
        if compared[u]:
            bins[(Metric.agree, u, 0, 0, agreed[u], compared[u])] += 1
            bins[(Metric.agree_day, PROJECT, 0, days[u], agreed[u], compared[u])] += 1
        a, c = _leave_one_out(signs, u)
        if c:
            bins[(Metric.loo, u, 0, 0, a, c)] += 1
        if tau_n[u]:
            bins[(Metric.tau, u, 0, 0, round(TAU_SCALE * tau_sum[u]), tau_n[u])] += 1
        if margin_n[u]:
            bins[(Metric.margin, u, 0, 0, margin_agreed[u], margin_n[u])] += 1
    total_agreed, total_compared = sum(agreed.values()), sum(compared.values())
    if total_compared:
        bins[(Metric.agree, PROJECT, 0, 0, total_agreed, total_compared)] += 1
    if project_tau_n:
        bins[(Metric.tau, PROJECT, 0, 0, round(TAU_SCALE * project_tau), project_tau_n)] += 1
    if project_margin_n:
        bins[(Metric.margin, PROJECT, 0, 0, project_margin, project_margin_n)] += 1
    _coincidences(bins, item)
    # Each agreement is counted from both sides; the item's own figure counts it once.
    return ItemStats(bins, len(users), total_agreed // 2, total_compared // 2)


def _per_judgement(
    bins: Counter[BinKey], item: ItemData, vote: Vote, signs: Mapping[tuple[int, int], int] | None
) -> None:
    u = vote.user_id
    bins[(Metric.seconds, u, 0, 0, seconds_bucket(vote.seconds), 1)] += 1
    bins[(Metric.fast, u, 0, 0, int(is_too_fast(vote.seconds, item.chars)), 1)] += 1
    if len(item.completions) >= 2:
        bins[(Metric.unusable, u, 0, 0, int(vote.ranks is None), 1)] += 1
    if item.gold is not None and not item.gold.screening:  # screening is scored on its own
        bins[(Metric.gold, u, 0, 0, int(correct(item.gold, vote.ranks, vote.margin)), 1)] += 1
    if not signs:
        return
    where = {c: i for i, c in enumerate(vote.shown)}
    first_wins = untied = longer_wins = unequal = 0
    for (i, j), sign in signs.items():
        if not sign:
            continue
        ci, cj = item.completions[i], item.completions[j]
        winner = ci if sign > 0 else cj
        if ci in where and cj in where:
            untied += 1
            first_wins += winner == (ci if where[ci] < where[cj] else cj)
        li, lj = item.lengths.get(ci, 0), item.lengths.get(cj, 0)
        if li != lj:
            unequal += 1
            longer_wins += winner == (ci if li > lj else cj)
    if untied:
        bins[(Metric.position, u, 0, 0, first_wins, untied)] += 1
    if unequal:
        bins[(Metric.length, u, 0, 0, longer_wins, unequal)] += 1


def _leave_one_out(signs: Mapping[int, Mapping[tuple[int, int], int]], user: int) -> tuple[int, int]:
    agreed = compared = 0
    for pair, sign in signs[user].items():
        if not sign:
            continue
        consensus = sum(s.get(pair, 0) for u, s in signs.items() if u != user)
        if consensus:
            compared += 1
            agreed += (consensus > 0) == (sign > 0)
    return agreed, compared


def _coincidences(bins: Counter[BinKey], item: ItemData) -> None:
    """Ordered pairs of values two coders gave the same unit, by how many coders valued
    the unit (``m``) — Krippendorff's coincidences before the 1/(m−1) weight."""
    units: list[list[int]] = []
    rated = [v for v in item.votes if v.ranks is not None]
    if item.pairwise:
        units.append([v.margin + ALPHA_VALUES // 2 for v in rated if v.margin is not None])
    else:
        for cid in item.completions:
            units.append([min(v.ranks[cid], ALPHA_VALUES - 1) for v in rated if v.ranks and cid in v.ranks])
    group = alpha_group(item.item_id)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for x, y in combinations(values, 2):
            bins[(Metric.coincidence, m, group, 0, x, y)] += 1
            bins[(Metric.coincidence, m, group, 0, y, x)] += 1


# ------------------------------------------------------------------ figures with intervals


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0  # units the figure is made of (items or judgements)
    se: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


NONE = Estimate(None)


@dataclass(frozen=True)
class Histogram:
    """Units with ``a`` successes out of ``c``, ``n`` of each."""

    a: Floats
    c: Floats
    n: Floats

    @classmethod
    def of(cls, rows: Iterable[tuple[int, int, int]]) -> Histogram:
        data = np.array(list(rows), dtype=np.float64).reshape(-1, 3)
        return cls(data[:, 0], data[:, 1], data[:, 2])

    @property
    def units(self) -> int:
        return int(self.n.sum())

    @property
    def successes(self) -> float:
        return float((self.a * self.n).sum())

    @property
    def trials(self) -> float:
        return float((self.c * self.n).sum())


def ratio(hist: Histogram, rng: np.random.Generator, scale: float = 1.0) -> Estimate:
    """Σa / Σc over units (scaled), with a percentile Poisson-bootstrap interval."""
    return ratios([hist], rng, scale)[0]


def ratios(hists: Sequence[Histogram], rng: np.random.Generator, scale: float = 1.0) -> list[Estimate]:
    """``ratio`` for many histograms with one vectorised bootstrap."""
    out = [NONE for _ in hists]
    live = [i for i, h in enumerate(hists) if h.trials > 0]
    if not live:
        return out
    a = np.concatenate([hists[i].a for i in live])
    c = np.concatenate([hists[i].c for i in live])
    n = np.concatenate([hists[i].n for i in live])
    starts = np.cumsum([0, *[len(hists[i].n) for i in live[:-1]]])
    weights = rng.poisson(n, size=(BOOTSTRAP, len(n))).astype(np.float64)
    num = np.add.reduceat(weights * a, starts, axis=1)
    den = np.add.reduceat(weights * c, starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = np.where(den > 0, num / den, np.nan) / scale
    low, high, se = _interval(samples)
    for col, i in enumerate(live):
        h = hists[i]
        out[i] = Estimate(h.successes / h.trials / scale, float(low[col]), float(high[col]), h.units, float(se[col]))
    return out


def wilson(successes: float, trials: float, z: float = 1.959964) -> Estimate:
    """Wilson's score interval for a proportion (Wilson 1927)."""
    if trials <= 0:
        return NONE
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), int(trials), math.sqrt(p * (1 - p) / trials))


def median_seconds(counts: Floats, rng: np.random.Generator) -> Estimate:
    """The median of a seconds histogram (interpolated on the log scale), bootstrapped."""
    return medians(counts[np.newaxis, :], rng)[0]


def medians(counts: Floats, rng: np.random.Generator) -> list[Estimate]:
    """``median_seconds`` of each row of ``counts`` (histograms × buckets), vectorised."""
    totals = counts.sum(axis=1)
    points = _histogram_median(counts)
    samples = _histogram_median(rng.poisson(counts, size=(BOOTSTRAP, *counts.shape)).astype(np.float64))
    low, high, se = _interval(samples)
    return [
        Estimate(float(points[i]), float(low[i]), float(high[i]), int(totals[i]), float(se[i])) if totals[i] > 0
        else NONE
        for i in range(len(counts))
    ]


def _interval(samples: Floats) -> tuple[Floats, Floats, Floats]:
    """Percentile interval (``LEVEL``) and standard deviation of each column of bootstrap
    replicates, ignoring NaN (a replicate that drew no unit), without numpy's slow
    column-by-column ``nanquantile``."""
    ordered = np.sort(samples, axis=0)  # NaN last
    valid = (~np.isnan(samples)).sum(axis=0)
    tail = (1 - LEVEL) / 2
    ends = []
    for q in (tail, 1 - tail):
        position = q * np.maximum(valid - 1, 0)
        below = np.floor(position).astype(np.intp)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        lo = np.take_along_axis(ordered, below[np.newaxis, :], 0)[0]
        hi = np.take_along_axis(ordered, above[np.newaxis, :], 0)[0]
        ends.append(np.where(valid > 0, lo + (hi - lo) * (position - below), np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(samples, axis=0) / valid
        se = np.sqrt(np.nansum((samples - mean) ** 2, axis=0) / valid)
    return ends[0], ends[1], se


def _histogram_median(counts: Floats) -> Floats:
    """Medians of histograms along the last axis (NaN for an empty one)."""
    totals = counts.sum(axis=-1)
    cumulative = np.cumsum(counts, axis=-1)
    half = totals / 2
    index = np.minimum((cumulative < half[..., np.newaxis]).sum(axis=-1), counts.shape[-1] - 1)
    before = np.where(index > 0, np.take_along_axis(cumulative, np.maximum(index - 1, 0)[..., np.newaxis], -1)[..., 0], 0.0)
    inside = np.take_along_axis(counts, index[..., np.newaxis], -1)[..., 0]
    fraction = np.divide(half - before, inside, out=np.full_like(half, 0.5), where=inside > 0)
    result: Floats = SECONDS_BASE * SECONDS_RATIO ** (index + np.clip(fraction, 0.0, 1.0))
    return np.where(totals > 0, result, np.nan)


def alpha_from_coincidences(o: Floats) -> Floats:
    """Krippendorff's ordinal alpha from coincidence matrices ``o`` of shape (..., V, V)."""
    n_v = o.sum(axis=-1)
    n = n_v.sum(axis=-1)
    cum = np.cumsum(n_v, axis=-1)
    V = o.shape[-1]
    lo = np.minimum.outer(np.arange(V), np.arange(V))
    hi = np.maximum.outer(np.arange(V), np.arange(V))
    before = np.where(lo > 0, np.take(cum, np.maximum(lo - 1, 0), axis=-1), 0.0)
    between = np.take(cum, hi, axis=-1) - before
    delta = (between - (n_v[..., :, np.newaxis] + n_v[..., np.newaxis, :]) / 2) ** 2
    observed = (o * delta).sum(axis=(-1, -2))
    expected = (n_v[..., :, np.newaxis] * n_v[..., np.newaxis, :] * delta).sum(axis=(-1, -2))
    expected = expected / np.maximum(n - 1, 1e-12)
    out: Floats = np.divide(observed, expected, out=np.full_like(observed, np.nan), where=expected > 0)
    return 1.0 - out


def krippendorff_alpha(groups: Mapping[int, Floats], rng: np.random.Generator) -> Estimate:
    """Ordinal alpha over the summed coincidences; interval by resampling item groups."""
    if not groups:
        return NONE
    stack = np.stack([groups[g] for g in sorted(groups)])
    point = float(alpha_from_coincidences(stack.sum(axis=0)))
    if not math.isfinite(point):
        return NONE
    picks = rng.multinomial(len(stack), np.full(len(stack), 1 / len(stack)), size=BOOTSTRAP).astype(np.float64)
    samples = alpha_from_coincidences(np.einsum("bg,gij->bij", picks, stack))
    samples = samples[np.isfinite(samples)]
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(samples, [tail, 1 - tail]) if len(samples) else (point, point)
    values = round(float(stack.sum()))  # pairable values (alpha's n)
    return Estimate(point, float(low), float(high), values, float(samples.std()) if len(samples) > 1 else None)


def significant(estimate: Estimate, expected: float, min_effect: float) -> bool:
    """Far enough from ``expected`` and unlikely by chance (see the module docstring)."""
    if estimate.value is None or estimate.n < MIN_UNITS or not estimate.se:
        return False
    effect = estimate.value - expected
    return abs(effect) >= min_effect and abs(effect) / estimate.se >= FLAG_Z


# ------------------------------------------------------------------ the summary of a project


class Flag(enum.StrEnum):
    """What a labeler can be flagged for."""

    position_bias = "position_bias"
    length_bias = "length_bias"
    too_fast = "too_fast"
    low_agreement = "low_agreement"
    low_gold = "low_gold"
    unusable_often = "unusable_often"
    skips_often = "skips_often"


@dataclass(frozen=True)
class Thresholds:
    gold_min_accuracy: float = 0.7
    gold_min_answers: int = 5


@dataclass
class LabelerFigures:
    user_id: int
    judgements: int
    agreement: Estimate = NONE
    loo: Estimate = NONE
    tau: Estimate = NONE
    margin: Estimate = NONE
    gold: Estimate = NONE
    position: Estimate = NONE
    length: Estimate = NONE
    length_base: float | None = None
    seconds: Estimate = NONE
    seconds_ratio: Estimate = NONE  # this labeler's median over the other labelers'
    fast: Estimate = NONE
    unusable: Estimate = NONE
    skips: Estimate = NONE
    flags: list[Flag] = field(default_factory=list)


@dataclass
class Figures:
    judgements: int
    agreement: Estimate
    tau: Estimate
    margin: Estimate
    alpha: Estimate
    position: Estimate
    length: Estimate
    seconds: Estimate
    fast: Estimate
    unusable: Estimate
    labelers: list[LabelerFigures]
    pairs: list[tuple[int, int, Estimate]]
    days: list[tuple[int, Estimate]]


BinRow = tuple[Metric, int, int, int, int, int, int]  # metric, user, other, day, a, c, n


def summarize(
    rows: Iterable[BinRow],
    *,
    seed: int,
    skips: Mapping[int, int] | None = None,
    thresholds: Thresholds = Thresholds(),
    users: Iterable[int] | None = None,
) -> Figures:
    """Every figure of a project from its bins; ``users`` limits the per-labeler part."""
    rng = np.random.default_rng(seed)
    per: dict[tuple[Metric, int], list[tuple[int, int, int]]] = defaultdict(list)
    pairs: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
    days: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    coincidences: dict[int, Floats] = {}
    # Sorted: the bootstrap draws follow the row order, and a page must not change with it.
    for metric, user, other, day, a, c, n in sorted(rows):
        if n <= 0:
            continue
        if metric == Metric.pair:
            pairs[(user, other)].append((a, c, n))
        elif metric == Metric.agree_day:
            days[day].append((a, c, n))
        elif metric == Metric.coincidence:
            matrix = coincidences.setdefault(other, np.zeros((ALPHA_VALUES, ALPHA_VALUES)))
            matrix[a, c] += n / (user - 1)  # user holds m, the coders of the unit
        else:
            per[(metric, user)].append((a, c, n))
    labelers = sorted({u for (_, u) in per if u != PROJECT} | set(skips or {}))
    if users is not None:
        wanted = set(users)
        labelers = [u for u in labelers if u in wanted]

    def hist(metric: Metric, user: int) -> Histogram:
        return Histogram.of(per.get((metric, user), []))

    def pooled(metric: Metric) -> Histogram:
        """Every labeler's units of a per-judgement metric together."""
        merged: Counter[tuple[int, int]] = Counter()
        for (m, u), values in per.items():
            if m == metric and u != PROJECT:
                for a, c, n in values:
                    merged[(a, c)] += n
        return Histogram.of((a, c, n) for (a, c), n in merged.items())

    seconds_all = _seconds_counts(pooled(Metric.seconds))
    figures = Figures(
        judgements=int(seconds_all.sum()),
        agreement=ratio(hist(Metric.agree, PROJECT), rng),
        tau=ratio(hist(Metric.tau, PROJECT), rng, TAU_SCALE),
        margin=ratio(hist(Metric.margin, PROJECT), rng),
        alpha=krippendorff_alpha(coincidences, rng),
        position=ratio(pooled(Metric.position), rng),
        length=ratio(pooled(Metric.length), rng),
        seconds=median_seconds(seconds_all, rng),
        fast=ratio(pooled(Metric.fast), rng),
        unusable=ratio(pooled(Metric.unusable), rng),
        labelers=[],
        pairs=[],
        days=[],
    )
    pair_keys = sorted(pairs)
    pair_figures = ratios([Histogram.of(pairs[k]) for k in pair_keys], rng)
    figures.pairs = [(u, v, e) for (u, v), e in zip(pair_keys, pair_figures, strict=True)]
    day_keys = sorted(days)
    figures.days = list(zip(day_keys, ratios([Histogram.of(days[d]) for d in day_keys], rng), strict=True))
    batched = {
        metric: ratios([hist(metric, u) for u in labelers], rng, TAU_SCALE if metric == Metric.tau else 1.0)
        for metric in (Metric.agree, Metric.loo, Metric.tau, Metric.margin, Metric.position, Metric.length,
                       Metric.fast, Metric.unusable)
    }
    project_agree = hist(Metric.agree, PROJECT)
    length_all, unusable_all = pooled(Metric.length), pooled(Metric.unusable)
    total_skips = sum((skips or {}).values())
    seconds = {u: _seconds_counts(hist(Metric.seconds, u)) for u in labelers}
    speed = medians(np.stack([seconds[u] for u in labelers]), rng) if labelers else []
    others = _histogram_median(np.stack([seconds_all - seconds[u] for u in labelers])) if labelers else None
    for i, user in enumerate(labelers):
        counts = seconds[user]
        gold = hist(Metric.gold, user)
        lf = LabelerFigures(
            user_id=user,
            judgements=int(counts.sum()),
            agreement=batched[Metric.agree][i],
            loo=batched[Metric.loo][i],
            tau=batched[Metric.tau][i],
            margin=batched[Metric.margin][i],
            gold=wilson(gold.successes, gold.trials),
            position=batched[Metric.position][i],
            length=batched[Metric.length][i],
            seconds=speed[i],
            fast=batched[Metric.fast][i],
            unusable=batched[Metric.unusable][i],
        )
        mine = hist(Metric.length, user)
        lf.length_base = _rate(length_all.successes - mine.successes, length_all.trials - mine.trials)
        mine_median = lf.seconds
        team = float(others[i]) if others is not None else math.nan
        if math.isfinite(team) and team > 0 and mine_median.value is not None:
            lf.seconds_ratio = Estimate(
                mine_median.value / team, (mine_median.low or 0.0) / team, (mine_median.high or 0.0) / team,
                mine_median.n, (mine_median.se or 0.0) / team,
            )
        skipped = (skips or {}).get(user, 0)
        lf.skips = wilson(skipped, skipped + lf.judgements)
        agreement_others = _rate(
            project_agree.successes - 2 * hist(Metric.agree, user).successes,
            project_agree.trials - 2 * hist(Metric.agree, user).trials,
        )
        unusable_mine = hist(Metric.unusable, user)
        unusable_others = _rate(
            unusable_all.successes - unusable_mine.successes, unusable_all.trials - unusable_mine.trials
        )
        skip_others = _rate(total_skips - skipped, total_skips - skipped + figures.judgements - lf.judgements)
        lf.flags = _flags(lf, thresholds, agreement_others, unusable_others, skip_others)
        figures.labelers.append(lf)
    return figures


def _flags(
    lf: LabelerFigures,
    thresholds: Thresholds,
    agreement_others: float | None,
    unusable_others: float | None,
    skip_others: float | None,
) -> list[Flag]:
    flags: list[Flag] = []
    if significant(lf.position, 0.5, POSITION_EFFECT):
        flags.append(Flag.position_bias)
    # One-sided: a labeler who favours length pulls the others' base rate up, and the
    # honest labelers would otherwise be flagged for falling below it.
    if lf.length_base is not None and significant(lf.length, lf.length_base, LENGTH_EFFECT) and (
        (lf.length.value or 0.0) > lf.length_base
    ):
        flags.append(Flag.length_bias)
    fast_share = lf.fast.value is not None and lf.fast.n >= MIN_UNITS and (
        wilson(lf.fast.value * lf.fast.n, lf.fast.n).low or 0.0
    ) >= FAST_SHARE
    # Even the slow end of this labeler's median interval is under half the team's.
    quick = lf.seconds_ratio.n >= MIN_UNITS and (lf.seconds_ratio.high or 1.0) < FAST_MEDIAN_RATIO
    if fast_share or quick:
        flags.append(Flag.too_fast)
    if agreement_others is not None and lf.agreement.value is not None and significant(
        lf.agreement, agreement_others, AGREEMENT_EFFECT
    ) and lf.agreement.value < agreement_others:
        flags.append(Flag.low_agreement)
    if lf.gold.n >= thresholds.gold_min_answers and (lf.gold.value or 0.0) < thresholds.gold_min_accuracy:
        flags.append(Flag.low_gold)
    if unusable_others is not None and lf.unusable.value is not None and significant(
        lf.unusable, unusable_others, RATE_EFFECT
    ) and lf.unusable.value > unusable_others:
        flags.append(Flag.unusable_often)
    if skip_others is not None and lf.skips.low is not None and lf.skips.n >= MIN_UNITS and (
        lf.skips.low - skip_others >= RATE_EFFECT
    ):
        flags.append(Flag.skips_often)
    return flags


def _rate(successes: float, trials: float) -> float | None:
    return successes / trials if trials > 0 else None


def _seconds_counts(hist: Histogram) -> Floats:
    counts = np.zeros(SECONDS_BUCKETS)
    for a, n in zip(hist.a, hist.n, strict=True):
        counts[int(a)] += n
    return counts
