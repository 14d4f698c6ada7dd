"""Best-of-K / ReST rejection sampling (trainer/best_of_k.py) on the tiny model.

The reward is a rule the tokens make visible — the share of lowercase letters in
the response — behind the same ``RewardFunction`` interface as the reward-model
scorer; a recording wrapper lets the test check the selection against every
score the loop saw.
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
from trainer.best_of_k import BestOfKConfig, round_threshold, select_above, select_best, train
from trainer.chat import encode_prompt_completion
from trainer.generation import generate
from trainer.losses import sequence_logprobs
from trainer.runtime import read_manifest
from trainer.scoring import Samples


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models: one intra-op thread (a shared 2-core box thrashes with more)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class RecordingLetterReward:
    """r = share of response tokens that are a–z; remembers every (prompt, text, score)."""

    def __init__(self, model_dir: Path) -> None:
        tok = AutoTokenizer.from_pretrained(model_dir)
        self.letters = torch.tensor(tok.convert_tokens_to_ids(list("abcdefghijklmnopqrstuvwxyz")))
        self.seen: list[tuple[str, str, float]] = []

    def of(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (torch.isin(ids, self.letters) & mask.bool()).sum(-1) / mask.sum(-1).clamp(min=1)

    def __call__(self, samples: Samples) -> torch.Tensor:
        scores = self.of(samples.generation.response_ids, samples.generation.response_mask)
        for rec, text, s in zip(samples.prompts, samples.texts, scores.tolist(), strict=True):
            self.seen.append((rec.id, text, s))
        return scores


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return synthetic_export(tmp_path / "export", kinds=("prompts",), n_train=16, n_val=0)


def _config(export: Path, model: Path, out: Path, **overrides: Any) -> BestOfKConfig:
    base: dict[str, Any] = dict(data=str(export), model=str(model), out=str(out), k=8,
                                max_new_tokens=8, sample_batch_size=32, batch_size=8,
                                epochs=8, learning_rate=2e-3)
    base.update(overrides)
    return BestOfKConfig(**base)


def _fresh_reward(model_dir: Path, reward: RecordingLetterReward) -> float:
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = tok(tok.apply_chat_template([{"role": "user", "content": "q3"}], tokenize=False,
                                      add_generation_prompt=True),
              add_special_tokens=False)["input_ids"]
    torch.manual_seed(7)
    gen = generate(model, tok, [ids] * 128, max_new_tokens=8)
    return reward.of(gen.response_ids, gen.response_mask).mean().item()


def _mean_logprob(model_dir: Path, records: list[dict[str, Any]]) -> float:
    """Mean per-token log-prob of the kept completions under a saved model."""
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    total, tokens = 0.0, 0
    for rec in records:
        enc = encode_prompt_completion(tok, rec["messages"][:-1], rec["messages"][-1:], 64)
        ids = torch.tensor([enc.input_ids])
        mask = torch.zeros_like(ids)
        mask[0, enc.completion_start:] = 1
        with torch.no_grad():
            total += sequence_logprobs(model(input_ids=ids).logits, ids, mask).item()
        tokens += int(mask.sum())
    return total / tokens


class TestSelection:
    def test_best_is_the_argmax_per_prompt(self) -> None:
        scores = torch.tensor([[0.1, 0.9, 0.3], [2.0, -1.0, 2.0], [-5.0, -4.0, -6.0]])
        assert select_best(scores).tolist() == [1, 0, 1]  # ties: the first

    def test_threshold_keeps_everything_at_or_above(self) -> None:
        scores = torch.tensor([[0.1, 0.5, 0.3], [0.7, -1.0, 0.5]])
        assert select_above(scores, 0.5) == [(0, 1), (1, 0), (1, 2)]
        assert select_above(scores, 1.0) == []

    def test_threshold_rises_per_round(self) -> None:
        cfg = BestOfKConfig(selection="threshold", threshold=0.2, threshold_step=0.1)
        assert [round(round_threshold(cfg, n), 6) for n in (1, 2, 3)] == [0.2, 0.3, 0.4]

    def test_config_validation(self) -> None:
        with pytest.raises(ValueError):
            BestOfKConfig(selection="median")
        with pytest.raises(ValueError):
            BestOfKConfig(k=0)


class TestBestOfK:
    def test_one_round_keeps_the_argmax_and_improves_the_policy(
        self, tiny_llama: Path, export: Path, tmp_path: Path
    ) -> None:
        reward = RecordingLetterReward(tiny_llama)
        out = tmp_path / "bok"
        metrics = train(_config(export, tiny_llama, out), reward_fn=reward)

        kept = [json.loads(line) for line in (out / "round_1.jsonl").open()]
        assert len(kept) == 16  # one per prompt
        by_prompt: dict[str, list[tuple[str, float]]] = {}
        for pid, text, s in reward.seen:
            by_prompt.setdefault(pid, []).append((text, s))
        assert all(len(v) == 8 for v in by_prompt.values())
        for rec in kept:
            # A data-contract SFT record: the prompt, then the assistant's completion.
            assert rec["messages"][-1]["role"] == "assistant"
            assert rec["messages"][0]["role"] == "user"
            candidates = by_prompt[rec["prompt_id"]]
            _, best_score = max(candidates, key=lambda c: c[1])
            assert rec["score"] == pytest.approx(best_score)
            assert (rec["messages"][-1]["content"], rec["score"]) in [
                (t, pytest.approx(s)) for t, s in candidates if s == best_score]
        # Best-of-8 beats the average sample; the metrics say so.
        mean_all = sum(s for _, _, s in reward.seen) / len(reward.seen)
        assert metrics["mean_best_score"] > mean_all + 0.05
        assert metrics["mean_score"] == pytest.approx(mean_all, abs=1e-6)
        assert metrics["kept"] == 16

        # Fine-tuning on the winners made them likelier and fresh samples better.
        assert _mean_logprob(out, kept) > _mean_logprob(tiny_llama, kept) + 0.1
        before, after = _fresh_reward(tiny_llama, reward), _fresh_reward(out, reward)
        assert after > before + 0.03
        manifest = read_manifest(out)
        assert manifest is not None and manifest["kind"] == "best_of_k"

    def test_rest_rounds_with_rising_threshold_and_pooling(
        self, tiny_llama: Path, export: Path, tmp_path: Path
    ) -> None:
        reward = RecordingLetterReward(tiny_llama)
        out = tmp_path / "rest"
        cfg = _config(export, tiny_llama, out, k=4, rounds=2, selection="threshold",
                      threshold=0.25, threshold_step=0.125, pool_rounds=True, epochs=1)
        train(cfg, reward_fn=reward)
        r1 = [json.loads(line) for line in (out / "round_1.jsonl").open()]
        r2 = [json.loads(line) for line in (out / "round_2.jsonl").open()]
        assert r1 and all(r["score"] >= 0.25 for r in r1)
        assert all(r["score"] >= 0.375 for r in r2)
        # The kept set of a round is every sample at or above τ (none missed).
        seen_r1 = reward.seen[:16 * 4]
        assert len(r1) == sum(1 for _, _, s in seen_r1 if s >= 0.25)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").open()
                if json.loads(line)["stage"] == "best_of_k"]
        assert [r["round"] for r in rows] == [1.0, 2.0]
        assert [r["threshold"] for r in rows] == [0.25, 0.375]
        updates = [json.loads(line) for line in (out / "metrics.jsonl").open()
                   if json.loads(line)["stage"] == "best_of_k/sft"]
        assert updates and all({"sft_loss", "grad_norm", "learning_rate"} <= set(r)
                               for r in updates)
        # Pooling: round 2 fine-tunes on both rounds' winners.
        assert rows[1]["train_examples"] == len(r1) + len(r2)
