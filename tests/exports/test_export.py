"""Exports written from the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.exports.snapshot import snapshot_session
from app.models import Completion, ItemCompletion, Ranking, RankingEntry, TaskKind, Winner, WorkItem
from app.security.tokens import pseudonym
from tests.conftest import TEST_SECRET
from tests.exports import factories as f
from tests.exports.conftest import Exporter, World, both, records
from trainer.contract import load_export


def _pairs(folder: Path, source: str) -> list[dict]:
    return [p for p in both(folder, "pairs") if p["source"] == source]


class TestContents:
    def test_round_trip_loads_with_the_trainer_and_counts_agree(self, world: World, export: Exporter) -> None:
        folder, result = export(world.project)
        loaded = load_export(folder)
        e = world.expected
        assert sum(len(v) for v in loaded.rankings.values()) == e["rankings"]
        assert sum(len(v) for v in loaded.sft.values()) == e["sft"]
        assert sum(len(v) for v in loaded.ratings.values()) == e["ratings"]
        pairs = [p for v in loaded.pairs.values() for p in v]
        assert sum(p.source == "ranking" for p in pairs) == e["pairs_ranking"]
        assert sum(p.source == "pairwise" for p in pairs) == e["pairs_pairwise"]
        assert len(loaded.unusable) == e["unusable"] and len(loaded.prompts) == e["prompts"]
        for name, meta in loaded.manifest["files"].items():
            assert result.files[name].records == meta["records"]

    def test_ranking_pairs_follow_the_ranking_and_ties_give_none(self, world: World, export: Exporter) -> None:
        folder, _ = export(world.project)
        by_group: dict[str, int] = {}
        for p in _pairs(folder, "ranking"):
            assert p["margin_label"] is None and p["margin"] == 0
            by_group[p["group"]] = by_group.get(p["group"], 0) + 1
        sizes = {len(r["completions"]): r for r in both(folder, "rankings")}
        assert by_group.get(sizes[9]["id"]) == 36
        counts = sorted(by_group.get(r["id"], 0) for r in both(folder, "rankings"))
        assert counts == sorted([6] * 10 + [4] * 5 + [36] + [0])

    def test_pairwise_records_carry_margin_safety_and_source(self, world: World, export: Exporter) -> None:
        folder, result = export(world.project, margin_scale="large")
        pairs = _pairs(folder, "pairwise")
        assert {p["margin"] for p in pairs} == {3.0}
        assert all(p["margin_label"] == "significantly_better" and p["group"] == p["id"] for p in pairs)
        assert all(p["safety"] == {"chosen": "safe", "rejected": "unsafe"} or
                   p["safety"] == {"chosen": "unsafe", "rejected": "safe"} for p in pairs)
        assert result.manifest["margin"]["scale"] == "large"

    def test_every_judgement_record_has_shown_order_and_seconds(self, world: World, export: Exporter) -> None:
        folder, _ = export(world.project)
        for kind in ("sft", "rankings", "pairs", "ratings"):
            for rec in both(folder, kind):
                assert isinstance(rec["shown_order"], list) and rec["seconds"] == 12.5
        ranking = both(folder, "rankings")[0]
        assert sorted(ranking["shown_order"]) == sorted(c["id"] for c in ranking["completions"])

    def test_every_judgement_record_carries_its_items_round(
        self, world: World, export: Exporter, db: Session
    ) -> None:
        nine_id = db.scalar(select(ItemCompletion.item_id).join(WorkItem, WorkItem.id == ItemCompletion.item_id)
                            .where(WorkItem.project_id == world.project.id)
                            .group_by(ItemCompletion.item_id).having(func.count() == 9))
        nine = db.get(WorkItem, nine_id)
        assert nine is not None
        nine.round = 2  # the 9-way item came from a second round of sampling
        db.commit()
        folder, _ = export(world.project)
        rounds = {len(r["completions"]): r["round"] for r in both(folder, "rankings")}
        assert rounds[9] == 2 and set(rounds.values()) == {1, 2}
        nine_pairs = [p for p in _pairs(folder, "ranking") if p["group"] in
                      {r["id"] for r in both(folder, "rankings") if len(r["completions"]) == 9}]
        assert len(nine_pairs) == 36 and {p["round"] for p in nine_pairs} == {2}
        for kind in ("sft", "pairs", "ratings"):
            assert all(rec["round"] in (1, 2) for rec in both(folder, kind))

    def test_unusable_holds_not_rankable_and_both_bad(self, world: World, export: Exporter) -> None:
        folder, _ = export(world.project)
        verdicts = sorted((r["kind"], r["verdict"]) for r in records(folder, "unusable.jsonl"))
        assert verdicts == [("pairwise", "both_bad"), ("ranking", "not_rankable")]

    def test_no_labeler_name_or_email_in_any_byte(self, world: World, export: Exporter) -> None:
        folder, _ = export(world.project, formats=["jsonl", "parquet"])
        blob = b"".join(p.read_bytes() for p in folder.iterdir())
        for user in world.labelers:
            for secret in (user.email, user.display_name, user.public_id):
                assert secret.encode() not in blob
        # Instead: pseudonyms keyed by the project, so stable from export to export.
        expected = {pseudonym(TEST_SECRET, world.project.public_id, u.public_id) for u in world.labelers}
        assert {r["labeler"] for r in both(folder, "rankings")} == expected

    def test_manifest_checksums_match_the_files(self, world: World, export: Exporter) -> None:
        import hashlib

        folder, result = export(world.project)
        for name, meta in result.manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == meta["sha256"]
        assert result.manifest["schema_version"] == 1
        assert result.manifest["split"]["unit"] == "prompt"


class TestSplit:
    def test_no_prompt_on_both_sides_and_the_seed_reproduces_it(self, world: World, export: Exporter) -> None:
        request = {"split": {"validation_fraction": 0.5, "seed": 42}}
        first, r1 = export(world.project, **request)
        _, r2 = export(world.project, **request)
        sides: dict[str, set[str]] = {"train": set(), "validation": set()}
        for kind in ("sft", "rankings", "pairs", "ratings"):
            for side in sides:
                sides[side] |= {r["prompt_id"] for r in records(first, f"{kind}.{side}.jsonl")}
        assert sides["train"] and sides["validation"]
        assert not sides["train"] & sides["validation"]
        assert {n: i.sha256 for n, i in r1.files.items()} == {n: i.sha256 for n, i in r2.files.items()}

    def test_another_seed_moves_prompts(self, world: World, export: Exporter) -> None:
        a, _ = export(world.project, split={"validation_fraction": 0.5, "seed": 1})
        b, _ = export(world.project, split={"validation_fraction": 0.5, "seed": 2})
        assert records(a, "rankings.validation.jsonl") != records(b, "rankings.validation.jsonl")


class TestOptions:
    def test_aggregate_writes_one_ranking_per_item(self, world: World, export: Exporter) -> None:
        folder, result = export(world.project, aggregate="borda")
        rankings = both(folder, "rankings")
        assert len(rankings) == 10 + 1 + 1
        assert {r["labeler"] for r in rankings} == {"aggregate"}
        assert result.manifest["aggregation"] == "borda"
        assert len(both(folder, "ratings")) == world.expected["ratings"]
        load_export(folder)

    def test_labeler_and_time_filters(self, world: World, export: Exporter) -> None:
        u1 = world.labelers[0]
        folder, _ = export(world.project, filters={"labelers": [u1.public_id], "until": f.at(5).isoformat()})
        rankings = both(folder, "rankings")
        assert len(rankings) == 5 and len({r["labeler"] for r in rankings}) == 1

    def test_kind_and_model_filters(self, world: World, export: Exporter) -> None:
        folder, _ = export(world.project, filters={"kinds": ["pairwise"], "models": ["sft-v1", "ppo-v2"]})
        assert both(folder, "rankings") == [] and both(folder, "sft") == []
        assert len(_pairs(folder, "pairwise")) == 5
        assert records(folder, "prompts.jsonl") == []

    def test_min_agreement_drops_the_disagreeing_labeler(self, world: World, export: Exporter, db: Session) -> None:
        # Agreement counts the untied pairs two labelers share: u2's ties are left out, so u1
        # and u2 agree on all 4 remaining pairs of each shared item. A fourth labeler ranks
        # three of u1's items in reverse: 0 of 18 for them; u1 keeps 20 of 38 (0.53).
        u4 = f.labeler(db)
        first_three = select(Ranking).where(Ranking.user_id == world.labelers[0].id).order_by(Ranking.id).limit(3)
        for ranking in db.scalars(first_three).all():
            entries = db.scalars(select(RankingEntry).where(RankingEntry.ranking_id == ranking.id)).all()
            order = [e.completion_id for e in sorted(entries, key=lambda e: e.tie_group or 0)]
            completions = [db.get(Completion, cid) for cid in reversed(order)]
            f.ranking(db, db.get(WorkItem, ranking.item_id), u4, [[c] for c in completions if c is not None])
        db.commit()
        folder, result = export(world.project, filters={"min_agreement": 0.5})
        assert result.manifest["filters"]["excluded_labelers"] == [pseudonym(TEST_SECRET, world.project.public_id, u4.public_id)]
        assert len(both(folder, "rankings")) == world.expected["rankings"]
        stricter, result = export(world.project, filters={"min_agreement": 0.6})
        assert len(result.manifest["filters"]["excluded_labelers"]) == 2
        assert len(both(stricter, "rankings")) == world.expected["rankings"] - 10  # u1's ten go too

    def test_evaluation_projects_write_model_against_model(self, db: Session, export: Exporter) -> None:
        proj = f.project(db, TaskKind.evaluation)
        user = f.labeler(db)
        wi, cs = f.item(db, proj, f.prompt(db, proj, held_out=True), 2, models=["ppo-v2", "sft-v1"])
        f.pairwise(db, wi, user, cs, Winner.a)
        db.commit()
        folder, _ = export(proj)
        (ev,) = records(folder, "evaluations.jsonl")
        assert (ev["model_a"], ev["model_b"], ev["winner"]) == ("ppo-v2", "sft-v1", "a")
        assert both(folder, "pairs") == []


class TestSnapshot:
    def test_a_judgement_committed_during_the_export_is_wholly_out(
        self, world: World, export: Exporter, session_factory: sessionmaker[Session]
    ) -> None:
        added: dict[str, float] = {}

        def commit_a_ranking(done: int, total: int) -> None:
            if added:
                return
            start = time.monotonic()
            with session_factory() as other:
                proj = world.project
                wi, cs = f.item(other, proj, f.prompt(other, proj), 4)
                user = f.labeler(other)
                r = f.ranking(other, wi, user, [[c] for c in cs], ratings={0: 3})
                other.commit()
                added[r.public_id] = time.monotonic() - start

        folder, result = export(world.project, progress=commit_a_ranking)
        (public_id, seconds) = next(iter(added.items()))
        assert seconds < 5, "the export blocked a writer"
        blob = b"".join(p.read_bytes() for p in folder.iterdir())
        assert public_id.encode() not in blob
        assert result.counts["rankings.train"] + result.counts["rankings.validation"] == world.expected["rankings"]
        # Pairs and ratings agree with the rankings that are in.
        ranking_ids = {r["id"] for r in both(folder, "rankings")}
        assert {p["group"] for p in _pairs(folder, "ranking")} <= ranking_ids
        later, _ = export(world.project)
        assert public_id.encode() in b"".join(p.read_bytes() for p in later.iterdir())

    def test_the_snapshot_is_read_only_and_repeatable(self, settings: Settings) -> None:
        with snapshot_session(settings) as snap:
            if settings.is_sqlite:
                assert snap.execute(text("PRAGMA query_only")).scalar() == 1
            else:
                assert snap.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
                assert snap.execute(text("SHOW transaction_read_only")).scalar() == "on"

    def test_progress_reaches_the_total(self, world: World, export: Exporter) -> None:
        calls: list[tuple[int, int]] = []
        export(world.project, progress=lambda d, t: calls.append((d, t)))
        assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] > 0


class TestHuggingFaceDatasets:
    def test_load_dataset_json_gives_trl_columns(self, world: World, export: Exporter) -> None:
        from datasets import load_dataset

        folder, _ = export(world.project, split={"validation_fraction": 0.0, "seed": 1})
        pairs = load_dataset("json", data_files=str(folder / "pairs.train.jsonl"), split="train")
        assert {"prompt", "chosen", "rejected"} <= set(pairs.column_names)
        assert pairs[0]["chosen"][0]["role"] == "assistant"
        sft = load_dataset("json", data_files=str(folder / "sft.train.jsonl"), split="train")
        assert "messages" in sft.column_names and len(sft) == world.expected["sft"]


class TestParquet:
    def test_parquet_files_have_the_jsonl_rows(self, world: World, export: Exporter) -> None:
        import pyarrow.parquet as pq

        folder, result = export(world.project, formats=["jsonl", "parquet"])
        for name, meta in result.manifest["parquet"].items():
            table = pq.read_table(folder / name)
            assert table.num_rows == meta["records"]
            assert table.num_rows == result.manifest["files"][name.replace(".parquet", ".jsonl")]["records"]
        pairs = pq.read_table(folder / "pairs.train.parquet").to_pylist()
        assert pairs and pairs[0]["chosen"][0]["role"] == "assistant"
        load_export(folder)  # Parquet files beside the JSONL do not upset the reader
