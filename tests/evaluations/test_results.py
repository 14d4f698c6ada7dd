"""The figures of the results page, against cases whose answer is known in closed form
and against comparisons simulated from known strengths."""

from __future__ import annotations

import math
import random

import pytest

from app.evaluations.results import (
    BASE,
    SCALE,
    Comparison,
    Outcome,
    Sweep,
    leaderboard,
    pair_verdict,
    pairs,
    position_bias,
    results,
    verdict,
    win_rate,
)
from app.models import Winner

A, B, TIE, BAD = Winner.a, Winner.b, Winner.tie, Winner.both_bad


def _many(model_a: str, model_b: str, winner: Winner, n: int, a_shown_first: bool | None = None) -> list[Comparison]:
    return [Comparison(model_a, model_b, winner, a_shown_first) for _ in range(n)]


def _by_model(comparisons: list[Comparison], **kwargs: object) -> dict[str, tuple[float, float, float]]:
    board = leaderboard(comparisons, **kwargs)  # type: ignore[arg-type]
    return {r.model: (r.rating, r.low, r.high) for r in board.ratings}


class TestWinRate:
    def test_eight_of_ten_has_the_textbook_wilson_interval(self) -> None:
        # Wilson (1927); the interval for 8/10 at 95 % is 0.490–0.943 (Newcombe 1998, table I).
        e = win_rate(8, 2, 0)
        assert e.value == pytest.approx(0.8)
        assert (e.low, e.high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
        assert e.n == 10

    def test_a_tie_counts_half_a_win_for_each_side(self) -> None:
        assert win_rate(7, 1, 2).value == pytest.approx(0.8)
        assert win_rate(7, 1, 2).low == pytest.approx(win_rate(8, 2, 0).low)

    def test_no_comparisons_give_no_figure(self) -> None:
        assert win_rate(0, 0, 0).value is None


class TestPairs:
    def test_counts_each_pair_once_with_sides_turned_to_the_pair_order(self) -> None:
        rows = [
            *_many("old", "new", A, 3),   # old at side A wins 3
            *_many("new", "old", A, 5),   # new at side A wins 5
            *_many("new", "old", B, 1),   # old at side B wins 1
            *_many("old", "new", TIE, 2),
            *_many("new", "old", BAD, 1),
        ]
        (pair,) = pairs(rows, order=["old", "new"])
        assert (pair.model_a, pair.model_b) == ("old", "new")
        assert (pair.a_wins, pair.b_wins, pair.ties, pair.both_bad) == (4, 5, 2, 1)
        assert pair.comparisons == 12
        assert pair.win_rate.value == pytest.approx((4 + 1.5) / 12)  # tie and both-bad count half

    def test_a_model_against_itself_is_no_comparison(self) -> None:
        rows = [*_many("same", "same", A, 4, a_shown_first=True), *_many("x", "y", B, 2, a_shown_first=True)]
        assert pairs(_many("same", "same", A, 4)) == []
        out = results(rows, ["x", "y"])
        assert out.comparisons == 2 and out.position.n == 2 and out.position.value == 0


class TestPositionBias:
    def test_share_of_decided_verdicts_won_by_the_reply_shown_first(self) -> None:
        rows = [
            *_many("x", "y", A, 6, a_shown_first=True),    # first shown won
            *_many("x", "y", B, 2, a_shown_first=True),    # second shown won
            *_many("x", "y", B, 4, a_shown_first=False),   # B was shown first and won
            *_many("x", "y", TIE, 9, a_shown_first=True),  # not decided: left out
            *_many("x", "y", A, 3, a_shown_first=None),    # order unknown: left out
        ]
        e = position_bias(rows)
        assert e.n == 12 and e.value == pytest.approx(10 / 12)
        assert e.low == pytest.approx(win_rate(10, 2, 0).low)


class TestBradleyTerryClosedForm:
    def test_two_models_differ_by_400_log10_of_the_odds(self) -> None:
        # With two models the MLE sets P(new beats old) to the observed share, 30/40:
        # θ_new − θ_old = ln 3, i.e. 400·log10(3) ≈ 190.8 points.
        ratings = _by_model([*_many("old", "new", B, 30), *_many("old", "new", A, 10)], models=["old", "new"],
                            prior=0.0)
        assert ratings["old"][0] == BASE
        assert ratings["new"][0] == pytest.approx(BASE + 400 * math.log10(3), abs=1e-3)

    def test_the_prior_is_one_virtual_tie_per_pair(self) -> None:
        # 30 wins to 10 plus half a win each way: odds 30.5 : 10.5.
        ratings = _by_model([*_many("old", "new", B, 30), *_many("old", "new", A, 10)], models=["old", "new"])
        assert ratings["new"][0] == pytest.approx(BASE + 400 * math.log10(30.5 / 10.5), abs=1e-3)

    def test_ties_count_half_a_win_in_the_fit(self) -> None:
        # 20 wins, 10 losses, 10 ties: a score of 25 of 40, odds 25:15.
        rows = [*_many("old", "new", B, 20), *_many("old", "new", A, 10), *_many("new", "old", TIE, 5),
                *_many("old", "new", BAD, 5)]
        ratings = _by_model(rows, models=["old", "new"], prior=0.0)
        assert ratings["new"][0] - ratings["old"][0] == pytest.approx(400 * math.log10(25 / 15), abs=1e-3)

    def test_three_models_consistent_with_strengths_4_2_1_recover_them(self) -> None:
        # Counts in exact proportion to strengths 4:2:1 satisfy the likelihood equations, so
        # the MLE is those strengths: a = 1000, b = 1000 − 400·log10 2, c = 1000 − 400·log10 4.
        rows = [*_many("a", "b", A, 20), *_many("a", "b", B, 10), *_many("b", "c", A, 20),
                *_many("b", "c", B, 10), *_many("c", "a", B, 40), *_many("c", "a", A, 10)]
        ratings = _by_model(rows, models=["a", "b", "c"], prior=0.0)
        assert ratings["a"][0] == BASE
        assert ratings["b"][0] == pytest.approx(BASE - 400 * math.log10(2), abs=1e-3)
        assert ratings["c"][0] == pytest.approx(BASE - 400 * math.log10(4), abs=1e-3)

    def test_the_scale_is_400_points_per_factor_ten(self) -> None:
        assert SCALE * math.log(10) == pytest.approx(400)

    def test_another_reference_shifts_every_rating_by_the_same_amount(self) -> None:
        rows = [*_many("a", "b", A, 20), *_many("a", "b", B, 10), *_many("b", "c", A, 20), *_many("b", "c", B, 10)]
        by_a = _by_model(rows, models=["a", "b", "c"])
        by_c = _by_model(rows, models=["a", "b", "c"], reference="c")
        assert by_c["c"][0] == BASE
        shift = by_c["a"][0] - by_a["a"][0]
        assert by_c["b"][0] - by_a["b"][0] == pytest.approx(shift, abs=1e-6)

    def test_a_model_that_never_lost_is_rated_through_the_prior_and_its_sweep_marked(self) -> None:
        # 12 wins to none plus the virtual tie: odds 12.5 : 0.5, about 559 points.
        board = leaderboard([*_many("old", "new", B, 12)], ["old", "new"])
        new, old = board.ratings
        assert new.rating == pytest.approx(BASE + 400 * math.log10(25), abs=1e-3)
        assert (new.sweep, old.sweep) == (Sweep.won_all, Sweep.lost_all)
        assert new.low == new.high == new.rating  # every replicate is the same sweep
        mixed = leaderboard([*_many("old", "new", B, 12), *_many("old", "new", A, 1)], ["old", "new"])
        assert all(r.sweep is None for r in mixed.ratings)


class TestBradleyTerryIntervals:
    def test_the_reference_interval_is_zero_wide_and_the_other_holds_its_rating(self) -> None:
        ratings = _by_model([*_many("old", "new", B, 30), *_many("old", "new", A, 10)], models=["old", "new"])
        assert ratings["old"] == (BASE, BASE, BASE)
        rating, low, high = ratings["new"]
        assert low < rating < high
        # The bootstrap interval is near the normal one: se of the log-odds √(1/30 + 1/10).
        half = 1.96 * SCALE * math.sqrt(1 / 30 + 1 / 10)
        assert high - low == pytest.approx(2 * half, rel=0.25)

    def test_the_same_comparisons_give_the_same_intervals(self) -> None:
        rows = [*_many("old", "new", B, 7), *_many("old", "new", A, 5)]
        assert leaderboard(rows, ["old", "new"]) == leaderboard(rows, ["old", "new"])

    def test_simulated_comparisons_recover_known_strengths_within_the_intervals(self) -> None:
        truth = {"m0": 1000.0, "m1": 1120.0, "m2": 880.0, "m3": 1250.0}
        rng = random.Random(11)
        rows = []
        names = list(truth)
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                p = 1 / (1 + 10 ** ((truth[y] - truth[x]) / 400))
                for _ in range(150):
                    a_first = rng.random() < 0.5
                    won_x = rng.random() < p
                    rows.append(Comparison(x, y, A if won_x else B, a_first) if rng.random() < 0.5
                                else Comparison(y, x, B if won_x else A, a_first))
        board = leaderboard(rows, names)
        assert [r.model for r in board.ratings] == ["m3", "m1", "m0", "m2"]
        for r in board.ratings:
            assert r.low <= truth[r.model] <= r.high, (r, truth[r.model])
            assert abs(r.rating - truth[r.model]) < 60
        # Labelers in this simulation ignore the order: no position bias.
        bias = position_bias(rows)
        assert bias.low is not None and bias.low < 0.5 < (bias.high or 0)


class TestConnectivity:
    def test_models_never_linked_to_the_reference_get_a_board_of_their_own(self) -> None:
        rows = [*_many("a", "b", A, 3), *_many("a", "b", B, 2), *_many("c", "d", A, 4), *_many("c", "d", B, 1)]
        board = leaderboard(rows, ["a", "b", "c", "d"])
        assert board.reference == "a"
        assert {r.model for r in board.ratings} == {"a", "b"}
        (other,) = board.others
        assert other.reference == "c" and other.others == []
        ratings = {r.model: r.rating for r in other.ratings}
        assert ratings["c"] == BASE
        assert ratings["d"] == pytest.approx(BASE - 400 * math.log10(4.5 / 1.5), abs=1e-3)

    def test_no_comparisons_give_an_empty_board(self) -> None:
        board = leaderboard([])
        assert board.ratings == [] and board.reference is None


class TestVerdict:
    def test_a_clear_winner_is_named_with_its_win_rate_and_interval(self) -> None:
        out = results([*_many("sft", "ppo", B, 40), *_many("sft", "ppo", A, 10)], ["sft", "ppo"])
        v = out.verdict
        assert v.kind == Outcome.winner and (v.winner, v.runner_up) == ("ppo", "sft")
        assert v.win_rate.value == pytest.approx(0.8) and v.win_rate.low is not None and v.win_rate.low > 0.5
        low, high = round(100 * v.win_rate.low), round(100 * (v.win_rate.high or 0))
        assert v.text.startswith("ppo beats sft") and f"{low} %–{high} %" in v.text

    def test_an_interval_that_holds_an_even_match_is_no_clear_winner(self) -> None:
        out = results([*_many("sft", "ppo", B, 6), *_many("sft", "ppo", A, 4)], ["sft", "ppo"])
        assert out.verdict.kind == Outcome.no_clear_winner
        assert out.verdict.winner == "ppo" and "No clear winner" in out.verdict.text

    def test_a_head_to_head_record_alone_names_its_leader(self) -> None:
        (pair,) = pairs([*_many("sft", "ppo", B, 40), *_many("sft", "ppo", A, 10)], ["sft", "ppo"])
        v = pair_verdict(pair)
        assert (v.kind, v.winner, v.runner_up) == (Outcome.winner, "ppo", "sft")
        assert v == results([*_many("sft", "ppo", B, 40), *_many("sft", "ppo", A, 10)], ["sft", "ppo"]).verdict

    def test_without_two_models_compared_there_is_no_verdict(self) -> None:
        assert verdict(leaderboard([]), []).kind == Outcome.no_data
