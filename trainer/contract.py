"""The export format as code: the one definition both the app and the trainer import.

The app (app/exports) writes exactly these files, the trainer reads exactly
these; the prose is docs/data-contract.md. This module imports neither torch
nor transformers (the web process imports it), only the standard library.

* names:       ``SCHEMA_VERSION``, ``MANIFEST_FILE``, ``SPLITS``, ``split_file``,
               ``single_file``, ``FILE_NAMES``
* margins:     ``MarginLabel``, ``MARGIN_LABELS``, ``MarginScale``, ``MARGIN_SCALES``
               (Llama 2 Table 27), ``resolve_margin``
* records:     ``Demonstration``, ``Ranking`` (with ``Completion``), ``Pair``,
               ``Rating``, ``PromptRecord``, ``Unusable``, ``EvaluationRecord``
* reading:     ``load_export`` → ``Export``; any problem raises ``ContractError``
               naming the file and the 1-based line (``None`` for whole-file problems
               such as a checksum mismatch)

Change the contract only together on both sides, bump ``SCHEMA_VERSION``, and
keep ``SUPPORTED_SCHEMA_VERSIONS`` able to read the previous version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar

__all__ = [
    "FILE_NAMES",
    "MANIFEST_FILE",
    "MARGIN_LABELS",
    "MARGIN_SCALES",
    "ROLES",
    "SCHEMA_VERSION",
    "SINGLE_KINDS",
    "SPLITS",
    "SPLIT_KINDS",
    "SUPPORTED_SCHEMA_VERSIONS",
    "Completion",
    "ContractError",
    "Demonstration",
    "EvaluationRecord",
    "Export",
    "MarginLabel",
    "MarginScale",
    "Message",
    "Pair",
    "PairSource",
    "PromptRecord",
    "Ranking",
    "Rating",
    "Split",
    "Unusable",
    "load_export",
    "resolve_margin",
    "sha256_of",
    "single_file",
    "split_file",
]

# ---------------------------------------------------------------- names

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = (1,)
MANIFEST_FILE = "manifest.json"

Split = Literal["train", "validation"]
SPLITS: tuple[Split, ...] = ("train", "validation")
# Files written once per split, and files written once per export.
SPLIT_KINDS: tuple[str, ...] = ("sft", "rankings", "pairs", "ratings")
SINGLE_KINDS: tuple[str, ...] = ("prompts", "evaluations", "unusable")


def split_file(kind: str, split: Split) -> str:
    """``sft.train.jsonl`` and friends."""
    if kind not in SPLIT_KINDS:
        raise ValueError(f"{kind!r} is not a per-split file kind ({', '.join(SPLIT_KINDS)})")
    return f"{kind}.{split}.jsonl"


def single_file(kind: str) -> str:
    """``prompts.jsonl``, ``evaluations.jsonl``, ``unusable.jsonl``."""
    if kind not in SINGLE_KINDS:
        raise ValueError(f"{kind!r} is not a single file kind ({', '.join(SINGLE_KINDS)})")
    return f"{kind}.jsonl"


FILE_NAMES: tuple[str, ...] = (
    *(split_file(k, s) for k in SPLIT_KINDS for s in SPLITS),
    *(single_file(k) for k in SINGLE_KINDS),
)

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}
ROLES = ("system", "user", "assistant")

# ---------------------------------------------------------------- margins


class MarginLabel(StrEnum):
    """How much better the chosen answer is (Llama 2's four-point scale)."""

    significantly_better = "significantly_better"
    better = "better"
    slightly_better = "slightly_better"
    negligibly_better = "negligibly_better"  # also "unsure"


MARGIN_LABELS: tuple[str, ...] = tuple(m.value for m in MarginLabel)


class MarginScale(StrEnum):
    """The two margin tables of Llama 2 (Touvron et al. 2023, Table 27)."""

    small = "small"
    large = "large"


# m(r), subtracted inside the sigmoid of the reward-model loss, by preference rating.
MARGIN_SCALES: dict[str, dict[str, float]] = {
    MarginScale.small.value: {
        MarginLabel.significantly_better.value: 1.0,
        MarginLabel.better.value: 2 / 3,
        MarginLabel.slightly_better.value: 1 / 3,
        MarginLabel.negligibly_better.value: 0.0,
    },
    MarginScale.large.value: {
        MarginLabel.significantly_better.value: 3.0,
        MarginLabel.better.value: 2.0,
        MarginLabel.slightly_better.value: 1.0,
        MarginLabel.negligibly_better.value: 0.0,
    },
}


class PairSource(StrEnum):
    """Where a pair record comes from: a pairwise judgement or an expanded ranking."""

    pairwise = "pairwise"
    ranking = "ranking"


class ContractError(ValueError):
    """An export file breaks the contract. ``file`` and ``line`` say where."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Demonstration:
    """``sft.*.jsonl``: a conversation whose last message is the assistant's."""

    id: str
    messages: list[Message]
    category: str | None = None


@dataclass(frozen=True)
class Completion:
    id: str
    content: str
    model: str | None = None


@dataclass(frozen=True)
class Ranking:
    """``rankings.*.jsonl``: 4–9 completions, best first; an inner list is a tie group."""

    id: str
    prompt: list[Message]
    completions: list[Completion]
    ranking: list[list[str]]
    labeler: str | None = None

    def pairs(self) -> list[tuple[str, str]]:
        """All (better, worse) completion-id pairs; tied completions give no pair."""
        out: list[tuple[str, str]] = []
        for i, tier in enumerate(self.ranking):
            for lower in self.ranking[i + 1 :]:
                out.extend((w, lo) for w in tier for lo in lower)
        return out


@dataclass(frozen=True)
class Pair:
    """``pairs.*.jsonl``: one preference with its margin (0 for pairs from a ranking)."""

    id: str
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    margin_label: MarginLabel | None
    margin: float
    source: PairSource
    group: str
    safety: dict[str, str] | None = None


@dataclass(frozen=True)
class Rating:
    """``ratings.*.jsonl``: one completion rated on its own."""

    id: str
    prompt: list[Message]
    completion: Completion
    rating: float
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PromptRecord:
    """``prompts.jsonl``: a prompt with nothing attached (the PPO prompt set)."""

    id: str
    prompt: list[Message]
    category: str | None = None


@dataclass(frozen=True)
class Unusable:
    """``unusable.jsonl``: a judgement that carries no preference (audit only)."""

    id: str
    kind: str
    verdict: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class EvaluationRecord:
    """``evaluations.jsonl``: one model-vs-model judgement."""

    id: str
    winner: str
    model_a: str | None = None
    model_b: str | None = None
    margin_label: str | None = None


@dataclass
class Export:
    """Every record of an export, validated. Missing files give empty lists."""

    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    sft: dict[str, list[Demonstration]] = field(default_factory=dict)
    rankings: dict[str, list[Ranking]] = field(default_factory=dict)
    pairs: dict[str, list[Pair]] = field(default_factory=dict)
    ratings: dict[str, list[Rating]] = field(default_factory=dict)
    prompts: list[PromptRecord] = field(default_factory=list)
    unusable: list[Unusable] = field(default_factory=list)
    evaluations: list[EvaluationRecord] = field(default_factory=list)


def resolve_margin(
    pair: Pair, scale: str = "export", mapping: dict[str, float] | None = None
) -> float:
    """m(r) for the Llama 2 margin loss.

    ``scale``: "export" (the record's own ``margin``), "small"/"large" (Llama 2
    Table 27), "none" (0), or "custom" with ``mapping`` from margin label to value.
    Pairs without a label (expanded from rankings) have margin 0 under every scale.
    """
    if scale == "export":
        return pair.margin
    if scale == "none" or pair.margin_label is None:
        return 0.0
    table = mapping if scale == "custom" else MARGIN_SCALES.get(scale)
    if table is None:
        raise ValueError(f"unknown margin scale {scale!r}")
    return float(table.get(pair.margin_label, 0.0))


# ---------------------------------------------------------------- validation


class _Checker:
    """Field checks for one line of one file; every failure names both."""

    def __init__(self, file: str, line: int) -> None:
        self.file, self.line = file, line

    def fail(self, message: str) -> ContractError:
        return ContractError(self.file, self.line, message)

    def id(self, rec: dict[str, Any]) -> str:
        value = rec.get("id")
        if not isinstance(value, str) or value == "":
            raise self.fail("field 'id' must be a non-empty string")
        return value

    def optional_str(self, rec: dict[str, Any], key: str) -> str | None:
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"field {key!r} must be a string or null")
        return value

    def messages(self, value: Any, key: str) -> list[Message]:
        if not isinstance(value, list) or not value:
            raise self.fail(f"field {key!r} must be a non-empty list of messages")
        out: list[Message] = []
        for j, m in enumerate(value):
            if not isinstance(m, dict):
                raise self.fail(f"{key}[{j}] must be an object with 'role' and 'content'")
            if m.get("role") not in ROLES:
                raise self.fail(f"{key}[{j}].role must be one of {', '.join(ROLES)}")
            if not isinstance(m.get("content"), str):
                raise self.fail(f"{key}[{j}].content must be a string")
            out.append({"role": m["role"], "content": m["content"]})
        return out

    def completion(self, value: Any, key: str) -> Completion:
        if not isinstance(value, dict) or not isinstance(value.get("content"), str):
            raise self.fail(f"{key!r} must be an object with a string 'content'")
        cid = value.get("id")
        model = value.get("model")
        return Completion(str(cid) if cid is not None else "",
                          value["content"], model if isinstance(model, str) else None)

    def number(self, rec: dict[str, Any], key: str, default: float | None = None) -> float:
        value = rec.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.fail(f"{key!r} must be a number")
        return float(value)


