"""Ranking expansion, aggregation and the split: pure functions, no database.
(Agreement is quality control's: tests/quality/test_stats.py.)"""

from __future__ import annotations

import string

from app.exports.aggregate import borda, bradley_terry, bradley_terry_strengths, preference_pairs
from app.exports.split import split_of


class TestPreferencePairs:
    def test_four_distinct_places_give_six_pairs(self) -> None:
        assert len(preference_pairs([["a"], ["b"], ["c"], ["d"]])) == 6

    def test_two_tie_groups_of_two_give_four_pairs(self) -> None:
        pairs = preference_pairs([["a", "b"], ["c", "d"]])
        assert sorted(pairs) == [("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]

    def test_all_tied_gives_no_pair(self) -> None:
        assert preference_pairs([["a", "b", "c", "d"]]) == []

    def test_nine_distinct_places_give_thirty_six_pairs(self) -> None:
        pairs = preference_pairs([[c] for c in string.ascii_lowercase[:9]])
        assert len(pairs) == 36 and len(set(pairs)) == 36

    def test_better_completion_comes_first(self) -> None:
        assert preference_pairs([["x"], ["y"]]) == [("x", "y")]


class TestBorda:
    def test_unanimous_rankings_keep_their_order(self) -> None:
        r = [["a"], ["b"], ["c"], ["d"]]
        assert borda([r, r]) == r

    def test_opposite_rankings_give_a_tie(self) -> None:
        assert borda([[["a"], ["b"]], [["b"], ["a"]]]) == [["a", "b"]]

    def test_majority_wins_the_top_place(self) -> None:
        result = borda([[["a"], ["b"], ["c"]], [["a"], ["c"], ["b"]], [["b"], ["a"], ["c"]]])
        assert result[0] == ["a"]


class TestBradleyTerry:
    def test_consistent_winner_is_strongest_and_strengths_stay_finite(self) -> None:
        r = [["a"], ["b"], ["c"], ["d"]]
        s = bradley_terry_strengths([r, r, r])
        assert s["a"] > s["b"] > s["c"] > s["d"]
        assert all(abs(v) < 50 for v in s.values())

    def test_ties_give_equal_strength(self) -> None:
        assert bradley_terry([[["a", "b"], ["c"]]]) == [["a", "b"], ["c"]]


class TestSplit:
    def test_same_seed_same_side(self) -> None:
        assert all(split_of(7, f"p{i}", 0.3) == split_of(7, f"p{i}", 0.3) for i in range(100))

    def test_fraction_is_roughly_respected(self) -> None:
        sides = [split_of(1, f"prompt{i}", 0.2) for i in range(5000)]
        assert 0.17 < sides.count("validation") / 5000 < 0.23

    def test_zero_fraction_keeps_everything_in_train(self) -> None:
        assert {split_of(3, f"p{i}", 0.0) for i in range(200)} == {"train"}
