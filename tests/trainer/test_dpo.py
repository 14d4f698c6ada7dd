"""DPO: the policy moves toward the chosen answers relative to the frozen reference."""

from __future__ import annotations

import json
from pathlib import Path

from tests.trainer.export_factory import synthetic_export
from trainer.dpo import train
from trainer.dpo_config import DPOConfig
from trainer.runtime import ProgressEvent


class TestDPO:
    def test_raises_the_chosen_minus_rejected_log_ratio(self, tiny_model: Path,
                                                        tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=24, n_val=8, kinds=("pairs",))
        events: list[ProgressEvent] = []
        metrics = train(DPOConfig(data=str(export), model=str(tiny_model),
                                  out=str(tmp_path / "dpo"), epochs=2, learning_rate=1e-3,
                                  beta=0.1, batch_size=8, max_length=64),
                        callback=events.append)
        # At step 0 policy = reference: margin 0, loss log 2 = 0.693.
        assert metrics["val_rewards/margins"] > 0.5
        assert metrics["val_rewards/accuracies"] >= 0.9
        assert metrics["val_loss"] < 0.6
        first = next(e for e in events if "rewards/margins" in e.metrics)
        assert first.metrics["loss"] > metrics["val_loss"]
        manifest = json.loads((tmp_path / "dpo" / "rankwise.json").read_text())
        assert manifest["kind"] == "dpo" and manifest["reference_model"] == str(tiny_model)

    def test_expands_rankings_into_pairs(self, tiny_llama: Path, tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=4, n_val=2, k=4,
                                  kinds=("rankings",))
        events: list[ProgressEvent] = []
        train(DPOConfig(data=str(export), model=str(tiny_llama), out=str(tmp_path / "dpo"),
                        batch_size=4, max_length=64), callback=events.append)
        assert events[-1].total_steps == 6  # 4 rankings × C(4,2) pairs / 4 per batch