def _parse_demo(c: _Checker, rec: dict[str, Any]) -> Demonstration:
    messages = c.messages(rec.get("messages"), "messages")
    if messages[-1]["role"] != "assistant":
        raise c.fail("the last message of a demonstration must be the assistant's")
    return Demonstration(c.id(rec), messages, c.optional_str(rec, "category"))


def _parse_ranking(c: _Checker, rec: dict[str, Any]) -> Ranking:
    rid = c.id(rec)
    prompt = c.messages(rec.get("prompt"), "prompt")
    raw = rec.get("completions")
    if not isinstance(raw, list) or not 4 <= len(raw) <= 9:
        raise c.fail("'completions' must be a list of 4 to 9 completions")
    completions: list[Completion] = []
    for j, comp in enumerate(raw):
        if not isinstance(comp, dict) or not isinstance(comp.get("id"), str):
            raise c.fail(f"completions[{j}] must be an object with a string 'id'")
        completions.append(c.completion(comp, f"completions[{j}]"))
    ids = [comp.id for comp in completions]
    if len(set(ids)) != len(ids):
        raise c.fail("completion ids must be unique within a ranking")
    ranking = rec.get("ranking")
    if not isinstance(ranking, list) or not all(
        isinstance(t, list) and t and all(isinstance(x, str) for x in t) for t in ranking
    ):
        raise c.fail("'ranking' must be a list of non-empty lists of completion ids")
    ranked = [x for tier in ranking for x in tier]
    if sorted(ranked) != sorted(ids):
        raise c.fail("'ranking' must name every completion id exactly once")
    return Ranking(rid, prompt, completions, ranking, c.optional_str(rec, "labeler"))


