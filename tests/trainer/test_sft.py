"""SFT: prompt tokens stay out of the loss, and validation loss goes down."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.trainer.export_factory import demo, synthetic_export, write_export
from trainer.chat import pad_token_id
from trainer.collate import collate_sft
from trainer.contract import load_export
from trainer.data import build_sft_examples
from trainer.runtime import make_accelerator, make_loader
from trainer.sft import evaluate, train
from trainer.sft_config import SFTConfig


def untrained_val_loss(export: Path, model_path: Path) -> float:
    tok = AutoTokenizer.from_pretrained(model_path)
    val = build_sft_examples(load_export(export).sft["validation"], tok, 64)
    accelerator = make_accelerator()
    loader = make_loader(val, 8, partial(collate_sft, pad_id=pad_token_id(tok)), shuffle=False)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    return evaluate(model, loader, accelerator)["val_loss"]


class TestSFT:
    def test_lowers_validation_loss(self, tiny_model: Path, tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=32, n_val=8, kinds=("sft",))
        before = untrained_val_loss(export, tiny_model)
        metrics = train(SFTConfig(data=str(export), model=str(tiny_model),
                                  out=str(tmp_path / "sft"), epochs=2, learning_rate=3e-3,
                                  batch_size=8, max_length=64))
        # Untrained: ~ln(261) = 5.56 nats per token; the all-"a" answers are learnable.
        assert before > 4.5
        assert metrics["val_loss"] < before - 1.5
        assert metrics["train_loss"] < before
        manifest = json.loads((tmp_path / "sft" / "rankwise.json").read_text())
        assert manifest["kind"] == "sft" and manifest["metrics"] == metrics

    def test_gradient_accumulation_counts_optimizer_updates(self, tiny_llama: Path,
                                                            tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=16, n_val=4, kinds=("sft",))
        out = tmp_path / "sft"
        train(SFTConfig(data=str(export), model=str(tiny_llama), out=str(out), epochs=1,
                        batch_size=2, gradient_accumulation_steps=4, learning_rate=1e-3,
                        max_length=64, gradient_checkpointing=True))
        steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()
                 if "learning_rate" in json.loads(x)]
        assert steps == [1, 2]  # 8 micro-batches / 4 per update

    def test_lora_adapter_is_merged_into_a_plain_model(self, tiny_llama: Path,
                                                       tmp_path: Path) -> None:
        export = synthetic_export(tmp_path / "export", n_train=8, n_val=4, kinds=("sft",))
        out = tmp_path / "sft"
        train(SFTConfig(data=str(export), model=str(tiny_llama), out=str(out), epochs=1,
                        lora=True, lora_r=4, learning_rate=1e-3, max_length=64))
        assert not (out / "adapter_config.json").exists()
        model = AutoModelForCausalLM.from_pretrained(out)
        assert not any("lora" in name for name, _ in model.named_parameters())

    def test_multi_turn_demonstration_without_prompt_trains(self, tiny_llama: Path,
                                                            tmp_path: Path) -> None:
        rec = demo("d1", "hi", "aaaa")
        export = write_export(tmp_path / "export", {"sft.train.jsonl": [rec]})
        metrics = train(SFTConfig(data=str(export), model=str(tiny_llama),
                                  out=str(tmp_path / "sft"), max_length=64))
        assert "val_loss" not in metrics and metrics["train_loss"] > 0
