"""The statistics on their own: definitions, the reference implementations, and
simulated labelers whose accuracy and bias the figures must recover."""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

import krippendorff
import numpy as np
import pytest

from app.models import Metric
from app.quality import gold as gold_answers
from app.quality.stats import (
    BinKey,
    Flag,
    Histogram,
    ItemData,
    Vote,
    contributions,
    kendall_tau_b,
    pair_signs,
    ratio,
    shared_agreement,
    summarize,
    wilson,
)
from tests.quality.simulate import Labeler, Simulation, gold_order, simulate

MAGNITUDE = {"negligibly_better": 1, "slightly_better": 2, "better": 3, "significantly_better": 4}


def items_of(sim: Simulation, *, with_gold: bool = True) -> list[ItemData]:
    """The simulation as the statistics see it (completion i is "c<i>")."""
    by_item: dict[int, list[Vote]] = {}
    for n, j in enumerate(sim.judgements):
        ranks = {f"c{c}": g for g, tier in enumerate(j.groups or []) for c in tier}
        margin = None
        if sim.kind == "pairwise" and j.margin is not None:
            margin = MAGNITUDE[j.margin] * (1 if ranks["c0"] < ranks["c1"] else -1)
        by_item.setdefault(j.item, []).append(
            Vote(n + 1, j.labeler + 1, 20000, j.seconds, tuple(f"c{c}" for c in j.shown), ranks, margin)
        )
    out = []
    for item in sim.items:
        ids = tuple(f"c{c}" for c in range(sim.k))
        spec = None
        if item.gold and with_gold:
            order = [[f"c{c}"] for c in gold_order(item)]
            # Rankings: the tolerance "the best above the worst" (a whole order is a harder test).
            raw = {"preferred": order[0][0]} if sim.kind == "pairwise" else {"above": [[order[0][0], order[-1][0]]]}
            spec = gold_answers.parse(raw, ids, pairwise=sim.kind == "pairwise")
        out.append(ItemData(
            item.index + 1, ids, {f"c{c}": n for c, n in enumerate(item.lengths)}, 100 + sum(item.lengths),
            tuple(by_item.get(item.index, [])), spec, pairwise=sim.kind == "pairwise",
        ))
    return out


def bins_of(items: list[ItemData]) -> list[tuple[Metric, int, int, int, int, int, int]]:
    total: Counter[BinKey] = Counter()
    for item in items:
        total.update(contributions(item).bins)
    return [(*key, n) for key, n in total.items()]


class TestDefinitions:
    def test_agreement_counts_only_the_untied_pairs_both_labelers_share(self) -> None:
        ids = ("a", "b", "c")
        mine = pair_signs({"a": 0, "b": 1, "c": 2}, ids)
        theirs = pair_signs({"a": 0, "b": 0, "c": 1}, ids)  # ties a and b
        assert shared_agreement(mine, theirs) == (2, 2)
        assert shared_agreement(mine, pair_signs({"c": 0, "b": 1, "a": 2}, ids)) == (0, 3)

    def test_kendall_tau_b_corrects_for_ties(self) -> None:
        ids = ("w", "x", "y", "z")
        # x = [1, 2, 2, 3], y = [1, 2, 3, 3]: 4 concordant, none discordant, one tie each.
        mine = pair_signs({"w": 0, "x": 1, "y": 1, "z": 2}, ids)
        theirs = pair_signs({"w": 0, "x": 1, "y": 2, "z": 2}, ids)
        assert kendall_tau_b(mine, theirs) == pytest.approx(4 / 5)
        assert kendall_tau_b(mine, mine) == pytest.approx(1.0)
        everything_tied = pair_signs({c: 0 for c in ids}, ids)
        assert kendall_tau_b(mine, everything_tied) is None

    def test_wilson_interval_matches_the_published_example(self) -> None:
        # Newcombe (1998), table I: 81 of 263 -> 0.2553 to 0.3662.
        e = wilson(81, 263)
        assert (round(e.low or 0, 4), round(e.high or 0, 4)) == (0.2553, 0.3662)

    def test_a_ratio_interval_contains_its_value_and_narrows_with_more_units(self) -> None:
        rng = np.random.default_rng(1)
        small = ratio(Histogram.of([(1, 1, 6), (0, 1, 4)]), rng)
        large = ratio(Histogram.of([(1, 1, 600), (0, 1, 400)]), rng)
        assert small.value == large.value == 0.6
        assert (small.low or 0) < 0.6 < (small.high or 1) and (large.low or 0) < 0.6 < (large.high or 1)
        assert (large.high or 0) - (large.low or 0) < ((small.high or 0) - (small.low or 0)) / 5


