"""Reward-model training on the hidden-preference task (tests/trainer/export_factory.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.trainer.export_factory import pair, synthetic_export, write_export
from trainer.reward import train
from trainer.reward_config import RewardConfig
from trainer.reward_model import OFFSET_KEY, load_reward_model, reward_heads, score
from trainer.runtime import ProgressEvent


def config(export: Path, model: Path, out: Path, **overrides: object) -> RewardConfig:
    base: dict[str, object] = dict(data=str(export), model=str(model), out=str(out), epochs=2,
                                   learning_rate=1e-3, batch_size=8, max_length=64)
    base.update(overrides)
    return RewardConfig(**base)  # type: ignore[arg-type]


class TestListwiseRewardModel:
    def test_learns_the_hidden_preference(self, tiny_model: Path, tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=40, n_val=16, k=4,
                                  kinds=("rankings", "sft"))
        events: list[ProgressEvent] = []
        metrics = train(config(export, tiny_model, tmp_path / "rm"), callback=events.append)
        # Labels follow the rule exactly (noise ceiling 100%); a random head scores ~50%.
        # 40 rankings × 2 epochs reach 95-100% on both tiny architectures; 0.8 leaves room.
        assert metrics["val_accuracy"] >= 0.8
        assert metrics["val_accuracy/ranking"] == metrics["val_accuracy"]
        assert metrics["val_mean_margin"] > 0
        assert events and events[-1].step == events[-1].total_steps == 10  # ceil(40/8) × 2
        assert any("val_accuracy" in e.metrics for e in events)

    def test_saves_a_loadable_model_with_manifest_and_offset(self, tiny_llama: Path,
                                                             tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=16, n_val=8,
                                  kinds=("rankings", "sft"))
        out = tmp_path / "rm"
        metrics = train(config(export, tiny_llama, out, epochs=1))
        manifest = json.loads((out / "rankwise.json").read_text())
        assert manifest["kind"] == "reward_model"
        assert manifest["base_model"] == str(tiny_llama)
        assert manifest["config"]["listwise"] is True
        assert manifest["metrics"]["val_accuracy"] == metrics["val_accuracy"]
        assert len(manifest["data_manifest_sha256"]) == 64
        model = load_reward_model(out)
        offset = getattr(model.config, OFFSET_KEY)[0]
        assert offset == pytest.approx(metrics["reward_offset"]) and offset != 0.0
        # InstructGPT's offset: the training demonstrations now score 0 on average.
        ids = torch.tensor([list(range(5))])
        raw = score(model, ids, torch.ones_like(ids), raw=True)
        assert score(model, ids, torch.ones_like(ids)).item() == pytest.approx(
            raw.item() - offset, abs=1e-6)


class TestPairwiseWithMargin:
    def test_reports_accuracy_per_margin_label(self, tiny_llama: Path, tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=40, n_val=24, kinds=("pairs",))
        metrics = train(config(export, tiny_llama, tmp_path / "rm", margin_scale="large",
                               epochs=3))
        per_label = {k: v for k, v in metrics.items() if k.startswith("val_accuracy/")}
        assert per_label and "val_accuracy/ranking" not in per_label
        assert metrics["val_accuracy"] >= 0.75
        assert "reward_offset" not in metrics  # no demonstrations in this export

    def test_naive_mode_makes_every_pair_its_own_example(self, tiny_llama: Path,
                                                         tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=8, n_val=4, k=4,
                                  kinds=("rankings",))
        events: list[ProgressEvent] = []
        train(config(export, tiny_llama, tmp_path / "rm", listwise=False, epochs=1),
              callback=events.append)
        assert events[-1].total_steps == 6  # 8 rankings × C(4,2) = 48 pairs / 8 per batch


class TestTwoObjectives:
    def test_helpful_and_safety_heads_on_one_trunk(self, tiny_llama: Path,
                                                   tmp_path: Path) -> None:
        recs = {
            split: [pair(f"p_{split}_{i}", "q", "a" * 8, "z" * 8, "better",
                         safety={"chosen": "unsafe", "rejected": "safe"})
                    for i in range(n)]
            for split, n in (("train", 16), ("validation", 4))
        }
        export = write_export(tmp_path / "export", {f"pairs.{s}.jsonl": r
                                                    for s, r in recs.items()})
        out = tmp_path / "rm"
        metrics = train(config(export, tiny_llama, out, objective="both", epochs=4))
        assert reward_heads(load_reward_model(out)) == ["helpful", "safety"]
        # Helpful prefers the a-answer, safety the (safe) z-answer: opposite orders.
        assert metrics["val_accuracy"] == 1.0
        assert metrics["val_safety_accuracy"] == 1.0
