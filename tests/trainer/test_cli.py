"""``python -m trainer``: end to end on the tiny model, and clear errors for bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.trainer.export_factory import synthetic_export, write_export
from trainer.cli import main
from trainer.stages import STAGES


class TestCLI:
    def test_sft_then_rm_then_dpo_end_to_end(self, tiny_llama: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
        export = synthetic_export(tmp_path / "export", n_train=8, n_val=4,
                                  kinds=("rankings", "sft"))
        common = ["--data", str(export), "--max-length", "64", "--epochs", "1"]
        assert main(["sft", *common, "--model", str(tiny_llama), "--out", str(tmp_path / "sft"),
                     "--lr", "1e-3", "--grad-accum", "2"]) == 0
        sft_metrics = json.loads(capsys.readouterr().out)
        assert "val_loss" in sft_metrics
        config = tmp_path / "rm.yaml"
        config.write_text("learning_rate: 0.001\nbatch_size: 4\nlistwise: true\n")
        assert main(["rm", *common, "--model", str(tmp_path / "sft"), "--out",
                     str(tmp_path / "rm"), "--config", str(config),
                     "--set", "center_rewards_coefficient=0.01"]) == 0
        rm = json.loads((tmp_path / "rm" / "rankwise.json").read_text())
        assert rm["config"]["center_rewards_coefficient"] == 0.01
        assert rm["config"]["batch_size"] == 4
        assert rm["parent"] == str(tmp_path / "sft") and rm["base_model"] == str(tiny_llama)
        capsys.readouterr()
        assert main(["dpo", *common, "--model", str(tmp_path / "sft"), "--out",
                     str(tmp_path / "dpo"), "--set", "beta=0.2"]) == 0
        assert "val_rewards/accuracies" in json.loads(capsys.readouterr().out)

    def test_bad_export_line_exits_2_naming_file_and_line(
            self, tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        good = json.dumps({"id": "d1", "messages": [{"role": "user", "content": "q"},
                                                    {"role": "assistant", "content": "a"}]})
        bad = json.dumps({"id": "d2", "messages": [{"role": "robot", "content": "q"}]})
        export = write_export(tmp_path / "export", {"sft.train.jsonl": f"{good}\n{bad}\n"})
        code = main(["sft", "--data", str(export), "--model", str(tiny_llama),
                     "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2
        assert "sft.train.jsonl:2" in err and "role" in err
        assert "Traceback" not in err

    def test_unknown_option_and_bad_value_exit_2(self, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
        base = ["rm", "--data", "x", "--model", "y", "--out", str(tmp_path)]
        assert main([*base, "--set", "no_such_field=1"]) == 2
        assert "no_such_field" in capsys.readouterr().err
        assert main([*base, "--set", "epochs=many"]) == 2
        assert "epochs" in capsys.readouterr().err
        assert main([*base, "--set", "margin_scale=huge"]) == 2

    def test_print_config_resolves_file_flags_and_set(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        cfg = tmp_path / "c.json"
        cfg.write_text(json.dumps({"epochs": 5, "learning_rate": 1e-4, "beta": 0.3}))
        assert main(["dpo", "--data", "d", "--model", "m", "--out", "o", "--config", str(cfg),
                     "--epochs", "7", "--set", "beta=0.5", "--lora", "--print-config"]) == 0
        resolved = json.loads(capsys.readouterr().out)
        assert (resolved["epochs"], resolved["learning_rate"], resolved["beta"],
                resolved["lora"]) == (7, 1e-4, 0.5, True)

    def test_tiny_model_subcommand_writes_a_loadable_folder(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        # In-process: a `python -m trainer` subprocess costs ~30 s of imports on a busy box.
        out = tmp_path / "tiny"
        assert main(["tiny-model", str(out), "--arch", "gpt2"]) == 0
        assert capsys.readouterr().out.strip() == str(out)
        assert json.loads((out / "config.json").read_text())["model_type"] == "gpt2"
        assert (out / "tokenizer.json").exists()


def _normal(text: str) -> str:
    return " ".join(text.split())


class TestHelp:
    @pytest.mark.parametrize("name", sorted(STAGES))
    def test_each_stage_help_lists_every_config_field_with_its_help(
            self, name: str, capsys: pytest.CaptureFixture[str]) -> None:
        assert main([name, "--help"]) == 0
        out = _normal(capsys.readouterr().out)
        for f in dataclasses.fields(STAGES[name].config):
            assert f"--{f.name}" in out, f.name
            assert _normal(f.metadata["help"])[:40] in out, f.name

    def test_stage_help_shows_only_that_stages_options(
            self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["rm", "--help"]) == 0
        out = capsys.readouterr().out
        assert "--margin_scale" in out and "--kl_coef" not in out and "--lr" in out
        assert main(["--help"]) == 0
        top = capsys.readouterr().out
        assert all(name in top for name in STAGES) and "tiny-model" in top


class TestBadInputExits2:
    """Every problem the command line can see is one line naming the flag or the file."""

    def _run(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Traceback" not in err
        return err

    def test_missing_model_folder(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                  ) -> None:
        export = synthetic_export(tmp_path / "export", n_train=2, n_val=1, kinds=("sft",))
        err = self._run(["sft", "--data", str(export), "--model", str(tmp_path / "nope"),
                         "--out", str(tmp_path / "o")], capsys)
        assert "--model" in err and str(tmp_path / "nope") in err and "no such folder" in err
        (tmp_path / "file").write_text("x")
        err = self._run(["sft", "--data", str(export), "--model", str(tmp_path / "file"),
                         "--out", str(tmp_path / "o")], capsys)
        assert "--model" in err and "is a file" in err
        (tmp_path / "empty").mkdir()
        err = self._run(["sft", "--data", str(export), "--model", str(tmp_path / "empty"),
                         "--out", str(tmp_path / "o")], capsys)
        assert "no config.json" in err

    def test_ppo_without_a_reward_model(self, tiny_llama: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
        export = synthetic_export(tmp_path / "export", n_train=2, n_val=1, kinds=("prompts",))
        for stage in ("ppo", "best-of-k"):
            err = self._run([stage, "--data", str(export), "--model", str(tiny_llama),
                             "--out", str(tmp_path / "o")], capsys)
            assert "--reward-model" in err

    def test_missing_export_config_file_and_bad_choice(
            self, tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        base = ["rm", "--model", str(tiny_llama), "--out", str(tmp_path / "o")]
        err = self._run([*base, "--data", str(tmp_path / "none")], capsys)
        assert "--data" in err and str(tmp_path / "none") in err
        err = self._run([*base, "--data", "x", "--config", str(tmp_path / "c.yaml")], capsys)
        assert "--config" in err and "c.yaml" in err
        err = self._run([*base, "--data", "x", "--margin_scale", "huge"], capsys)
        assert "margin_scale" in err
        err = self._run([*base, "--data", "x", "--set", "objective=all"], capsys)
        assert "--objective" in err and "helpful, safety, both" in err
        err = self._run(["nonsense"], capsys)
        assert "invalid choice" in err

    def test_bad_value_in_config_file_names_the_field(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        cfg = tmp_path / "c.json"
        cfg.write_text(json.dumps({"batch_size": 0}))
        err = self._run(["sft", "--data", "d", "--model", "m", "--out", "o", "--config",
                         str(cfg)], capsys)
        assert "--batch-size: must be at least 1" in err