def _parse_pair(c: _Checker, rec: dict[str, Any]) -> Pair:
    pid = c.id(rec)
    prompt = c.messages(rec.get("prompt"), "prompt")
    chosen = c.messages(rec.get("chosen"), "chosen")
    rejected = c.messages(rec.get("rejected"), "rejected")
    label = rec.get("margin_label")
    if label is not None and label not in MARGIN_LABELS:
        raise c.fail(f"'margin_label' must be null or one of {', '.join(MARGIN_LABELS)}")
    margin = c.number(rec, "margin", 0)
    source = rec.get("source", PairSource.pairwise.value)
    if source not in tuple(PairSource):
        raise c.fail(f"'source' must be one of {', '.join(PairSource)}")
    safety = rec.get("safety")
    if safety is not None and not (
        isinstance(safety, dict)
        and all(safety.get(k) in ("safe", "unsafe", None) for k in ("chosen", "rejected"))
    ):
        raise c.fail("'safety' must map 'chosen'/'rejected' to 'safe' or 'unsafe'")
    group = rec.get("group") or pid
    return Pair(pid, prompt, chosen, rejected,
                MarginLabel(label) if label is not None else None, margin,
                PairSource(source), str(group), safety)


def _parse_rating(c: _Checker, rec: dict[str, Any]) -> Rating:
    rid = c.id(rec)
    prompt = c.messages(rec.get("prompt"), "prompt")
    completion = c.completion(rec.get("completion"), "completion")
    flags = rec.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise c.fail("'flags' must be a list of strings")
    return Rating(rid, prompt, completion, c.number(rec, "rating"), flags)


def _parse_prompt(c: _Checker, rec: dict[str, Any]) -> PromptRecord:
    return PromptRecord(c.id(rec), c.messages(rec.get("prompt"), "prompt"),
                        c.optional_str(rec, "category"))


def _parse_unusable(c: _Checker, rec: dict[str, Any]) -> Unusable:
    uid = c.id(rec)
    if rec.get("kind") not in ("ranking", "pairwise"):
        raise c.fail("'kind' must be 'ranking' or 'pairwise'")
    return Unusable(uid, rec["kind"], c.optional_str(rec, "verdict"),
                    c.optional_str(rec, "reason"))


