"""Run machinery: logging, callbacks, checkpoints, cancellation and resume, final save."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.export_factory import synthetic_export
from trainer.reward import train
from trainer.reward_config import RewardConfig
from trainer.runtime import (
    MANIFEST_NAME,
    ProgressEvent,
    Run,
    TrainingCancelled,
    lineage,
    make_accelerator,
    make_loader,
    read_manifest,
    save_final,
)


def rm_config(export: Path, model: Path, out: Path, **overrides: object) -> RewardConfig:
    base: dict[str, object] = dict(data=str(export), model=str(model), out=str(out), epochs=2,
                                   learning_rate=1e-3, batch_size=8, max_length=64)
    base.update(overrides)
    return RewardConfig(**base)  # type: ignore[arg-type]


def stop_after(n: int) -> Callable[[], bool]:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= n

    return should_stop


class TestRun:
    def test_log_writes_jsonl_and_calls_back_with_eta(self, tmp_path: Path) -> None:
        events: list[ProgressEvent] = []
        run = Run(tmp_path, "sft", make_accelerator(), total_steps=4, callback=events.append,
                  progress_bar=False)
        run.steps_per_epoch = 2
        run.finish_step({"loss": 1.5})
        run.finish_step({"loss": 1.0})
        lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
        assert [(x["step"], x["loss"], x["epoch"]) for x in lines] == [(1, 1.5, 0.5),
                                                                        (2, 1.0, 1.0)]
        assert [e.step for e in events] == [1, 2] and events[-1].total_steps == 4
        assert events[-1].eta_seconds is not None and events[-1].eta_seconds >= 0

    def test_cancellation_saves_a_checkpoint_first(self, tmp_path: Path) -> None:
        accelerator = make_accelerator()
        model = accelerator.prepare(torch.nn.Linear(2, 1))
        run = Run(tmp_path, "x", accelerator, 10, should_stop=stop_after(2),
                  progress_bar=False)
        run.finish_step()
        with pytest.raises(TrainingCancelled) as info:
            run.finish_step()
        assert info.value.step == 2
        assert info.value.checkpoint == tmp_path / "checkpoints" / "step-00000002"
        state = json.loads((info.value.checkpoint / "trainer_state.json").read_text())
        assert state["step"] == 2
        assert not list((tmp_path / "checkpoints").glob(".tmp-*"))  # renamed into place
        assert model is not None

    def test_resume_ignores_a_half_written_checkpoint(self, tmp_path: Path) -> None:
        accelerator = make_accelerator()
        accelerator.prepare(torch.nn.Linear(2, 1))
        run = Run(tmp_path, "x", accelerator, 10, save_every=1, progress_bar=False)
        run.finish_step()
        (tmp_path / "checkpoints" / ".tmp-step-00000002").mkdir()  # a crash mid-save
        (tmp_path / "checkpoints" / "step-00000003").mkdir()  # no trainer_state.json
        fresh = Run(tmp_path, "x", accelerator, 10, progress_bar=False)
        assert fresh.resume() == 1

    def test_iterate_reshuffles_per_epoch_and_skips_after_resume(self, tmp_path: Path) -> None:
        accelerator = make_accelerator()
        loader = accelerator.prepare(make_loader(list(range(8)), 2, torch.tensor, seed=3))
        run = Run(tmp_path, "x", accelerator, 8, progress_bar=False)
        seen = [(e, b.tolist()) for e, b in run.iterate(loader, 2)]
        assert len(seen) == 8 and seen[0][1] != seen[4][1]
        assert sorted(x for _, b in seen[:4] for x in b) == list(range(8))
        run.step = 5  # as if resumed after 5 updates
        assert [(e, b.tolist()) for e, b in run.iterate(loader, 2)] == seen[5:]


class TestSaveFinal:
    def test_writes_rankwise_json_atomically_with_lineage(self, tiny_llama: Path,
                                                          tmp_path: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(tiny_llama)
        tok = AutoTokenizer.from_pretrained(tiny_llama)
        first = save_final(model, tok, tmp_path / "sft", "sft", str(tiny_llama), "ab" * 32,
                           {"epochs": 1}, {"val_loss": 1.25})
        manifest = read_manifest(first)
        assert manifest is not None
        assert manifest["kind"] == "sft" and manifest["parent"] is None
        assert manifest["config"] == {"epochs": 1} and manifest["metrics"] == {"val_loss": 1.25}
        assert manifest["created_at"].endswith("Z") and manifest["rankwise_version"]
        assert not list(first.glob(f".{MANIFEST_NAME}.tmp"))
        # A model trained from that folder names the same base and the folder as parent.
        assert lineage(first) == (str(tiny_llama), str(first))
        assert lineage(tiny_llama) == (str(tiny_llama), None)


class TestResume:
    def test_interrupted_then_resumed_equals_an_uninterrupted_run(self, tiny_llama: Path,
                                                                 tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=24, n_val=8, kinds=("rankings",))
        straight = train(rm_config(export, tiny_llama, tmp_path / "straight"))

        out = tmp_path / "interrupted"
        with pytest.raises(TrainingCancelled) as info:
            train(rm_config(export, tiny_llama, out), should_stop=stop_after(4))
        assert info.value.step == 4
        assert not (out / MANIFEST_NAME).exists()  # no final model yet
        ckpt = info.value.checkpoint
        assert {"model.safetensors", "optimizer.bin", "scheduler.bin",
                "trainer_state.json"} <= {p.name for p in ckpt.iterdir()}

        events: list[ProgressEvent] = []
        resumed = train(rm_config(export, tiny_llama, out, resume=True), callback=events.append)
        assert events[0].step == 5  # continued from the saved step, 6 updates in all
        steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()
                 if "loss" in json.loads(x)]
        assert steps == [1, 2, 3, 4, 5, 6]
        # Same data order, same optimizer state: the same model as without the interruption.
        a = load_file(tmp_path / "straight" / "model.safetensors")
        b = load_file(out / "model.safetensors")
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
        assert resumed["val_accuracy"] == pytest.approx(straight["val_accuracy"])
