"""Dataset exports: the data-contract files (schema_version 1) written from the database.

``write_export`` does the work from one snapshot session and is callable from
a request, the CLI or (later) a job worker; it streams every kind of record
to its file and reports progress. ``request_export`` / ``run_export`` record
each export as an ``Export`` row around it. Spec: docs/data-contract.md (as code: trainer/contract.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app import access
from app.config import Settings
from app.db import unit_of_work
from app.errors import Conflict, InvalidInput, NotFound
from app.exports import repository as repo
from app.exports.aggregate import AGGREGATORS, preference_pairs
from app.exports.schemas import ALL_KINDS, ExportCreate
from app.exports.snapshot import snapshot_session
from app.exports.split import SplitName, split_of
from app.exports.writer import (
    FileInfo,
    JsonlWriter,
    dumps_str,
    jsonl_to_parquet,
    parquet_available,
)
from app.models import Export, ExportStatus, Project, TaskKind, User, utcnow
from app.quality import service as quality
from app.security.tokens import pseudonym
from trainer.contract import (
    FILE_NAMES,
    MARGIN_SCALES,
    SCHEMA_VERSION,
    sha256_of,
    single_file,
    split_file,
)

# Parquet columns per file kind (the JSONL fields; nested objects become JSON text).
_COMMON = ["labeler", "created_at", "shown_order", "seconds", "prompt_id", "round"]
PARQUET_COLUMNS = {
    "sft": ["id", "messages", "category", *_COMMON],
    "rankings": ["id", "prompt", "completions", "ranking", "ratings", "flags", *_COMMON],
    "pairs": ["id", "prompt", "chosen", "rejected", "margin_label", "margin", "safety", "source",
              "group", *_COMMON],
    "ratings": ["id", "prompt", "completion", "rating", "flags", *_COMMON],
    "prompts": ["id", "prompt", "category"],
    "evaluations": ["id", "prompt", "model_a", "model_b", "a", "b", "winner", "margin_label",
                    *_COMMON],
    "unusable": ["id", "kind", "prompt", "reason", "verdict", *_COMMON],
}
PROGRESS_EVERY = 1_000

Progress = Callable[[int, int], None]


@dataclass
class ExportResult:
    manifest: dict[str, Any]
    manifest_sha256: str
    files: dict[str, FileInfo]
    counts: dict[str, Any]


def export_dir(settings: Settings, export_public_id: str) -> Path:
    return settings.data_dir / "exports" / export_public_id


_iso = repo.iso


def _assistant(content: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": content}]


def _cid(public_id: str) -> str:
    return f"c_{public_id}"


def margin_mapping_for(project: Project, request: ExportCreate) -> tuple[str, dict[str, float]]:
    if request.margin_mapping is not None:
        return "custom", {k: float(v) for k, v in request.margin_mapping.items()}
    scale = request.margin_scale or project.margin_scale.value
    return scale, dict(MARGIN_SCALES[scale])


# ---------------------------------------------------------------- the writer of one export


@dataclass
class _Files:
    root: Path
    writers: dict[str, JsonlWriter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in FILE_NAMES:
            self.writers[name] = JsonlWriter(self.root / name)

    def split(self, kind: str, split: SplitName) -> JsonlWriter:
        return self.writers[split_file(kind, split)]

    def single(self, kind: str) -> JsonlWriter:
        return self.writers[single_file(kind)]

    def close(self) -> dict[str, FileInfo]:
        return {name: w.close() for name, w in self.writers.items()}


class _Run:
    """The state of one export while it streams: files, labeler ids, counters, progress."""

    def __init__(
        self, db: Session, settings: Settings, project: Project, request: ExportCreate,
        files: _Files, progress: Progress | None,
    ) -> None:
        self.db, self.project, self.request, self.files = db, project, request, files
        self.secret = settings.secret_key
        self.progress = progress
        self.done = 0
        self.total = 0
        self.skipped: dict[str, int] = {}
        self.judged: dict[str, int] = {}
        self.user_public: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self.margin_name, self.margin = margin_mapping_for(project, request)
        self.fraction = request.split.validation_fraction
        self.seed = request.split.seed

    def labeler(self, user_id: int) -> str:
        name = self.names.get(user_id)
        if name is None:
            public = self.user_public.get(user_id) or str(user_id)
            name = pseudonym(self.secret, self.project.public_id, public)
            self.names[user_id] = name
        return name

    def split_of(self, prompt_public_id: str) -> SplitName:
        return split_of(self.seed, prompt_public_id, self.fraction)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def tick(self, n: int = 1) -> None:
        before = self.done // PROGRESS_EVERY
        self.done += n
        if self.progress is not None and self.done // PROGRESS_EVERY != before:
            self.progress(self.done, max(self.total, self.done))

    def common(self, row: repo.JudgementRow) -> dict[str, Any]:
        out: dict[str, Any] = {
            "labeler": self.labeler(row.user_id),
            "labeler_kind": "ai" if row.judge is not None else "human",
            "created_at": row.created_at,
            "shown_order": [_cid(c) for c in row.shown_order],
            "seconds": row.seconds,
            "prompt_id": f"q_{row.prompt_public_id}",
            "round": row.round,
        }
        if row.judge is not None:
            out["judge"] = row.judge
        return out

    # -------------------------------------------------------- demonstrations

    def demonstrations(self, rows: Iterable[repo.DemonstrationRow]) -> None:
        for row in rows:
            self.tick()
            self.judged["demonstrations"] = self.judged.get("demonstrations", 0) + 1
            messages = row.messages or []
            if not messages or messages[-1].get("role") != "assistant":
                self.skip("demonstration_without_assistant_turn")
                continue
            record = {
                "id": f"d_{row.public_id}",
                "messages": messages,
                "category": row.prompt_category,
                **self.common(row),
            }
            self.files.split("sft", self.split_of(row.prompt_public_id)).write(record)

    # -------------------------------------------------------- rankings

    def rankings(self, rows: Iterable[repo.RankingRow], aggregate: str | None) -> None:
        for _item, group in itertools.groupby(rows, key=lambda r: r.item_id):
            ranked: list[tuple[repo.RankingRow, list[list[str]]]] = []
            for row in group:
                self.tick()
                self.judged["rankings"] = self.judged.get("rankings", 0) + 1
                if row.verdict != "ranked":
                    self.files.single("unusable").write({
                        "id": f"r_{row.public_id}", "kind": "ranking",
                        "prompt": row.prompt_messages, "reason": row.reason,
                        "verdict": row.verdict, **self.common(row),
                    })
                    continue
                tiers = _tie_groups(row.entries)
                if len(tiers) == 0:
                    self.skip("ranking_without_entries")
                    continue
                ranked.append((row, tiers))
                common = self.common(row)
                self._ratings(row, common)
                if aggregate is None:
                    self._ranking_record(
                        f"r_{row.public_id}", row, row.entries, tiers,
                        {_cid(e.public_id): e.rating for e in row.entries if e.rating is not None},
                        {_cid(e.public_id): e.flags for e in row.entries if e.flags},
                        common,
                    )
            if aggregate is not None and ranked:
                self._aggregate(ranked, aggregate)

    def _ratings(self, row: repo.RankingRow, common: dict[str, Any]) -> None:
        split = self.split_of(row.prompt_public_id)
        out = self.files.split("ratings", split)
        # K ratings of one ranking share its prompt and common fields: encode those once and
        # join the pieces, as the pairs do (orjson writes a dict as its key:value pairs in order).
        prompt = ',"prompt":' + dumps_str(row.prompt_messages) + ',"completion":'
        tail = "," + dumps_str(common)[1:]
        for e in row.entries:
            if e.rating is None:
                continue
            cid = _cid(e.public_id)
            out.write_json((
                '{"id":' + dumps_str(f"g_{row.public_id}:{cid}") + prompt
                + dumps_str({"id": cid, "content": e.content, "model": e.model})
                + ',"rating":' + dumps_str(e.rating) + ',"flags":' + dumps_str(e.flags) + tail
            ).encode("utf-8"))

    def _ranking_record(
        self, rid: str, row: repo.RankingRow, entries: list[repo.CompletionRow],
        tiers: list[list[str]], ratings: dict[str, Any], flags: dict[str, list[str]],
        common: dict[str, Any],
    ) -> None:
        split = self.split_of(row.prompt_public_id)
        ranked_ids = {c for t in tiers for c in t}
        completions = [
            {"id": _cid(e.public_id), "content": e.content, "model": e.model}
            for e in entries if _cid(e.public_id) in ranked_ids
        ]
        if 4 <= len(completions) <= 9:
            self.files.split("rankings", split).write({
                "id": rid, "prompt": row.prompt_messages, "completions": completions,
                "ranking": tiers, "ratings": ratings, "flags": flags, **common,
            })
        else:
            # The contract's rankings hold 4 to 9 completions; smaller ones still give pairs.
            self.skip("ranking_outside_4_to_9_completions")
        # A ranking of K gives up to C(K,2) pairs sharing one prompt and K contents:
        # encode those once and join the pieces (the pairs are most of an export's bytes).
        turn = {c["id"]: '[{"role":"assistant","content":' + dumps_str(c["content"]) + "}]"
                for c in completions}
        head = '{"id":'
        middle = ',"prompt":' + dumps_str(row.prompt_messages) + ',"chosen":'
        tail = (',"margin_label":null,"margin":0,"source":"ranking","group":' + dumps_str(rid)
                + "," + dumps_str(common)[1:])
        pairs = self.files.split("pairs", split)
        for w, lo in preference_pairs(tiers):
            line = head + dumps_str(f"{rid}:{w}>{lo}") + middle + turn[w] + ',"rejected":' + turn[lo] + tail
            pairs.write_json(line.encode("utf-8"))

    def _aggregate(self, ranked: list[tuple[repo.RankingRow, list[list[str]]]], method: str) -> None:
        first = ranked[0][0]
        tiers = AGGREGATORS[method]([t for _, t in ranked])
        entries: dict[str, repo.CompletionRow] = {}
        ratings: dict[str, list[int]] = {}
        flags: dict[str, set[str]] = {}
        for row, _ in ranked:
            for e in row.entries:
                cid = _cid(e.public_id)
                entries.setdefault(cid, e)
                if e.rating is not None:
                    ratings.setdefault(cid, []).append(e.rating)
                if e.flags:
                    flags.setdefault(cid, set()).update(e.flags)
        common = {
            "labeler": "aggregate",
            "labelers": len(ranked),
            # Same-format UTC texts: the greatest is the latest.
            "created_at": max(r.created_at for r, _ in ranked),
            "shown_order": [],
            "seconds": sum(r.seconds for r, _ in ranked),
            "prompt_id": f"q_{first.prompt_public_id}",
            "round": first.round,
        }
        self._ranking_record(
            f"r_agg_{first.item_public_id}", first, list(entries.values()), tiers,
            {c: round(sum(v) / len(v), 4) for c, v in ratings.items()},
            {c: sorted(v) for c, v in flags.items()},
            common,
        )

    # -------------------------------------------------------- pairwise and evaluations

    def pairwise(self, rows: Iterable[repo.PairRow], evaluation: bool) -> None:
        for row in rows:
            self.tick()
            self.judged["pairwise"] = self.judged.get("pairwise", 0) + 1
            if row.a is None or row.b is None:
                self.skip("pairwise_without_two_completions")
                continue
            if evaluation:
                self.files.single("evaluations").write({
                    "id": f"e_{row.public_id}", "prompt": row.prompt_messages,
                    "model_a": row.a.model, "model_b": row.b.model,
                    "a": _cid(row.a.public_id), "b": _cid(row.b.public_id),
                    "winner": row.winner, "margin_label": row.margin_label, **self.common(row),
                })
                continue
            if row.winner == "both_bad":
                self.files.single("unusable").write({
                    "id": f"p_{row.public_id}", "kind": "pairwise", "prompt": row.prompt_messages,
                    "reason": row.reason, "verdict": "both_bad", **self.common(row),
                })
                continue
            if row.winner not in ("a", "b"):
                self.skip("pairwise_tie")
                continue
            chosen, rejected = (row.a, row.b) if row.winner == "a" else (row.b, row.a)
            record: dict[str, Any] = {
                "id": f"p_{row.public_id}", "prompt": row.prompt_messages,
                "chosen": _assistant(chosen.content), "rejected": _assistant(rejected.content),
                "margin_label": row.margin_label,
                "margin": self.margin.get(row.margin_label, 0.0) if row.margin_label else 0.0,
            }
            if self.project.safety_labels and (row.safety_a or row.safety_b):
                sa, sb = row.safety_a, row.safety_b
                record["safety"] = {"chosen": sa, "rejected": sb} if row.winner == "a" else {
                    "chosen": sb, "rejected": sa}
            record.update({"source": "pairwise", "group": f"p_{row.public_id}", **self.common(row)})
            self.files.split("pairs", self.split_of(row.prompt_public_id)).write(record)

    # -------------------------------------------------------- prompts

    def prompts(self, rows: Iterable[tuple[str, list[dict[str, str]], str | None]], prefix: str) -> None:
        out = self.files.single("prompts")
        for public_id, messages, category in rows:
            self.tick()
            out.write({"id": f"{prefix}{public_id}", "prompt": messages, "category": category})


def _tie_groups(entries: list[repo.CompletionRow]) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for e in entries:
        if e.tie_group is not None:
            groups.setdefault(e.tie_group, []).append(_cid(e.public_id))
    return [sorted(groups[g]) for g in sorted(groups)]


def resolve_filter(
    db: Session, project: Project, request: ExportCreate, *, strict: bool
) -> tuple[repo.JudgementFilter, dict[str, Any]]:
    """The query filter and what the manifest says about it. ``strict`` refuses unknown
    labeler ids (a request); a worker re-resolving a recorded request ignores them."""
    f = request.filters
    user_ids: frozenset[int] | None = None
    if f.labelers is not None:
        found = repo.users_by_public_id(db, f.labelers)
        missing = [p for p in f.labelers if p not in found]
        if missing and strict:
            raise InvalidInput(
                f"No user has the id {missing[0]}; labelers must be user ids from the users list.",
                details=[{"field": "filters.labelers", "message": f"unknown user id {m}"}
                         for m in missing[:20]],
            )
        user_ids = frozenset(found.values())
    flt = repo.JudgementFilter(
        project_id=project.id, since=f.since, until=f.until, user_ids=user_ids,
        models=tuple(f.models) if f.models is not None else None,
        exclude_rejected=f.exclude_rejected,
        review_status=tuple(f.review_status) if f.review_status is not None else None,
        include_gold=f.include_gold,
        ai=f.ai,
    )
    described: dict[str, Any] = {
        "since": _iso(f.since) if f.since else None,
        "until": _iso(f.until) if f.until else None,
        "min_agreement": f.min_agreement,
        "labelers": None,
        "kinds": list(f.kinds) if f.kinds is not None else None,
        "models": list(f.models) if f.models is not None else None,
        "min_gold_accuracy": f.min_gold_accuracy,
        "exclude_rejected": f.exclude_rejected,
        "review_status": list(f.review_status) if f.review_status is not None else None,
        "include_gold": f.include_gold,
        "ai": f.ai,
    }
    return flt, described


def write_export(
    db: Session,
    settings: Settings,
    project: Project,
    request: ExportCreate,
    out_dir: Path,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every file of the contract into ``out_dir`` from ``db``, which should be a
    snapshot session (``snapshot.snapshot_session``) so all files agree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    flt, described = resolve_filter(db, project, request, strict=False)
    files = _Files(out_dir)
    run = _Run(db, settings, project, request, files, progress)
    try:
        run.user_public = repo.judging_users(db, project.id)
        if flt.user_ids is not None:
            described["labelers"] = sorted(run.labeler(u) for u in flt.user_ids)
        # Quality figures of this snapshot: the filters below use them, the manifest records them.
        figures = quality.snapshot_figures(db, project)
        low = quality.labelers_below(figures, request.filters.min_agreement, request.filters.min_gold_accuracy)
        if low:
            flt = dataclasses.replace(flt, excluded_user_ids=low)
        if request.filters.min_agreement is not None or request.filters.min_gold_accuracy is not None:
            described["excluded_labelers"] = sorted(run.labeler(u) for u in low)
        kinds = set(request.filters.kinds or ALL_KINDS)
        evaluation = project.task_kind == TaskKind.evaluation
        want_pairwise = ("evaluation" if evaluation else "pairwise") in kinds
        by_source = repo.count_by_source(db, flt)
        counts = {name: sum(per.values()) for name, per in by_source.items()}
        unjudged = repo.count_unjudged_prompts(db, project.id) if "prompt" in kinds else 0
        run.total = (
            (counts["demonstrations"] if "demonstration" in kinds else 0)
            + (counts["rankings"] if "ranking" in kinds else 0)
            + (counts["pairwise"] if want_pairwise else 0)
            + unjudged
        )
        if progress is not None:
            progress(0, run.total)
        if "demonstration" in kinds:
            run.demonstrations(repo.iter_demonstrations(db, flt))
        if "ranking" in kinds:
            run.rankings(repo.iter_rankings(db, flt), request.aggregate)
        if want_pairwise:
            run.pairwise(repo.iter_pairwise(db, flt), evaluation)
        if "prompt" in kinds:
            run.prompts(repo.iter_unjudged_prompts(db, project.id), "q_")
            run.prompts(repo.iter_unpooled_submissions(db, flt), "w_")
    finally:
        infos = files.close()
    if progress is not None:
        progress(run.done, max(run.total, run.done))

    parquet: dict[str, FileInfo] = {}
    if "parquet" in request.formats and parquet_available():
        for name, info in infos.items():
            kind = name.split(".")[0]
            target = out_dir / name.replace(".jsonl", ".parquet")
            parquet[target.name] = jsonl_to_parquet(out_dir / name, target, PARQUET_COLUMNS[kind])
            assert parquet[target.name].records == info.records

    record_counts = {name.removesuffix(".jsonl"): info.records for name, info in infos.items()}
    counts_out: dict[str, Any] = {
        **record_counts,
        "judgements": run.judged,
        "judgements_by_source": {source: sum(per[source] for per in by_source.values())
                                 for source in ("human", "ai")},
        "skipped": run.skipped,
        "rejected_left_out": repo.count_rejected(db, flt) if flt.exclude_rejected else 0,
    }
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "project": project.slug,
        "project_id": project.public_id,
        "task_kind": project.task_kind.value,
        "filters": described,
        "split": {"validation_fraction": run.fraction, "seed": run.seed, "unit": "prompt"},
        "margin": {"scale": run.margin_name, "mapping": run.margin},
        "aggregation": request.aggregate,
        "safety_labels": project.safety_labels,
        "counts": counts_out,
        "quality": quality.manifest_figures(figures, frozenset(run.names) - flt.excluded_user_ids, run.labeler),
        "files": {name: info.as_dict() for name, info in infos.items()},
    }
    if parquet:
        manifest["parquet"] = {name: info.as_dict() for name, info in parquet.items()}
    manifest_path = out_dir / "manifest.json"
    body = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
    manifest_path.write_bytes(body)
    return ExportResult(manifest, sha256_of(manifest_path), {**infos, **parquet}, counts_out)


# ---------------------------------------------------------------- recorded exports


def request_export(db: Session, actor: User | None, project_ref: str, request: ExportCreate) -> Export:
    """Record an export to run (pending); checks the request against the project, which
    the actor must be allowed to change (404 otherwise)."""
    project = access.writable_project(db, actor, project_ref)
    resolve_filter(db, project, request, strict=True)
    if "parquet" in request.formats and not parquet_available():
        raise InvalidInput("Parquet output needs pyarrow: pip install 'rankwise[parquet]'.")
    export = Export(
        project_id=project.id,
        created_by=actor.id if actor else None,
        status=ExportStatus.pending,
        filters=request.model_dump(mode="json"),
    )
    return repo.add_export(db, export)


def run_export(
    session_factory: sessionmaker[Session],
    settings: Settings,
    export_public_id: str,
    progress: Progress | None = None,
    out_dir: Path | None = None,
) -> None:
    """Run a recorded export, outside any request transaction (a job worker can call it).

    Files are written to a ``.partial`` folder and renamed when complete, so a
    folder under exports/ is always a whole export.
    """
    with unit_of_work(session_factory) as db:
        export = repo.get_export(db, export_public_id)
        if export is None:
            raise NotFound(f"No export {export_public_id!r}.")
        export.status = ExportStatus.running
        request = ExportCreate.model_validate(export.filters)
        project_id = export.project_id
    final = out_dir or export_dir(settings, export_public_id)
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with snapshot_session(settings) as snap:
            project = repo.project_by_id(snap, project_id)
            if project is None:
                raise NotFound("The export's project no longer exists.")
            result = write_export(snap, settings, project, request, partial, progress)
        if final.exists():
            if out_dir is not None:  # never delete a folder someone else chose
                raise Conflict(f"{final} already exists; choose a new folder.")
            shutil.rmtree(final)
        partial.rename(final)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        with unit_of_work(session_factory) as db:
            failed = repo.get_export(db, export_public_id)
            if failed is not None:
                failed.status = ExportStatus.failed
                failed.error = (str(exc) or type(exc).__name__)[:2000]
        raise
    with unit_of_work(session_factory) as db:
        done = repo.get_export(db, export_public_id)
        assert done is not None
        done.status = ExportStatus.succeeded
        done.counts = {**result.counts, "files": {n: i.as_dict() for n, i in result.files.items()}}
        done.manifest_sha256 = result.manifest_sha256
        done.path = str(final.resolve())


def get_export(db: Session, export_public_id: str) -> Export:
    export = repo.get_export(db, export_public_id)
    if export is None:
        raise NotFound(f"No export {export_public_id!r}.")
    return export


def finished_export(db: Session, export_public_id: str) -> tuple[Export, Project] | None:
    """A succeeded export whose files exist, with its project; None otherwise."""
    export = repo.get_export(db, export_public_id)
    if export is None or export.status != ExportStatus.succeeded or not export.path:
        return None
    project = repo.project_by_id(db, export.project_id)
    return None if project is None else (export, project)


def list_exports(db: Session, actor: User | None, project_ref: str) -> tuple[Project, list[Export]]:
    project = access.readable_project(db, actor, project_ref)
    return project, list(repo.list_exports(db, project.id))


def recent_exports(db: Session, limit: int) -> list[Export]:
    return list(repo.recent_exports(db, limit))


def files_of(export: Export) -> dict[str, dict[str, Any]]:
    files = export.counts.get("files") if isinstance(export.counts, dict) else None
    return dict(files) if isinstance(files, dict) else {}


def ready_folder(export: Export) -> Path:
    """The folder of a finished export, or a 409/404 that says why there is none."""
    if export.status != ExportStatus.succeeded or not export.path:
        raise Conflict(f"Export {export.public_id} is {export.status}; only a finished export can be downloaded.")
    folder = Path(export.path)
    if not (folder / "manifest.json").exists():
        raise NotFound(f"The files of export {export.public_id} are no longer on disk.")
    return folder


def archive_members(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def compare(this: Export, other: Export) -> dict[str, Any]:
    """Counts and per-file differences between two exports."""
    a, b = files_of(this), files_of(other)
    counts: dict[str, dict[str, int]] = {}
    for name in sorted(set(a) | set(b)):
        if name.endswith(".jsonl"):
            x = int((a.get(name) or {}).get("records", 0))
            y = int((b.get(name) or {}).get("records", 0))
            counts[name.removesuffix(".jsonl")] = {"this": x, "other": y, "delta": x - y}
    files = {
        name: {
            "this": a.get(name),
            "other": b.get(name),
            "same": a.get(name) is not None and a.get(name) == b.get(name),
        }
        for name in sorted(set(a) | set(b))
    }
    return {"export": this.public_id, "other": other.public_id, "counts": counts, "files": files}


def iter_archive(folder: Path, fmt: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    from app.exports.archive import stream_archive

    return stream_archive(folder, archive_members(folder), fmt, chunk)


def export_out(db: Session, export: Export) -> dict[str, Any]:
    project = repo.project_by_id(db, export.project_id)
    counts = {k: v for k, v in (export.counts or {}).items() if k != "files"}
    files = {n: f for n, f in files_of(export).items() if n.endswith(".jsonl")}
    base = f"/api/v1/exports/{export.public_id}/download?format="
    return {
        "id": export.public_id,
        "project": project.public_id if project else "",
        "status": export.status,
        "created_at": export.created_at,
        "created_by": repo.user_public_id(db, export.created_by),
        "request": export.filters,
        "counts": counts,
        "files": files,
        "parquet": {n: f for n, f in files_of(export).items() if n.endswith(".parquet")},
        "manifest_sha256": export.manifest_sha256,
        "error": export.error,
        "downloads": {"zip": base + "zip", "tar.gz": base + "tar.gz"} if export.status == ExportStatus.succeeded else {},
    }