def _parse_evaluation(c: _Checker, rec: dict[str, Any]) -> EvaluationRecord:
    eid = c.id(rec)
    if rec.get("winner") not in ("a", "b", "tie", "both_bad"):
        raise c.fail("'winner' must be 'a', 'b', 'tie' or 'both_bad'")
    return EvaluationRecord(eid, rec["winner"], c.optional_str(rec, "model_a"),
                            c.optional_str(rec, "model_b"), c.optional_str(rec, "margin_label"))


# ---------------------------------------------------------------- reading

R = TypeVar("R")


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("r", encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, RecursionError) as exc:
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                raise ContractError(path.name, n, f"invalid JSON: {msg}") from None
            except ValueError as exc:  # e.g. an integer of more digits than Python allows
                raise ContractError(path.name, n, f"invalid JSON: {exc}") from None
            if not isinstance(rec, dict):
                raise ContractError(path.name, n, "each line must be a JSON object")
            yield n, rec


def _unpack(path: Path) -> Path:
    """A folder as is; a .zip/.tar(.gz) extracted to a temp dir (its single top folder
    if it has one)."""
    if path.is_dir():
        return path
    if not path.exists():
        raise ContractError(str(path), None, "export not found")
    tmp = Path(tempfile.mkdtemp(prefix="rankwise-export-"))
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                zf.extractall(tmp)
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as tf:
                tf.extractall(tmp, filter="data")
        else:
            raise ContractError(str(path), None, "not a folder, .zip or .tar export")
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ContractError(str(path), None, f"cannot unpack: {exc}") from None
    if (tmp / MANIFEST_FILE).exists():
        return tmp
    children = [p for p in tmp.iterdir() if p.is_dir()]
    return children[0] if len(children) == 1 else tmp


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_FILE
    if not path.exists():
        raise ContractError(MANIFEST_FILE, None, f"missing from {root}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractError(MANIFEST_FILE, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise ContractError(MANIFEST_FILE, 1, "must be a JSON object")
    version = manifest.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ContractError(
            MANIFEST_FILE, None,
            f"schema_version {version!r} not supported (reader knows {SUPPORTED_SCHEMA_VERSIONS})",
        )
    return manifest


def _check_listed_files(root: Path, manifest: dict[str, Any], verify_checksums: bool) -> None:
    files = manifest.get("files") or {}
    if not isinstance(files, dict):
        raise ContractError(MANIFEST_FILE, None, "'files' must be an object")
    for name, meta in files.items():
        file = root / name
        if not file.exists():
            raise ContractError(name, None, f"listed in {MANIFEST_FILE} but missing")
        if not isinstance(meta, dict):
            continue
        if verify_checksums and meta.get("sha256") and sha256_of(file) != meta["sha256"]:
            raise ContractError(name, None, f"sha256 differs from {MANIFEST_FILE}")
        if isinstance(meta.get("records"), int):
            with file.open(encoding="utf-8") as fh:
                count = sum(1 for line in fh if line.strip())
            if count != meta["records"]:
                raise ContractError(
                    name, None, f"{count} records but {MANIFEST_FILE} says {meta['records']}"
                )


def _read(root: Path, name: str, parse: Callable[[_Checker, dict[str, Any]], R]) -> list[R]:
    file = root / name
    if not file.exists():
        return []
    out: list[R] = []
    seen: set[str] = set()
    for n, rec in _records(file):
        checker = _Checker(name, n)
        item = parse(checker, rec)
        rid = rec["id"]
        if rid in seen:
            raise checker.fail(f"duplicate id {rid!r}")
        seen.add(rid)
        out.append(item)
    return out


def load_export(path: str | Path, verify_checksums: bool = True) -> Export:
    """Read and validate every file of an export folder (or .zip/.tar)."""
    root = _unpack(Path(path))
    manifest = _read_manifest(root)
    _check_listed_files(root, manifest, verify_checksums)
    export = Export(root=root, manifest=manifest, manifest_sha256=sha256_of(root / MANIFEST_FILE))
    for split in SPLITS:
        export.sft[split] = _read(root, split_file("sft", split), _parse_demo)
        export.rankings[split] = _read(root, split_file("rankings", split), _parse_ranking)
        export.pairs[split] = _read(root, split_file("pairs", split), _parse_pair)
        export.ratings[split] = _read(root, split_file("ratings", split), _parse_rating)
    export.prompts = _read(root, single_file("prompts"), _parse_prompt)
    export.unusable = _read(root, single_file("unusable"), _parse_unusable)
    export.evaluations = _read(root, single_file("evaluations"), _parse_evaluation)
    return export