class TestKrippendorff:
    @pytest.mark.parametrize("kind", ["ranking", "pairwise"])
    def test_alpha_equals_the_krippendorff_package_on_the_same_data(self, kind: str) -> None:
        rng = random.Random(3)
        k = 5 if kind == "ranking" else 2
        items, reliability = [], np.full((6, 0), np.nan)
        for item_id in range(1, 120):
            ids = tuple(f"c{i}" for i in range(k))
            votes: list[Vote] = []
            columns = np.full((6, k if kind == "ranking" else 1), np.nan)
            coders = rng.sample(range(6), rng.randint(1, 4))
            for coder in coders:
                if rng.random() < 0.1:
                    votes.append(Vote(len(votes) + 1, coder + 1, 0, 10.0, ids, None))  # not rankable
                    continue
                truth = list(ids) if item_id % 3 else list(reversed(ids))
                if rng.random() < 0.3:
                    rng.shuffle(truth)
                groups: list[list[str]] = []
                for cid in truth:  # random ties
                    if groups and rng.random() < 0.2:
                        groups[-1].append(cid)
                    else:
                        groups.append([cid])
                ranks = {c: g for g, tier in enumerate(groups) for c in tier}
                margin = None
                if kind == "pairwise":
                    size = rng.randint(1, 4)
                    margin = 0 if ranks["c0"] == ranks["c1"] else size * (1 if ranks["c0"] < ranks["c1"] else -1)
                    columns[coder, 0] = margin + 4
                else:
                    for i, cid in enumerate(ids):
                        columns[coder, i] = ranks[cid]
                votes.append(Vote(len(votes) + 1, coder + 1, 0, 10.0, ids, ranks, margin))
            items.append(ItemData(item_id, ids, {}, 0, tuple(votes), pairwise=kind == "pairwise"))
            reliability = np.concatenate([reliability, columns], axis=1)
        expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="ordinal")
        figures = summarize(bins_of(items), seed=1)
        assert figures.alpha.value == pytest.approx(expected, abs=1e-9)
        assert (figures.alpha.low or 0) < expected < (figures.alpha.high or 1)


ACCURATE = Labeler("accurate", "accurate", accuracy=0.92)
NOISY = Labeler("noisy", "accurate", accuracy=0.65)
POSITION = Labeler("position", "position", accuracy=0.92, bias=0.8)
FAST = Labeler("fast", "fast", accuracy=0.6)
SECOND = Labeler("second", "accurate", accuracy=0.9)


