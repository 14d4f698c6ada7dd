"""Exports filtered by quality, with the quality figures of what they hold in the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.exports.schemas import ExportCreate
from app.exports.service import ExportResult, write_export
from app.exports.snapshot import snapshot_session
from app.models import JudgementReview, PairwiseJudgement, Project, ReviewVerdict
from app.security.tokens import pseudonym
from tests.conftest import TEST_SECRET
from tests.exports.conftest import both
from tests.quality import builders as b
from tests.quality.simulate import Labeler, simulate


def _export(settings: Settings, out: Path, project: Project, **request: Any) -> ExportResult:
    with snapshot_session(settings) as snap:
        proj = snap.get(Project, project.id)
        assert proj is not None
        return write_export(snap, settings, proj, ExportCreate.model_validate(request), out)


class TestQualityFilters:
    def test_gold_accuracy_filter_gold_items_and_the_manifest_figures(
        self, db: Session, settings: Settings, tmp_path: Path
    ) -> None:
        good, also_good = Labeler("Good", "accurate", accuracy=0.95), Labeler("Also good", "accurate", accuracy=0.9)
        careless = Labeler("Careless", "accurate", accuracy=0.5)
        world = b.build(db, simulate([good, also_good, careless], kind="pairwise", items=60, gold=30, seed=3))
        names = {u.display_name: pseudonym(TEST_SECRET, world.project.public_id, u.public_id) for u in world.labelers}

        everything = _export(settings, tmp_path / "all", world.project)
        assert len(both(tmp_path / "all", "pairs")) == 3 * 60  # judgements of gold items stay out
        quality = everything.manifest["quality"]
        assert set(quality["labelers"]) == set(names.values())
        assert quality["labelers"][names["Good"]]["gold_accuracy"]["n"] == 30
        low, high = quality["agreement"]["low"], quality["agreement"]["high"]
        assert low <= quality["agreement"]["value"] <= high and quality["krippendorff_alpha"]["value"] is not None

        strict = _export(settings, tmp_path / "strict", world.project,
                         filters={"min_gold_accuracy": 0.75, "include_gold": True})
        assert strict.manifest["filters"]["excluded_labelers"] == [names["Careless"]]
        assert len(both(tmp_path / "strict", "pairs")) == 2 * (60 + 30)
        assert set(strict.manifest["quality"]["labelers"]) == {names["Good"], names["Also good"]}

    def test_review_status_keeps_only_the_judgements_in_those_states(
        self, db: Session, settings: Settings, tmp_path: Path
    ) -> None:
        world = b.build(db, simulate([Labeler("A", "accurate"), Labeler("B", "accurate")], kind="pairwise",
                                     items=5, gold=0, seed=2))
        (item, _), (other, _) = world.items[0], world.items[1]
        first = db.scalars(select(PairwiseJudgement).where(PairwiseJudgement.item_id == item.id)).all()
        second = db.scalars(select(PairwiseJudgement).where(PairwiseJudgement.item_id == other.id)).first()
        assert second is not None
        for j in first:
            db.add(JudgementReview(project_id=world.project.id, item_id=item.id, judgement_id=j.id,
                                   labeler_id=j.user_id, verdict=ReviewVerdict.accepted))
        db.add(JudgementReview(project_id=world.project.id, item_id=other.id, judgement_id=second.id,
                               labeler_id=second.user_id, verdict=ReviewVerdict.rejected, reason="wrong"))
        db.commit()
        accepted = _export(settings, tmp_path / "accepted", world.project, filters={"review_status": ["accepted"]})
        assert len(both(tmp_path / "accepted", "pairs")) == 2
        default = _export(settings, tmp_path / "default", world.project)
        assert len(both(tmp_path / "default", "pairs")) == 9 and default.counts["rejected_left_out"] == 1
        kept = _export(settings, tmp_path / "kept", world.project, filters={"exclude_rejected": False})
        assert len(both(tmp_path / "kept", "pairs")) == 10 and kept.counts["rejected_left_out"] == 0
        assert accepted.manifest["filters"]["review_status"] == ["accepted"]
