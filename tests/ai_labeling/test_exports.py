"""Exports keep, leave out or separate AI judgements; records say who judged them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.config import Settings
from app.exports.schemas import ExportCreate
from app.exports.service import ExportResult, write_export
from app.exports.snapshot import snapshot_session
from app.models import Project, Role, TaskKind
from tests.ai_labeling.helpers import ai_judges, simulated_people, world
from tests.exports.conftest import both
from tests.factories import make_user
from trainer.contract import load_export


def _export(settings: Settings, out: Path, project: Project, **request: Any) -> ExportResult:
    with snapshot_session(settings) as snap:
        proj = snap.get(Project, project.id)
        assert proj is not None
        return write_export(snap, settings, proj, ExportCreate.model_validate(request), out)


class TestAiFilter:
    @pytest.mark.parametrize(("ai", "people", "machine"), [("exclude", 2, 0), ("include", 2, 1), ("only", 0, 1)])
    def test_the_filter_keeps_people_ai_or_both_and_the_manifest_counts_each(
        self, db: Session, settings: Settings, tmp_path: Path, ai: str, people: int, machine: int
    ) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 4], [6, 2], [3, 8]])
        simulated_people(db, w, 2, accuracy=1.0)
        ai_judges(db, admin, w, wrong_every=2)
        result = _export(settings, tmp_path / ai, w.project, filters={"ai": ai})
        pairs = both(tmp_path / ai, "pairs")
        kinds = [p["labeler_kind"] for p in pairs]
        assert kinds.count("human") == 3 * people and kinds.count("ai") == 3 * machine
        assert result.manifest["counts"]["judgements_by_source"] == {"human": 3 * people, "ai": 3 * machine}
        assert result.manifest["filters"]["ai"] == ai
        for record in pairs:
            if record["labeler_kind"] == "ai":
                judge = record["judge"]
                assert judge["source"] == "ai" and judge["model"] == "judge" and judge["method"] == "test"
                assert set(judge) >= {"prompt", "raw", "constitution_version", "ai_labeler", "p_a"}
            else:
                assert "judge" not in record
        # The trainer reads the export as it reads any other.
        loaded = load_export(tmp_path / ai)
        assert sum(len(v) for v in loaded.pairs.values()) == len(pairs)

    def test_people_only_is_the_default(self, db: Session, settings: Settings, tmp_path: Path) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 4]])
        simulated_people(db, w, 1, accuracy=1.0)
        ai_judges(db, admin, w, wrong_every=2)
        _export(settings, tmp_path / "default", w.project)
        assert [p["labeler_kind"] for p in both(tmp_path / "default", "pairs")] == ["human"]
