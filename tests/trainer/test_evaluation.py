"""Runs an engineer can read: evaluation from step 0, best and last checkpoints, the
named metrics of each stage, portable artifacts (issue 16; issue 10 item 23)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from tests.trainer.export_factory import synthetic_export
from trainer.chat import PLAIN_CHAT_TEMPLATE, render
from trainer.dpo import train as train_dpo
from trainer.dpo_config import DPOConfig
from trainer.reward import train as train_reward
from trainer.reward_config import RewardConfig
from trainer.reward_model import OFFSET_KEY, load_reward_model, score
from trainer.runtime import read_manifest
from trainer.sft import train as train_sft
from trainer.sft_config import SFTConfig


def rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def with_key(out: Path, key: str) -> list[dict[str, Any]]:
    return [r for r in rows(out) if key in r]


class TestEvaluationAndBest:
    def test_sft_evaluates_at_step_0_and_every_eval_steps_and_keeps_the_best(
            self, tiny_llama: Path, tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "e", n_train=32, n_val=8, kinds=("sft",))
        out = tmp_path / "sft"
        metrics = train_sft(SFTConfig(data=str(export), model=str(tiny_llama), out=str(out),
                                      epochs=2, batch_size=8, eval_steps=3, max_length=64,
                                      learning_rate=3e-3))
        evals = with_key(out, "val_loss")
        assert [r["step"] for r in evals] == [0, 3, 6, 8]  # 4 updates per epoch, 8 in all
        trained = with_key(out, "loss")
        assert all({"grad_norm", "learning_rate"} <= set(r) for r in trained)
        best_step = min(evals, key=lambda r: r["val_loss"])["step"]
        summary = read_manifest(out)
        best = read_manifest(out / "best")
        assert summary is not None and best is not None
        assert summary["best"] == {"step": best_step, "metric": "val_loss", "path": "best",
                                   "value": pytest.approx(min(r["val_loss"] for r in evals))}
        assert summary["last"] == {"step": 8, "path": "."} and summary["role"] == "last"
        assert best["role"] == "best" and best["step"] == best_step
        assert metrics["val_loss"] == evals[-1]["val_loss"]
        AutoModelForCausalLM.from_pretrained(out / "best")  # a model folder of its own

    def test_reward_model_without_validation_reports_training_metrics(
            self, tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        export = synthetic_export(tmp_path / "e", n_train=16, n_val=0, kinds=("rankings",))
        out = tmp_path / "rm"
        metrics = train_reward(RewardConfig(data=str(export), model=str(tiny_llama),
                                            out=str(out), learning_rate=1e-3, max_length=64))
        # Issue 10 item 23: metrics were {} without a validation split.
        assert {"train_loss", "train_accuracy", "train_rewards/margins"} <= set(metrics)
        assert metrics["train_examples"] == 16 and metrics["val_examples"] == 0
        counts = ("val_examples", "val_truncated", "val_dropped")
        assert not any(k.startswith("val_") and k not in counts for k in metrics)
        summary = read_manifest(out)
        assert summary is not None and "no validation split" in summary["validation"]
        assert summary["best"] is None
        assert "no validation split" in capsys.readouterr().err

    def test_every_reward_model_metric_is_logged(self, tiny_llama: Path, tmp_path: Path
                                                  ) -> None:
        export = synthetic_export(tmp_path / "e", n_train=16, n_val=8, kinds=("rankings",))
        out = tmp_path / "rm"
        train_reward(RewardConfig(data=str(export), model=str(tiny_llama), out=str(out),
                                  learning_rate=1e-3, max_length=64))
        step0 = with_key(out, "val_accuracy")[0]
        assert step0["step"] == 0
        for key in ("val_loss", "val_mean_margin", "val_rewards/chosen",
                    "val_rewards/chosen_std", "val_rewards/rejected",
                    "val_rewards/rejected_std", "val_accuracy/ranking", "val_accuracy/k=4"):
            assert key in step0, key
        for key in ("loss", "accuracy", "rewards/chosen", "rewards/rejected",
                    "rewards/margins", "grad_norm", "learning_rate"):
            assert all(key in r for r in with_key(out, "grad_norm")), key

    def test_dpo_logs_trl_names_and_kl_and_stops_at_its_kl_budget(
            self, tiny_llama: Path, tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "e", n_train=24, n_val=8, kinds=("pairs",))
        out = tmp_path / "dpo"
        metrics = train_dpo(DPOConfig(data=str(export), model=str(tiny_llama), out=str(out),
                                      epochs=4, batch_size=8, eval_steps=1, max_length=64,
                                      learning_rate=3e-3, kl_samples=8, kl_max_new_tokens=8,
                                      target_kl=0.5))
        evals = with_key(out, "val_kl")
        assert evals[0]["step"] == 0 and evals[0]["val_kl"] == pytest.approx(0.0, abs=1e-4)
        for key in ("val_rewards/chosen", "val_rewards/rejected", "val_rewards/margins",
                    "val_rewards/accuracies", "val_logps/chosen", "val_logps/rejected"):
            assert key in evals[0], key
        trained = with_key(out, "rewards/margins")
        assert {"rewards/chosen", "logps/rejected", "grad_norm"} <= set(trained[0])
        # It stopped at the first evaluation over the budget, well before 12 updates...
        summary = read_manifest(out)
        assert summary is not None and "target_kl=0.5" in summary["stopped_early"]
        assert evals[-1]["val_kl"] > 0.5 and evals[-1]["step"] < 12
        assert metrics["val_kl"] == evals[-1]["val_kl"]
        # ...and the best checkpoint is one within the budget.
        best = summary["best"]
        assert best is not None
        assert next(r for r in evals if r["step"] == best["step"])["val_kl"] <= 0.5


class TestPortableArtifacts:
    def test_the_training_chat_template_is_saved_with_the_model(
            self, tiny_llama: Path, tmp_path: Path) -> None:
        base = tmp_path / "base"
        shutil.copytree(tiny_llama, base)
        tok = AutoTokenizer.from_pretrained(base)
        tok.chat_template = None
        for f in base.glob("chat_template*"):
            f.unlink()
        tok.save_pretrained(base)
        assert not AutoTokenizer.from_pretrained(base).chat_template
        export = synthetic_export(tmp_path / "e", n_train=4, n_val=0, kinds=("sft",))
        train_sft(SFTConfig(data=str(export), model=str(base), out=str(tmp_path / "sft"),
                            max_length=64))
        saved = AutoTokenizer.from_pretrained(tmp_path / "sft")
        assert saved.chat_template == PLAIN_CHAT_TEMPLATE
        messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        assert saved.apply_chat_template(messages, tokenize=False) == render(
            AutoTokenizer.from_pretrained(base), messages, add_generation_prompt=False)

    def test_rankwise_json_says_what_made_the_model(self, tiny_llama: Path, tmp_path: Path
                                                    ) -> None:
        export = synthetic_export(tmp_path / "e", n_train=4, n_val=2, kinds=("sft",))
        train_sft(SFTConfig(data=str(export), model=str(tiny_llama), out=str(tmp_path / "s"),
                            max_length=64))
        manifest = read_manifest(tmp_path / "s")
        assert manifest is not None
        assert {"torch", "transformers", "accelerate", "python"} <= set(manifest["versions"])
        assert manifest["versions"]["torch"] == torch.__version__.split("+")[0] or \
            manifest["versions"]["torch"].startswith(torch.__version__.split("+")[0])
        assert "code_commit" in manifest and manifest["wall_seconds"] > 0
        assert manifest["examples"] == {"train_examples": 4, "train_truncated": 0,
                                        "train_dropped": 0, "val_examples": 2,
                                        "val_truncated": 0, "val_dropped": 0}
        # Paths that still resolve when the whole tree of folders moves.
        rel = manifest["paths_relative"]["base_model"]
        assert (tmp_path / "s" / rel).resolve() == tiny_llama.resolve()

    @pytest.mark.parametrize(("arch", "folded"), [("gpt2", True), ("llama", False)])
    def test_raw_transformers_logits_and_rankwise_score(
            self, arch: str, folded: bool, request: pytest.FixtureRequest,
            tmp_path: Path) -> None:
        model_dir: Path = request.getfixturevalue(f"tiny_{arch}")
        export = synthetic_export(tmp_path / "e", n_train=16, n_val=4,
                                  kinds=("rankings", "sft"))
        out = tmp_path / "rm"
        metrics = train_reward(RewardConfig(data=str(export), model=str(model_dir),
                                            out=str(out), learning_rate=1e-3, max_length=64))
        assert metrics["reward_offset"] != 0.0
        manifest = read_manifest(out)
        assert manifest is not None and manifest["reward_offset_folded"] is folded
        plain = AutoModelForSequenceClassification.from_pretrained(out).eval()
        ours = load_reward_model(out).eval()
        ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 13, 14]])
        mask = torch.ones_like(ids)
        with torch.no_grad():
            raw = plain(input_ids=ids, attention_mask=mask).logits
            rankwise = score(ours, ids, mask)
        stored = getattr(ours.config, OFFSET_KEY)[0]
        if folded:  # GPT-2's final LayerNorm bias carries the offset: plain logits = score
            assert stored == 0.0
            torch.testing.assert_close(raw, rankwise, atol=1e-4, rtol=1e-4)
        else:  # RMSNorm and a bias-free head: subtract config.rankwise_reward_offset
            assert stored == pytest.approx(metrics["reward_offset"])
            torch.testing.assert_close(raw - stored, rankwise, atol=1e-4, rtol=1e-4)


class TestCheckpointToModel:
    def test_one_command_turns_a_resumable_checkpoint_into_a_model_folder(
            self, tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        from safetensors.torch import load_file

        from trainer.cli import main

        export = synthetic_export(tmp_path / "e", n_train=16, n_val=4, kinds=("rankings",))
        out = tmp_path / "rm"
        train_reward(RewardConfig(data=str(export), model=str(tiny_llama), out=str(out),
                                  learning_rate=1e-3, max_length=64, save_steps=1))
        ckpt = sorted((out / "checkpoints").iterdir())[-1]
        assert main(["checkpoint-to-model", str(ckpt), str(tmp_path / "m")]) == 0
        model = load_reward_model(tmp_path / "m")
        saved = load_file(str(ckpt / "model.safetensors"))
        assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
        manifest = read_manifest(tmp_path / "m")
        assert manifest is not None and manifest["kind"] == "reward_model"
        assert manifest["step"] == int(ckpt.name.split("-")[1])
        capsys.readouterr()
        assert main(["checkpoint-to-model", str(tmp_path / "e"), str(tmp_path / "x")]) == 2
        assert "not a Rankwise checkpoint" in capsys.readouterr().err
