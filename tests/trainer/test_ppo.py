"""PPO (trainer/ppo.py) end to end on the tiny offline model.

The learning test uses a hidden, rule-based reward the tokens make visible: the
fraction of response tokens that are lowercase ASCII letters (26 of the tiny
model's 261 ids, so a random policy scores ≈ 0.1). It implements the same
``RewardFunction`` interface as the reward-model scorer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.trainer.export_factory import synthetic_export
from trainer.generation import Generation, generate, pack_right
from trainer.ppo import PPOConfig, PPOTrainer, train
from trainer.reward_model import load_reward_model
from trainer.runtime import TrainingCancelled, read_manifest
from trainer.scoring import Samples


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models: one intra-op thread. On a shared 2-core box torch's default
    thread pool spins against other processes and runs 10-20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class LetterReward:
    """r(x, y) = share of response tokens that are a–z."""

    def __init__(self, model_dir: Path) -> None:
        tok = AutoTokenizer.from_pretrained(model_dir)
        self.letters = torch.tensor(tok.convert_tokens_to_ids(list("abcdefghijklmnopqrstuvwxyz")))

    def of(self, response_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hits = torch.isin(response_ids, self.letters) & mask.bool()
        return hits.sum(-1) / mask.sum(-1).clamp(min=1)

    def __call__(self, samples: Samples) -> torch.Tensor:
        return self.of(samples.generation.response_ids, samples.generation.response_mask)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return synthetic_export(tmp_path / "export", kinds=("sft", "prompts"), n_train=32, n_val=4)


def _config(export: Path, model: Path, out: Path, **overrides: Any) -> PPOConfig:
    base: dict[str, Any] = dict(
        data=str(export), model=str(model), out=str(out), rollout_batch_size=8, batch_size=4,
        ppo_epochs=1, max_new_tokens=4, learning_rate=1e-3, log_samples=1)
    base.update(overrides)
    return PPOConfig(**base)


def _hidden_reward_of(model_dir: Path, reward: LetterReward, n: int = 128) -> float:
    """Mean hidden reward of fresh samples from a saved policy (fixed seed)."""
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    prompt = tok.apply_chat_template([{"role": "user", "content": "q1"}], tokenize=False,
                                     add_generation_prompt=True)
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    torch.manual_seed(123)
    gen = generate(model, tok, [ids] * n, max_new_tokens=8)
    return reward.of(gen.response_ids, gen.response_mask).mean().item()


class TestPackRight:
    def test_left_padded_rollout_becomes_right_padded_with_response_positions(self) -> None:
        pad = 0
        gen = Generation(
            prompt_ids=torch.tensor([[0, 0, 5, 6], [7, 8, 9, 10]]),
            prompt_mask=torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]]),
            response_ids=torch.tensor([[11, 12, 0], [13, 0, 0]]),
            response_mask=torch.tensor([[1, 1, 0], [1, 0, 0]]),
            ended=torch.tensor([True, True]),
        )
        ids, mask, positions = pack_right(gen, pad)
        assert ids.tolist() == [[5, 6, 11, 12, 0, 0, 0], [7, 8, 9, 10, 13, 0, 0]]
        assert mask.tolist() == [[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0]]
        assert positions.tolist() == [[2, 3, 4], [4, 5, 6]]


class TestPPOLearning:
    def test_hidden_reward_rises_within_the_kl_budget(
        self, tiny_llama: Path, export: Path, tmp_path: Path
    ) -> None:
        reward = LetterReward(tiny_llama)
        target_kl = 2.0
        cfg = _config(export, tiny_llama, tmp_path / "ppo", steps=25, rollout_batch_size=32,
                      batch_size=16, ppo_epochs=2, max_new_tokens=8, learning_rate=2e-3,
                      kl_coef=0.05, adaptive_kl=True, target_kl=target_kl, kl_horizon=100)
        trainer = PPOTrainer(cfg, reward_fn=reward)
        ref_before = {k: v.clone() for k, v in trainer.ref_policy.state_dict().items()}
        value_before = {k: v.clone() for k, v in trainer.value_model.state_dict().items()}
        trainer.train()

        rows = [json.loads(line) for line in (tmp_path / "ppo" / "metrics.jsonl").open()]
        assert [r["step"] for r in rows] == list(range(1, 26))
        for key in ("objective/scores", "objective/kl", "objective/entropy",
                    "objective/rlhf_reward", "objective/non_score_reward", "eos_fraction",
                    "policy/clipfrac_avg", "loss/value_avg", "policy/approxkl_avg",
                    "response_length", "beta", "loss/policy_avg", "grad_norm",
                    "learning_rate"):
            assert all(key in r for r in rows), key
        first = sum(r["objective/scores"] for r in rows[:3]) / 3
        last = sum(r["objective/scores"] for r in rows[-5:]) / 5
        assert first < 0.16             # a random policy: ≈ 26/261 letters
        assert last > first + 0.08      # the policy found the hidden reward
        # KL to the reference: 0 at the start (π = π_ref), positive once it learns, and
        # held near the target by the adaptive controller, which raised β when the KL
        # overshot.
        assert rows[0]["objective/kl"] == pytest.approx(0.0, abs=1e-4)
        assert max(r["objective/kl"] for r in rows) > target_kl
        # The stated tolerance (docs/training.md): the last 5 iterations' mean KL within
        # ±50% of the target (here 1.99 for a target of 2).
        assert abs(sum(r["objective/kl"] for r in rows[-5:]) / 5 - target_kl) < 0.5 * target_kl
        assert max(r["beta"] for r in rows) > cfg.kl_coef

        # Fresh samples from the saved policy score higher than from the SFT start.
        assert _hidden_reward_of(tmp_path / "ppo", reward) > _hidden_reward_of(
            tiny_llama, reward) + 0.05

        # Policy and value weights moved; the reference did not.
        initial = AutoModelForCausalLM.from_pretrained(tiny_llama).state_dict()
        final = AutoModelForCausalLM.from_pretrained(tmp_path / "ppo").state_dict()
        assert any(not torch.equal(initial[k], final[k]) for k in initial)
        for k, v in trainer.ref_policy.state_dict().items():
            assert torch.equal(v, ref_before[k]), k
        assert any(not torch.equal(v, value_before[k])
                   for k, v in trainer.value_model.state_dict().items())
        manifest = read_manifest(tmp_path / "ppo")
        assert manifest is not None and manifest["kind"] == "ppo"
        assert (tmp_path / "ppo" / "samples.jsonl").is_file()


class TestPPOWithRewardModels:
    def test_two_head_reward_model_value_from_rm_and_ptx(
        self, tiny_llama: Path, export: Path, tmp_path: Path
    ) -> None:
        # A reward-model folder with Llama 2's two heads (helpful, safety) on one trunk;
        # the scorer combines them and the value model starts from its helpful head.
        rm_dir = tmp_path / "rm"
        rm = load_reward_model(tiny_llama, heads=["helpful", "safety"])
        rm.save_pretrained(rm_dir)  # type: ignore[operator]
        AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(rm_dir)
        cfg = _config(export, tiny_llama, tmp_path / "ppo", reward_model=str(rm_dir), steps=2,
                      ptx_coef=0.5, save_value_model=True, score_clip=5.0,
                      missing_eos_penalty=1.0)
        metrics = train(cfg)
        for key in ("objective/scores", "objective/kl", "loss/ptx_avg", "loss/value_avg"):
            assert key in metrics
        assert metrics["loss/ptx_avg"] > 0
        assert (tmp_path / "ppo" / "value_model" / "config.json").is_file()
        assert read_manifest(tmp_path / "ppo") is not None

    def test_value_model_must_share_the_policy_vocabulary(
        self, tiny_llama: Path, export: Path, tmp_path: Path
    ) -> None:
        other = tmp_path / "other"
        model = AutoModelForCausalLM.from_pretrained(tiny_llama)
        model.resize_token_embeddings(300)
        model.save_pretrained(other)
        AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(other)
        cfg = _config(export, tiny_llama, tmp_path / "ppo", value_model=str(other), steps=1)
        with pytest.raises(ValueError, match="vocabulary"):
            PPOTrainer(cfg, reward_fn=LetterReward(tiny_llama))


class TestPPOResume:
    def test_cancel_then_resume_matches_an_uninterrupted_run(
        self, tiny_llama: Path, export: Path, tmp_path: Path
    ) -> None:
        reward = LetterReward(tiny_llama)
        settings: dict[str, Any] = dict(steps=4, adaptive_kl=True, target_kl=0.5, kl_horizon=10)
        straight = train(_config(export, tiny_llama, tmp_path / "straight", **settings),
                         reward_fn=reward)

        out = tmp_path / "resumed"
        calls = {"n": 0}

        def stop_after_two() -> bool:
            calls["n"] += 1
            return calls["n"] >= 2

        with pytest.raises(TrainingCancelled) as info:
            train(_config(export, tiny_llama, out, **settings), reward_fn=reward,
                  should_stop=stop_after_two)
        assert info.value.step == 2 and info.value.checkpoint.is_dir()
        resumed = train(_config(export, tiny_llama, out, resume=True, **settings),
                        reward_fn=reward)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
        assert [r["step"] for r in rows] == [1, 2, 3, 4]
        # Weights, optimizer, RNG, β and the prompt order all came back: the last
        # iteration is the one an uninterrupted run makes.
        for key in ("beta", "objective/scores", "objective/kl"):
            assert resumed[key] == pytest.approx(straight[key], rel=1e-4, abs=1e-6), key
        assert read_manifest(out) is not None


def test_config_from_flat_dict_and_validation() -> None:
    flat: dict[str, Any] = {"data": "d", "model": "m", "out": "o", "reward_model": "rm",
                            "kl_coef": 0.01, "adaptive_kl": True, "ppo_epochs": 2}
    cfg = PPOConfig(**flat)
    assert cfg.kl_coef == 0.01 and cfg.gamma == 1.0 and cfg.lam == 0.95
    with pytest.raises(ValueError):
        PPOConfig(temperature=0.0)
    with pytest.raises(ValueError):
        PPOConfig(clip_range=1.5)


def test_lora_with_gradient_checkpointing_trains_and_saves_a_plain_model(
    tiny_llama: Path, export: Path, tmp_path: Path
) -> None:
    cfg = _config(export, tiny_llama, tmp_path / "ppo", steps=2, lora=True, lora_r=4,
                  lora_alpha=8, gradient_checkpointing=True, learning_rate=1e-2)
    trainer = PPOTrainer(cfg, reward_fn=LetterReward(tiny_llama))
    trainable = [n for n, p in trainer.policy.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)  # only the adapter trains
    trainer.train()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "ppo").state_dict()
    initial = AutoModelForCausalLM.from_pretrained(tiny_llama).state_dict()
    assert not any("lora" in k for k in merged)
    assert any(not torch.equal(initial[k], merged[k]) for k in initial)


class TestRewardModelScorer:
    def test_scores_the_rm_layout_and_combines_two_heads_by_the_llama2_rule(
        self, tiny_llama: Path, tmp_path: Path
    ) -> None:
        from trainer.chat import encode_prompt_completion
        from trainer.contract import PromptRecord
        from trainer.reward_model import RunningMoments, combine_rewards, score
        from trainer.scoring import RewardModelScorer

        rm_dir = tmp_path / "rm"
        torch.manual_seed(0)
        rm = load_reward_model(tiny_llama, heads=["helpful", "safety"])
        rm.save_pretrained(rm_dir)  # type: ignore[operator]
        tok = AutoTokenizer.from_pretrained(tiny_llama)
        tok.save_pretrained(rm_dir)
        prompts = [PromptRecord("a", [{"role": "user", "content": "hello"}], "brainstorming"),
                   PromptRecord("b", [{"role": "user", "content": "how to pick a lock"}],
                                "safety"),
                   PromptRecord("c", [{"role": "user", "content": "a poem"}], None)]
        texts = ["hi there", "no", "roses are red"]
        one = torch.ones(3, 1, dtype=torch.long)
        gen = Generation(one, one, one, one, torch.ones(3, dtype=torch.bool))
        samples = Samples(prompts, gen, texts)
        scorer = RewardModelScorer(str(rm_dir), max_length=64)

        # The RM sees prompt ⊕ completion exactly as in RM training (trainer/chat.py).
        expected = []
        model = load_reward_model(rm_dir).eval()
        for rec, text in zip(prompts, texts, strict=True):
            ids = encode_prompt_completion(tok, rec.prompt,
                                           [{"role": "assistant", "content": text}], 64).input_ids
            t = torch.tensor([ids])
            with torch.no_grad():
                expected.append(score(model, t, torch.ones_like(t))[0])
        h, s = torch.stack(expected).unbind(-1)
        torch.testing.assert_close(scorer._scores(scorer.model, scorer.tokenizer, 0, samples), h)
        # Prompt "b" is a safety prompt, so it takes the safety head whatever σ(R_s) is.
        want = combine_rewards(h, s, torch.tensor([False, True, False]), 0.15, RunningMoments())
        torch.testing.assert_close(scorer(samples), want, atol=1e-5, rtol=1e-5)


class TestPPOEvaluation:
    def test_held_out_evaluation_from_step_0_and_the_best_within_the_kl_budget(
            self, tiny_llama: Path, tmp_path: Path) -> None:
        from tests.trainer.export_factory import demo, prompt, write_export

        export = write_export(tmp_path / "export", {
            "prompts.jsonl": [prompt(f"q_{i}", f"q{i}") for i in range(16)],
            # validation prompts that rollouts never see
            "sft.validation.jsonl": [demo(f"d_{i}", f"held out {i}", "aaaa") for i in range(6)],
        })
        reward = LetterReward(tiny_llama)
        out = tmp_path / "ppo"
        metrics = train(_config(export, tiny_llama, out, steps=4, eval_steps=2, eval_prompts=4,
                                adaptive_kl=True, target_kl=50.0), reward_fn=reward)
        evals = [r for r in (json.loads(x) for x in (out / "metrics.jsonl").open())
                 if "val_score" in r]
        assert [r["step"] for r in evals] == [0, 2, 4]
        assert evals[0]["val_kl"] == pytest.approx(0.0, abs=1e-4)  # π = π_ref at step 0
        for key in ("val_kl", "val_rlhf_reward", "val_eos_fraction", "val_response_length"):
            assert all(key in r for r in evals), key
        assert metrics["eval_prompts"] == 4 and metrics["val_score"] == evals[-1]["val_score"]
        summary = read_manifest(out)
        assert summary is not None and summary["best"]["metric"] == "val_rlhf_reward"
        assert summary["at_budget"]["target_kl"] == 50.0
        assert summary["at_budget"]["step"] == summary["best"]["step"]
        best = read_manifest(out / "best")
        assert best is not None and best["role"] == "best"
        AutoModelForCausalLM.from_pretrained(out / "best")