class TestSimulatedLabelers:
    def test_pairwise_labelers_the_biased_and_fast_ones_are_flagged_and_the_accurate_ones_not(self) -> None:
        for seed in range(5):
            sim = simulate([ACCURATE, NOISY, POSITION, FAST, SECOND], kind="pairwise", items=300, gold=80, seed=seed)
            by = {lf.user_id: lf for lf in summarize(bins_of(items_of(sim)), seed=5).labelers}
            assert Flag.position_bias in by[3].flags and Flag.too_fast in by[4].flags, seed
            assert by[1].flags == [] and by[5].flags == [], seed

    def test_the_95_percent_intervals_cover_the_known_values_about_95_percent_of_the_time(self) -> None:
        """Over many simulated projects (each interval misses in about 1 case of 20)."""
        known = {1: 0.92, 2: 0.65, 3: 0.8 * 0.5 + 0.2 * 0.92, 4: 0.6}
        covered: Counter[str] = Counter()
        runs = 60
        for seed in range(runs):
            sim = simulate([ACCURATE, NOISY, POSITION, FAST], kind="pairwise", items=60, gold=40, seed=100 + seed)
            by = {lf.user_id: lf for lf in summarize(bins_of(items_of(sim)), seed=seed).labelers}
            for user, value in known.items():
                covered["gold"] += (by[user].gold.low or 0) <= value <= (by[user].gold.high or 1)
            covered["position"] += (by[3].position.low or 0) <= 0.9 <= (by[3].position.high or 1)
            covered["unbiased"] += (by[1].position.low or 0) <= 0.5 <= (by[1].position.high or 1)
            pair = next(e for u, v, e in summarize(bins_of(items_of(sim)), seed=seed).pairs if (u, v) == (1, 2))
            covered["agreement"] += (pair.low or 0) <= 0.92 * 0.65 + 0.08 * 0.35 <= (pair.high or 1)
        assert covered["gold"] / (4 * runs) >= 0.9
        for name in ("position", "unbiased", "agreement"):
            assert covered[name] / runs >= 0.85, (name, covered[name])

    def test_agreement_between_two_labelers_is_what_their_accuracies_imply(self) -> None:
        sim = simulate([ACCURATE, SECOND], kind="pairwise", items=2000, gold=0, seed=11)
        figures = summarize(bins_of(items_of(sim)), seed=2)
        implied = 0.92 * 0.9 + 0.08 * 0.1
        assert (figures.agreement.low or 0) <= implied <= (figures.agreement.high or 1)
        ((u, v, pair),) = figures.pairs
        assert (u, v) == (1, 2) and pair.value == pytest.approx(figures.agreement.value)

    def test_ranking_labelers_a_position_biased_and_a_fast_one_are_flagged(self) -> None:
        sim = simulate([ACCURATE, NOISY, POSITION, FAST, SECOND], kind="ranking", items=150, gold=40)
        figures = summarize(bins_of(items_of(sim)), seed=5)
        by = {lf.user_id: lf for lf in figures.labelers}
        assert Flag.position_bias in by[3].flags and Flag.too_fast in by[4].flags
        assert by[1].flags == [] and by[5].flags == []
        assert (by[1].tau.value or 0) > (by[2].tau.value or 0)
        assert (by[1].loo.value or 0) > (by[2].loo.value or 0)
        careful = summarize(bins_of(items_of(simulate([ACCURATE, SECOND], kind="ranking", items=150, gold=0))), seed=5)
        assert (careful.alpha.low or 0) > (figures.alpha.high or 1)  # noisy labelers lower alpha

    def test_a_labeler_who_prefers_longer_answers_is_flagged_for_length(self) -> None:
        longer = Labeler("longer", "longer", accuracy=0.9, bias=0.8)
        sim = simulate([ACCURATE, SECOND, longer, Labeler("third", "accurate", accuracy=0.88)],
                       kind="pairwise", items=300, gold=0, seed=4)
        by = {lf.user_id: lf for lf in summarize(bins_of(items_of(sim)), seed=3).labelers}
        assert Flag.length_bias in by[3].flags
        assert all(Flag.length_bias not in by[u].flags for u in (1, 2, 4))

    def test_the_same_bins_give_the_same_figures(self) -> None:
        sim = simulate([ACCURATE, NOISY], kind="pairwise", items=50, gold=10)
        rows = bins_of(items_of(sim))
        assert summarize(rows, seed=9) == summarize(list(reversed(rows)), seed=9)


class TestGoldAnswers:
    def test_a_tolerance_accepts_any_order_that_keeps_the_required_pair(self) -> None:
        spec = gold_answers.parse({"above": [["a", "d"]]}, ("a", "b", "c", "d"), pairwise=False)
        assert gold_answers.correct(spec, {"b": 0, "a": 1, "d": 2, "c": 3}, None)
        assert not gold_answers.correct(spec, {"a": 0, "d": 0, "b": 1, "c": 2}, None)  # tied
        assert not gold_answers.correct(spec, None, None)

    def test_a_full_order_requires_every_untied_pair(self) -> None:
        spec = gold_answers.parse({"ranking": [["a"], ["b", "c"], ["d"]]}, ("a", "b", "c", "d"), pairwise=False)
        assert len(spec.above) == 5
        assert gold_answers.correct(spec, {"a": 0, "c": 1, "b": 2, "d": 3}, None)
        assert not gold_answers.correct(spec, {"b": 0, "a": 1, "c": 2, "d": 3}, None)

    def test_a_pairwise_margin_tolerance_accepts_neighbouring_labels(self) -> None:
        spec = gold_answers.parse({"preferred": "b", "margin": "better", "tolerance": 1}, ("a", "b"), pairwise=True)
        assert spec.margins == frozenset({2, 3, 4})
        assert gold_answers.correct(spec, {"b": 0, "a": 1}, -2)
        assert not gold_answers.correct(spec, {"b": 0, "a": 1}, -1)
        assert not gold_answers.correct(spec, {"a": 0, "b": 1}, 3)

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ({"ranking": [["a"], ["zz"]]}, "not one of this item's"),
            ({"above": [["a", "b"], ["b", "a"]]}, "the reverse"),
            ({"ranking": [["a", "b", "c", "d"]]}, "requires nothing"),
            ({"preferred": "a"}, "unknown gold field"),
        ],
    )
    def test_a_gold_answer_that_does_not_fit_says_why(self, raw: dict[str, object], message: str) -> None:
        with pytest.raises(gold_answers.GoldError, match=message):
            gold_answers.parse(raw, ("a", "b", "c", "d"), pairwise=False)


def test_every_pair_of_combinations_is_signed_once() -> None:
    ids = tuple("abcdef")
    signs = pair_signs({c: i for i, c in enumerate(ids)}, ids)
    assert set(signs) == set(combinations(range(6), 2)) and set(signs.values()) == {1}
