"""The data contract as code (trainer/contract.py): one definition, torch-free, strict reader."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.trainer.export_factory import demo, pair, ranking, synthetic_export, write_export
from trainer import contract
from trainer.contract import (
    FILE_NAMES,
    MARGIN_SCALES,
    ContractError,
    MarginLabel,
    PairSource,
    load_export,
    resolve_margin,
)


class TestOneDefinition:
    def test_importing_the_contract_loads_neither_torch_nor_transformers(self) -> None:
        code = ("import sys, trainer, trainer.contract, trainer.stages, app.exports.service; "
                "bad = [m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules]; "
                "print(bad); sys.exit(1 if bad else 0)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def test_the_app_writes_with_the_contracts_names_and_margin_table(self) -> None:
        from app.exports import service

        assert service.MARGIN_SCALES is MARGIN_SCALES
        assert service.FILE_NAMES is FILE_NAMES
        assert service.SCHEMA_VERSION == contract.SCHEMA_VERSION

    def test_file_names_and_llama2_table_27(self) -> None:
        assert "sft.train.jsonl" in FILE_NAMES and "pairs.validation.jsonl" in FILE_NAMES
        assert {"prompts.jsonl", "unusable.jsonl", "evaluations.jsonl"} <= set(FILE_NAMES)
        assert len(FILE_NAMES) == 4 * 2 + 3
        assert MARGIN_SCALES["small"] == pytest.approx(
            {"significantly_better": 1, "better": 2 / 3, "slightly_better": 1 / 3,
             "negligibly_better": 0})
        assert MARGIN_SCALES["large"] == {"significantly_better": 3, "better": 2,
                                          "slightly_better": 1, "negligibly_better": 0}
        with pytest.raises(ValueError, match="per-split"):
            contract.split_file("prompts", "train")


class TestReading:
    def test_typed_records_with_enums(self, tmp_path: Path) -> None:
        export = load_export(synthetic_export(tmp_path / "e", n_train=3, n_val=1))
        p = export.pairs["train"][0]
        assert isinstance(p.margin_label, MarginLabel) and p.source is PairSource.pairwise
        assert resolve_margin(p, "large") == MARGIN_SCALES["large"][p.margin_label]
        assert len(export.rankings["validation"]) == 1 and export.prompts

    @pytest.mark.parametrize("archive", ["zip", "tar.gz"])
    def test_reads_an_archive_of_the_folder(self, tmp_path: Path, archive: str) -> None:
        folder = synthetic_export(tmp_path / "export", n_train=2, n_val=1, kinds=("sft",))
        target = tmp_path / f"e.{archive}"
        if archive == "zip":
            with zipfile.ZipFile(target, "w") as zf:
                for f in folder.iterdir():
                    zf.write(f, f"export/{f.name}")
        else:
            with tarfile.open(target, "w:gz") as tf:
                tf.add(folder, "export")
        assert len(load_export(target).sft["train"]) == 2

    @pytest.mark.parametrize(("line", "message"), [
        ('{"id": "d2", "messages": [{"role": "robot", "content": "q"}]}', "role"),
        ('{"id": "d2", "messages": [{"role": "user", "content": "q"}]}', "assistant"),
        ('{"id": "", "messages": [{"role": "assistant", "content": "x"}]}', "'id'"),
        ('{"id": "d2", "messages": []}', "non-empty list"),
        ('[1, 2]', "JSON object"),
        ('{"id": "d2", ', "invalid JSON"),
        ('{"id": "d1", "messages": [{"role": "assistant", "content": "x"}]}', "duplicate id"),
        ("[" * 50_000 + "]" * 50_000, "invalid JSON"),
    ])
    def test_every_bad_line_names_file_and_line(self, tmp_path: Path, line: str,
                                                message: str) -> None:
        good = json.dumps(demo("d1", "q", "a"))
        root = write_export(tmp_path / "e", {"sft.train.jsonl": f"{good}\n{line}\n"})
        with pytest.raises(ContractError, match=message) as err:
            load_export(root)
        assert (err.value.file, err.value.line) == ("sft.train.jsonl", 2)
        assert str(err.value).startswith("sft.train.jsonl:2: ")

    def test_pairs_and_rankings_are_checked_field_by_field(self, tmp_path: Path) -> None:
        bad_label = pair("p1", "q", "a", "b", margin_label="much_better")
        root = write_export(tmp_path / "p", {"pairs.train.jsonl": [bad_label]})
        with pytest.raises(ContractError, match="margin_label"):
            load_export(root)
        three = ranking("r1", "q", ["a", "b", "c"], [[0], [1], [2]])
        root = write_export(tmp_path / "r", {"rankings.train.jsonl": [three]})
        with pytest.raises(ContractError, match="4 to 9"):
            load_export(root)
        missing = ranking("r1", "q", ["a", "b", "c", "d"], [[0], [1], [2]])
        root = write_export(tmp_path / "m", {"rankings.train.jsonl": [missing]})
        with pytest.raises(ContractError, match="every completion id"):
            load_export(root)

    def test_manifest_checksums_counts_and_version(self, tmp_path: Path) -> None:
        root = synthetic_export(tmp_path / "e", n_train=2, n_val=1, kinds=("sft",))
        manifest = json.loads((root / "manifest.json").read_text())
        (root / "sft.train.jsonl").write_text(
            (root / "sft.train.jsonl").read_text().replace("aaaa", "aaab", 1))
        with pytest.raises(ContractError, match="sha256") as err:
            load_export(root)
        assert err.value.file == "sft.train.jsonl" and err.value.line is None
        assert load_export(root, verify_checksums=False).sft["train"]
        manifest["files"]["sft.train.jsonl"] = {"records": 5}
        (root / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ContractError, match=r"2 records but manifest\.json says 5"):
            load_export(root)
        manifest["schema_version"] = 99
        (root / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ContractError, match="schema_version 99"):
            load_export(root)
        with pytest.raises(ContractError, match="export not found"):
            load_export(tmp_path / "nowhere")
