"""The RL arithmetic of trainer/rl_math.py on hand-worked numbers."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.rl_math import (
    AdaptiveKLController,
    FixedKLController,
    entropy_from_logits,
    gae,
    kl_penalized_rewards,
    logprobs_from_logits,
    masked_mean,
    masked_whiten,
    policy_loss,
    value_loss,
)


class TestMaskedStatistics:
    def test_masked_mean_ignores_padding(self) -> None:
        x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 100.0, 100.0, 100.0]])
        mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
        # (1 + 2 + 3 + 4) / 4 = 2.5 overall; per row 2.0 and 4.0.
        assert masked_mean(x, mask).item() == pytest.approx(2.5)
        assert masked_mean(x, mask, dim=1).tolist() == pytest.approx([2.0, 4.0])

    def test_whiten_gives_zero_mean_unit_variance_and_zero_padding(self) -> None:
        x = torch.tensor([[1.0, 2.0, 3.0, 50.0]])
        mask = torch.tensor([[1, 1, 1, 0]])
        # mean 2, unbiased variance ((1)² + 0 + (1)²) / 2 = 1, so (x − 2) / 1.
        out = masked_whiten(x, mask)
        assert out.tolist()[0] == pytest.approx([-1.0, 0.0, 1.0, 0.0], abs=1e-6)

    def test_whiten_without_shift_keeps_the_mean(self) -> None:
        x = torch.tensor([[2.0, 4.0, 6.0]])
        mask = torch.ones_like(x)
        # mean 4, std 2: (x − 4)/2 + 4 = [3, 4, 5]
        assert masked_whiten(x, mask, shift_mean=False).tolist()[0] == pytest.approx(
            [3.0, 4.0, 5.0], abs=1e-6
        )


class TestTokenStatistics:
    def test_logprobs_match_log_softmax(self) -> None:
        logits = torch.tensor([[[0.0, math.log(3.0)]]])  # p = [1/4, 3/4]
        assert logprobs_from_logits(logits, torch.tensor([[1]])).item() == pytest.approx(
            math.log(0.75)
        )

    def test_entropy_of_uniform_and_peaked(self) -> None:
        logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]]])
        h = entropy_from_logits(logits)[0]
        assert h[0].item() == pytest.approx(math.log(4.0))
        assert h[1].item() == pytest.approx(0.0, abs=1e-6)


class TestKLPenalizedRewards:
    def test_score_on_last_real_token_kl_everywhere_padding_nothing(self) -> None:
        logprobs = torch.tensor([[-1.0, -2.0, -3.0, -9.0], [-1.0, -1.0, -7.0, -7.0]])
        ref = torch.tensor([[-2.0, -2.0, -1.0, 0.0], [-0.5, -1.5, 0.0, 0.0]])
        mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
        scores = torch.tensor([2.0, -1.0])
        rewards, kl = kl_penalized_rewards(scores, logprobs, ref, mask, beta=0.1)
        # Row 0: log-ratios [1, 0, −2], pad → 0. Rewards −0.1·[1, 0, −2] and +2 at t = 2.
        # Row 1: log-ratios [−0.5, 0.5], pad → 0. Rewards −0.1·[−0.5, 0.5] and −1 at t = 1.
        assert kl.tolist()[0] == pytest.approx([1.0, 0.0, -2.0, 0.0])
        assert kl.tolist()[1] == pytest.approx([-0.5, 0.5, 0.0, 0.0])
        assert rewards.tolist()[0] == pytest.approx([-0.1, 0.0, 0.2 + 2.0, 0.0])
        assert rewards.tolist()[1] == pytest.approx([0.05, -0.05 - 1.0, 0.0, 0.0])

    def test_score_clip(self) -> None:
        zeros = torch.zeros(1, 2)
        rewards, _ = kl_penalized_rewards(
            torch.tensor([12.0]), zeros, zeros, torch.ones(1, 2), beta=0.1, score_clip=5.0
        )
        assert rewards.tolist() == [[0.0, 5.0]]

    def test_empty_response_gets_no_score(self) -> None:
        zeros = torch.zeros(1, 3)
        rewards, _ = kl_penalized_rewards(
            torch.tensor([3.0]), zeros, zeros, torch.zeros(1, 3), beta=0.1
        )
        assert rewards.abs().sum().item() == 0.0


class TestGAE:
    def test_hand_worked_example(self) -> None:
        rewards = torch.tensor([[0.0, 0.0, 1.0], [0.5, 0.0, 0.0]])
        values = torch.tensor([[0.5, 0.2, 0.4], [0.1, 7.0, 7.0]])
        mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
        adv, ret = gae(rewards, values, mask, gamma=1.0, lam=0.5)
        # Row 0 (γ = 1, λ = 0.5), backwards from the end (V after the last token = 0):
        #   t=2: δ = 1 + 0 − 0.4 = 0.6;            A = 0.6
        #   t=1: δ = 0 + 0.4 − 0.2 = 0.2;          A = 0.2 + 0.5·0.6 = 0.5
        #   t=0: δ = 0 + 0.2 − 0.5 = −0.3;         A = −0.3 + 0.5·0.5 = −0.05
        #   returns = A + V = [0.45, 0.7, 1.0]
        # Row 1: one real token; the padded values (7.0) must not leak in:
        #   t=0: δ = 0.5 + 0 − 0.1 = 0.4;          A = 0.4, return 0.5; padding 0.
        assert adv.tolist()[0] == pytest.approx([-0.05, 0.5, 0.6])
        assert ret.tolist()[0] == pytest.approx([0.45, 0.7, 1.0])
        assert adv.tolist()[1] == pytest.approx([0.4, 0.0, 0.0])
        assert ret.tolist()[1] == pytest.approx([0.5, 0.0, 0.0])

    def test_discount_and_lambda_one_gives_monte_carlo_returns(self) -> None:
        # γ = λ = 1: A_t = Σ_{k≥t} r_k − V_t, so the return is the reward-to-go.
        rewards = torch.tensor([[1.0, 2.0, 3.0]])
        values = torch.tensor([[0.3, -0.2, 0.9]])
        adv, ret = gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=1.0)
        assert ret.tolist()[0] == pytest.approx([6.0, 5.0, 3.0])
        assert adv.tolist()[0] == pytest.approx([5.7, 5.2, 2.1])


class TestPolicyLoss:
    def test_clips_exactly_where_ratio_leaves_the_trust_region(self) -> None:
        eps = 0.2
        ratios = torch.tensor([0.5, 0.9, 1.0, 1.1, 1.3] * 2)
        advantages = torch.tensor([1.0] * 5 + [-1.0] * 5)
        old = torch.zeros(1, 10)
        logprobs = torch.log(ratios).unsqueeze(0).clone().requires_grad_(True)
        out = policy_loss(logprobs, old, advantages.unsqueeze(0), torch.ones(1, 10), eps)
        out.loss.backward()
        assert logprobs.grad is not None
        flat = logprobs.grad[0]
        # A > 0: only ρ = 1.3 > 1 + ε is clipped (gradient 0); ρ = 0.5 is below the
        # region but the min keeps the unclipped, more pessimistic, term.
        # A < 0: only ρ = 0.5 < 1 − ε is clipped; ρ = 1.3 stays unclipped.
        clipped = [False, False, False, False, True, True, False, False, False, False]
        for i, is_clipped in enumerate(clipped):
            assert (flat[i].item() == 0.0) == is_clipped, i
        assert out.clip_fraction.item() == pytest.approx(2 / 10)
        # Loss = −mean(min(ρA, clip(ρ)A)):
        #   A=+1: 0.5, 0.9, 1.0, 1.1, 1.2 (clipped) ; A=−1: −0.8 (clipped), −0.9, −1, −1.1, −1.3
        expected = -(0.5 + 0.9 + 1.0 + 1.1 + 1.2 - 0.8 - 0.9 - 1.0 - 1.1 - 1.3) / 10
        assert out.loss.item() == pytest.approx(expected, abs=1e-6)

    def test_padding_does_not_count(self) -> None:
        logprobs = torch.tensor([[0.0, 5.0]])
        out = policy_loss(logprobs, torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([[1, 0]]))
        assert out.loss.item() == pytest.approx(-1.0)
        assert out.clip_fraction.item() == 0.0
        assert out.approx_kl.item() == pytest.approx(0.0)

    def test_approx_kl_is_positive_when_policy_moved(self) -> None:
        logprobs = torch.tensor([[-0.1, 0.1]])
        out = policy_loss(logprobs, torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2))
        # (e^x − 1 − x) averaged over x = ±0.1
        expected = ((math.exp(-0.1) - 1 + 0.1) + (math.exp(0.1) - 1 - 0.1)) / 2
        assert out.approx_kl.item() == pytest.approx(expected, rel=1e-5)


class TestValueLoss:
    def test_clipped_branch_when_value_jumps_past_the_return(self) -> None:
        old = torch.tensor([[0.0, 0.0]])
        values = torch.tensor([[1.0, 0.1]], requires_grad=True)
        returns = torch.tensor([[0.5, 1.0]])
        out = value_loss(values, old, returns, torch.ones(1, 2), clip_eps=0.2)
        # t=0: V=1 → (1−0.5)² = 0.25; clipped V=0.2 → (0.2−0.5)² = 0.09; max 0.25 (unclipped).
        # t=1: V=0.1 → 0.81; clipped V=0.1 (inside) → 0.81.
        assert out.loss.item() == pytest.approx(0.5 * (0.25 + 0.81) / 2)
        assert out.clip_fraction.item() == 0.0
        values2 = torch.tensor([[-1.0, 0.0]], requires_grad=True)
        out2 = value_loss(values2, old, torch.tensor([[0.5, 0.0]]), torch.ones(1, 2), 0.2)
        # t=0: V=−1 → 2.25; clipped V=−0.2 → 0.49; max 2.25 — the unclipped error is larger,
        # so the gradient still flows. Move the return to −2 and the clip wins:
        # V=−1 → 1.0; clipped −0.2 → 3.24 → clipped branch, gradient 0.
        out3 = value_loss(values2, old, torch.tensor([[-2.0, 0.0]]), torch.ones(1, 2), 0.2)
        assert out2.loss.item() == pytest.approx(0.5 * 2.25 / 2)
        assert out3.clip_fraction.item() == pytest.approx(0.5)
        out3.loss.backward()
        assert values2.grad is not None and values2.grad[0, 0].item() == 0.0


class TestKLControllers:
    def test_fixed_controller_never_moves(self) -> None:
        c = FixedKLController(0.05)
        assert c.update(100.0, 64) == 0.05

    def test_adaptive_controller_moves_beta_toward_the_target(self) -> None:
        # K_β = n_steps / horizon = 1000 / 10000 = 0.1
        high = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
        # KL 12 ≫ 6: error clipped to +0.2 → β = 0.1 · (1 + 0.1·0.2) = 0.102
        assert high.update(12.0, 1000) == pytest.approx(0.102)
        low = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
        # KL 3: error −0.5 clipped to −0.2 → 0.098
        assert low.update(3.0, 1000) == pytest.approx(0.098)
        near = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
        # KL 6.6: error 0.1 (inside the clip) → 0.1 · 1.01
        assert near.update(6.6, 1000) == pytest.approx(0.101)

    def test_adaptive_controller_converges_toward_target_kl(self) -> None:
        # A toy process whose KL is inversely proportional to β: β must rise until KL ≈ target.
        c = AdaptiveKLController(0.01, target=1.0, horizon=100)
        for _ in range(500):
            c.update(0.05 / c.value, 10)
        assert 0.05 / c.value == pytest.approx(1.0, rel=0.05)

    def test_target_must_be_positive(self) -> None:
        with pytest.raises(ValueError):
            AdaptiveKLController(0.1, target=0.0)
