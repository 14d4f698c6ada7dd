"""`rankwise export PROJECT --out DIR` runs the same service as the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.config import Settings
from tests.exports.conftest import World
from trainer.contract import load_export


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANKWISE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RANKWISE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RANKWISE_SECRET_KEY", settings.secret_key)


class TestExportCommand:
    def test_writes_a_loadable_export_and_refuses_a_used_folder(
        self, env: None, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "out"
        code = main(["export", world.project.slug, "--out", str(out), "--aggregate",
                     "bradley_terry", "--validation-fraction", "0.2", "--seed", "5", "--quiet"])
        assert code == 0, capsys.readouterr().err
        loaded = load_export(out)
        assert loaded.manifest["aggregation"] == "bradley_terry"
        assert loaded.manifest["split"] == {"validation_fraction": 0.2, "seed": 5, "unit": "prompt"}
        assert "manifest sha256" in capsys.readouterr().out
        assert main(["export", world.project.slug, "--out", str(out), "--quiet"]) == 2
        assert "not an empty folder" in capsys.readouterr().err
        assert main(["export", "no-such-project", "--out", str(tmp_path / "x"), "--quiet"]) == 2
