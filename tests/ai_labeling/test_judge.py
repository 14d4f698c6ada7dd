"""Prompts, reading replies, combining both orders, margins and rankings (no model)."""

from __future__ import annotations

import math

import pytest

from app.ai_labeling.backends import verdict_logprobs
from app.ai_labeling.judge import (
    DEFAULT_TEMPLATE,
    Reply,
    Setup,
    combine,
    copeland_order,
    decide,
    fill,
    hard_letter,
    margin_for,
    p_first,
    pair_prompt,
    parse_listwise,
)
from app.models import MarginLabel
from app.registry.endpoint import TokenLogprob


def soft(p_a: float) -> Reply:
    return Reply("A" if p_a >= 0.5 else "B", {"A": math.log(p_a), "B": math.log(1 - p_a)})


class TestPrompt:
    def test_fill_replaces_only_the_known_placeholders_and_interprets_nothing(self) -> None:
        text = fill("{prompt} | {answer_a.__class__} | {other} | {answer_b}", {"prompt": "P", "answer_b": "{x}"})
        assert text == "P | {answer_a.__class__} | {other} | {x}"

    def test_the_pair_prompt_shows_the_principles_and_asks_for_a_rationale_when_set(self) -> None:
        setup = Setup(DEFAULT_TEMPLATE, "Be kind.", ("Prefer honest answers.",), rationale=True)
        text = pair_prompt(setup, [{"role": "user", "content": "Hi?"}], "first", "second")[0]["content"]
        assert "Be kind." in text and "1. Prefer honest answers." in text and "[user] Hi?" in text
        assert text.index("first") < text.index("second") and 'Verdict: A' in text


class TestReading:
    @pytest.mark.parametrize(("text", "letter"), [
        ("A", "A"), (" b.", "B"), ("Answer B is better", "B"), ("thinking...\nVerdict: A", "A"),
        ("Verdict: B\nno wait\nVerdict: **A**", "A"), ("Both are fine", None), ("Absolutely", None),
    ])
    def test_the_verdict_letter_of_a_reply(self, text: str, letter: str | None) -> None:
        assert hard_letter(text) == letter

    def test_log_probabilities_give_a_soft_preference(self) -> None:
        p, is_soft = p_first(Reply("A", {"A": math.log(0.3), "B": math.log(0.1)}))
        assert is_soft and p == pytest.approx(0.75)

    def test_an_endpoints_verdict_token_is_its_first_or_after_the_rationale_its_last_letter(self) -> None:
        top = {"A": math.log(0.2), " A": math.log(0.1), "B": math.log(0.6), "x": -1.0}
        first = [TokenLogprob("B", math.log(0.6), top), TokenLogprob(".", 0.0, {})]
        found = verdict_logprobs(first, rationale=False)
        assert found is not None
        assert math.exp(found["A"]) == pytest.approx(0.3) and math.exp(found["B"]) == pytest.approx(0.6)
        cot = [TokenLogprob("A", 0.0, {}), TokenLogprob(" is", 0.0, {}), TokenLogprob("Verdict", 0.0, {}),
               TokenLogprob(":", 0.0, {}), TokenLogprob(" B", math.log(0.9), {" B": math.log(0.9), " A": -3.0})]
        found = verdict_logprobs(cot, rationale=True)
        assert found == {"B": pytest.approx(math.log(0.9)), "A": -3.0}
        assert verdict_logprobs(None, rationale=False) is None


class TestBothOrders:
    def test_a_judge_that_always_prefers_the_first_answer_gives_no_preference(self) -> None:
        verdict = combine(soft(0.95), soft(0.95))
        assert verdict.p_x == pytest.approx(0.5) and not verdict.agree

    def test_a_consistent_preference_survives_the_swap(self) -> None:
        verdict = combine(soft(0.8), soft(0.1))  # x first: 0.8; y first: y wins 0.1, so x 0.9
        assert verdict.p_x == pytest.approx(0.85) and verdict.agree and verdict.soft

    def test_one_order_without_a_verdict_leaves_the_other(self) -> None:
        verdict = combine(Reply("no idea"), soft(0.3))
        assert verdict.p_x == pytest.approx(0.7) and verdict.orders == 1
        assert not combine(Reply("no idea"), Reply("?")).usable()


class TestMargins:
    @pytest.mark.parametrize(("p", "label"), [
        (0.5, MarginLabel.negligibly_better), (0.599, MarginLabel.negligibly_better),
        (0.6, MarginLabel.slightly_better), (0.749, MarginLabel.slightly_better), (0.75, MarginLabel.better),
        (0.899, MarginLabel.better), (0.9, MarginLabel.significantly_better), (1.0, MarginLabel.significantly_better),
    ])
    def test_the_documented_thresholds(self, p: float, label: MarginLabel) -> None:
        assert margin_for(p) == label

    def test_the_preferred_side_and_its_margin_come_from_the_combined_probability(self) -> None:
        assert decide(combine(soft(0.1), soft(0.9)), "seed") == (1, MarginLabel.significantly_better)
        assert decide(combine(soft(0.2), soft(0.9)), "seed") == (1, MarginLabel.better)
        assert decide(combine(soft(0.7), soft(0.3)), "seed") == (0, MarginLabel.slightly_better)

    def test_hard_verdicts_agreeing_are_better_and_disagreeing_negligibly_better(self) -> None:
        assert decide(combine(Reply("A"), Reply("B")), "s") == (0, MarginLabel.better)
        assert decide(combine(Reply("A"), Reply("A")), "s")[1] == MarginLabel.negligibly_better

    def test_no_preference_falls_on_either_side_by_the_item_not_by_position(self) -> None:
        sides = {decide(combine(soft(0.9), soft(0.9)), f"item-{n}")[0] for n in range(20)}
        assert sides == {0, 1}
        assert decide(combine(soft(0.9), soft(0.9)), "item-1") == decide(combine(soft(0.9), soft(0.9)), "item-1")


class TestRankings:
    def test_copeland_orders_by_pairs_won_with_ties_grouped(self) -> None:
        # 0 beats 1 and 2; 1 and 2 tie; everyone beats 3
        p = {(0, 1): 0.8, (0, 2): 0.6, (1, 2): 0.5, (0, 3): 0.9, (1, 3): 0.7, (2, 3): 0.9}
        assert copeland_order(p, 4) == [[0], [1, 2], [3]]

    def test_a_listwise_ranking_must_name_every_answer_once(self) -> None:
        assert parse_listwise("thoughts\nRanking: C > A > B", 3) == [2, 0, 1]
        assert parse_listwise("Ranking: C > A", 3) is None
        assert parse_listwise("Ranking: A > A > B", 3) is None
        assert parse_listwise("C, A, B", 3) is None
