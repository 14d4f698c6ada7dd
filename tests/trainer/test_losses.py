"""The losses of training.md against hand-computed values on fixed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.losses import (
    center_rewards_penalty,
    dpo_loss,
    grouped_ranking_loss,
    listwise_ranking_loss,
    margin_ranking_loss,
    ranking_pairs,
    sequence_logprobs,
    sft_loss,
)


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


class TestListwiseRankingLoss:
    def test_equals_the_mean_of_its_pairwise_terms(self) -> None:
        scores = torch.tensor([2.0, 0.5, -1.0, 0.0])
        pairs = ranking_pairs([[0], [1], [3], [2]])  # best first
        expected = -sum(log_sigmoid(scores[w].item() - scores[lo].item())
                        for w, lo in pairs.tolist()) / 6
        assert pairs.shape == (6, 2)  # C(4,2)
        assert listwise_ranking_loss(scores, pairs).item() == pytest.approx(expected, abs=1e-6)

    def test_ties_give_no_pair(self) -> None:
        pairs = ranking_pairs([[0], [1, 2], [3]])
        as_set = {tuple(p) for p in pairs.tolist()}
        assert (1, 2) not in as_set and (2, 1) not in as_set
        assert as_set == {(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)}

    def test_everything_tied_gives_no_pair(self) -> None:
        assert ranking_pairs([[0, 1, 2, 3]]).shape == (0, 2)

    def test_gradient_pushes_the_winner_up_and_the_loser_down(self) -> None:
        scores = torch.zeros(3, requires_grad=True)
        listwise_ranking_loss(scores, ranking_pairs([[0], [1], [2]])).backward()
        assert scores.grad is not None
        g = scores.grad.tolist()
        assert g[0] < 0 < g[2]  # descent raises the best, lowers the worst
        assert g[1] == pytest.approx(0.0, abs=1e-7)  # middle: wins once, loses once


class TestMarginRankingLoss:
    def test_matches_llama2_formula(self) -> None:
        rc, rr = torch.tensor([1.5, 0.2]), torch.tensor([0.5, 0.4])
        m = torch.tensor([1.0, 1 / 3])
        expected = -(log_sigmoid(1.5 - 0.5 - 1.0) + log_sigmoid(0.2 - 0.4 - 1 / 3)) / 2
        assert margin_ranking_loss(rc, rr, m).item() == pytest.approx(expected, abs=1e-6)

    def test_margin_shifts_the_score_difference_exactly(self) -> None:
        # loss(r_c, r_r, m) is the no-margin loss of a difference smaller by m.
        rc, rr = torch.tensor([2.0]), torch.tensor([0.0])
        with_margin = margin_ranking_loss(rc, rr, torch.tensor([0.75]))
        shifted = margin_ranking_loss(rc - 0.75, rr)
        assert with_margin.item() == pytest.approx(shifted.item(), abs=1e-7)
        assert with_margin.item() > margin_ranking_loss(rc, rr).item()

    def test_zero_margin_equals_listwise_on_one_pair(self) -> None:
        scores = torch.tensor([0.3, -0.9])
        listwise = listwise_ranking_loss(scores, torch.tensor([[0, 1]]))
        assert margin_ranking_loss(scores[:1], scores[1:]).item() == pytest.approx(listwise.item())


class TestGroupedRankingLoss:
    def test_is_the_mean_over_groups_of_each_groups_mean(self) -> None:
        # group 0: a ranking of 3 (3 pairs); group 1: one margin pair.
        scores = torch.tensor([1.0, 0.0, -0.5, 0.7, 0.1])
        pairs = torch.tensor([[0, 1], [0, 2], [1, 2], [3, 4]])
        group = torch.tensor([0, 0, 0, 1])
        margin = torch.tensor([0.0, 0.0, 0.0, 0.5])
        got = grouped_ranking_loss(scores[pairs[:, 0]], scores[pairs[:, 1]], group, margin)
        ranking = listwise_ranking_loss(scores[:3], pairs[:3])
        single = margin_ranking_loss(scores[3:4], scores[4:5], 0.5)
        assert got.item() == pytest.approx(((ranking + single) / 2).item(), abs=1e-6)


class TestCenterRewardsPenalty:
    def test_is_coefficient_times_mean_squared_sum(self) -> None:
        rc, rr = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 1.0])
        # (1.5² + (-1)²) / 2 = 1.625
        assert center_rewards_penalty(rc, rr, 0.01).item() == pytest.approx(0.01625)

    def test_is_zero_for_scores_centred_on_zero(self) -> None:
        assert center_rewards_penalty(torch.tensor([3.0]), torch.tensor([-3.0]), 1.0).item() == 0


class TestDPOLoss:
    def test_matches_the_formula_and_returns_implicit_rewards(self) -> None:
        pc, pr = torch.tensor([-10.0, -4.0]), torch.tensor([-12.0, -3.0])
        rc, rr = torch.tensor([-11.0, -4.5]), torch.tensor([-11.0, -3.5])
        beta = 0.1
        z = [beta * ((-10 + 11) - (-12 + 11)), beta * ((-4 + 4.5) - (-3 + 3.5))]
        loss, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta)
        assert loss.item() == pytest.approx(-(log_sigmoid(z[0]) + log_sigmoid(z[1])) / 2,
                                            abs=1e-6)
        assert chosen.tolist() == pytest.approx([0.1, 0.05])
        assert rejected.tolist() == pytest.approx([-0.1, 0.05])
        assert not chosen.requires_grad

    def test_is_log2_when_policy_equals_reference(self) -> None:
        x = torch.tensor([-5.0, -7.0])
        loss, _, _ = dpo_loss(x, x, x, x, beta=0.5)
        assert loss.item() == pytest.approx(math.log(2))


class TestSFTLoss:
    def test_prompt_tokens_are_left_out_of_the_loss(self) -> None:
        torch.manual_seed(0)
        logits = torch.randn(1, 5, 7)
        ids = torch.tensor([[1, 2, 3, 4, 5]])
        labels = torch.tensor([[-100, -100, 3, 4, 5]])  # prompt = first two tokens
        # Positions 1..3 predict tokens 3, 4, 5; position 0 (predicting a prompt token) is out.
        logp = torch.log_softmax(logits[0], -1)
        expected = -(logp[1, 3] + logp[2, 4] + logp[3, 5]) / 3
        assert sft_loss(logits, labels).item() == pytest.approx(expected.item(), abs=1e-6)
        # Changing the logits that predict prompt tokens changes nothing.
        logits2 = logits.clone()
        logits2[0, 0] += 100.0
        logits2[0, 4] += 100.0  # the last position predicts nothing
        assert sft_loss(logits2, labels).item() == pytest.approx(expected.item(), abs=1e-6)
        assert ids.shape == labels.shape


class TestSequenceLogprobs:
    def test_sums_completion_token_logprobs_only(self) -> None:
        torch.manual_seed(1)
        logits = torch.randn(2, 4, 6)
        ids = torch.tensor([[0, 1, 2, 3], [5, 4, 3, 0]])
        mask = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 0]])  # row 2: last token is padding
        logp = torch.log_softmax(logits, -1)
        expected = [
            (logp[0, 1, 2] + logp[0, 2, 3]).item(),
            (logp[1, 0, 4] + logp[1, 1, 3]).item(),
        ]
        assert sequence_logprobs(logits, ids, mask).tolist() == pytest.approx(expected, abs=1e-6)
