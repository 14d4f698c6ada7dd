"""Reading an export (docs: /work/shared/design/data-contract.md, schema_version 1).

``load_export`` reads every file of the contract, validates each record and
returns typed records; any problem raises ``ContractError`` naming the file and
line (1-based; ``None`` for whole-file problems such as a checksum mismatch).
The ``build_*`` functions turn records into tokenized training examples:

* ``build_sft_examples``      demonstrations, loss on every assistant turn
* ``build_preference_groups`` one element per ranking (all C(K,2) pairs) or per
                              pairwise record (one pair with its margin)
* ``build_pairs``             pairwise records, plus rankings expanded to pairs
* ``build_prompts``           the PPO / sampling prompt set
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from transformers import PreTrainedTokenizerBase

from trainer.chat import Message, encode_prompt, encode_prompt_completion, encode_sft

__all__ = [
    "MARGIN_SCALES",
    "SUPPORTED_SCHEMA_VERSIONS",
    "ContractError",
    "Demonstration",
    "Export",
    "Pair",
    "PreferenceGroup",
    "PromptRecord",
    "Ranking",
    "SFTExample",
    "build_pairs",
    "build_preference_groups",
    "build_prompts",
    "build_sft_examples",
    "load_export",
    "resolve_margin",
]

SUPPORTED_SCHEMA_VERSIONS = (1,)
ROLES = ("system", "user", "assistant")
MARGIN_LABELS = ("significantly_better", "better", "slightly_better", "negligibly_better")
# Llama 2, Table 27: margin m(r) subtracted inside the sigmoid, by preference rating.
MARGIN_SCALES: dict[str, dict[str, float]] = {
    "small": {"significantly_better": 1.0, "better": 2 / 3, "slightly_better": 1 / 3,
              "negligibly_better": 0.0},
    "large": {"significantly_better": 3.0, "better": 2.0, "slightly_better": 1.0,
              "negligibly_better": 0.0},
}
Split = Literal["train", "validation"]


class ContractError(ValueError):
    """An export file breaks the contract. ``file`` and ``line`` say where."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Demonstration:
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
    id: str
    prompt: list[Message]
    completions: list[Completion]
    ranking: list[list[str]]  # best first; an inner list is a tie group
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
    id: str
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    margin_label: str | None
    margin: float
    source: str
    group: str
    safety: dict[str, str] | None = None


@dataclass(frozen=True)
class PromptRecord:
    id: str
    prompt: list[Message]
    category: str | None = None


@dataclass
class Export:
    """Every record of an export, validated. Missing files give empty lists."""

    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    sft: dict[str, list[Demonstration]] = field(default_factory=dict)
    rankings: dict[str, list[Ranking]] = field(default_factory=dict)
    pairs: dict[str, list[Pair]] = field(default_factory=dict)
    ratings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    prompts: list[PromptRecord] = field(default_factory=list)
    unusable: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- validation helpers


class _Checker:
    def __init__(self, file: str, line: int) -> None:
        self.file, self.line = file, line

    def fail(self, message: str) -> ContractError:
        return ContractError(self.file, self.line, message)

    def str_field(self, rec: dict[str, Any], key: str, optional: bool = False) -> str | None:
        value = rec.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or (not optional and value == ""):
            raise self.fail(f"field {key!r} must be a non-empty string")
        return value

    def messages(self, value: Any, key: str, allow_empty: bool = False) -> list[Message]:
        if not isinstance(value, list) or (not value and not allow_empty):
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


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("r", encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ContractError(path.name, n, f"invalid JSON: {exc.msg}") from None
            if not isinstance(rec, dict):
                raise ContractError(path.name, n, "each line must be a JSON object")
            yield n, rec


def _parse_demo(c: _Checker, rec: dict[str, Any]) -> Demonstration:
    messages = c.messages(rec.get("messages"), "messages")
    if messages[-1]["role"] != "assistant":
        raise c.fail("the last message of a demonstration must be the assistant's")
    return Demonstration(str(c.str_field(rec, "id")), messages, rec.get("category"))


def _parse_ranking(c: _Checker, rec: dict[str, Any]) -> Ranking:
    rid = str(c.str_field(rec, "id"))
    prompt = c.messages(rec.get("prompt"), "prompt")
    raw = rec.get("completions")
    if not isinstance(raw, list) or not 4 <= len(raw) <= 9:
        raise c.fail("'completions' must be a list of 4 to 9 completions")
    completions: list[Completion] = []
    for j, comp in enumerate(raw):
        if not isinstance(comp, dict) or not isinstance(comp.get("id"), str):
            raise c.fail(f"completions[{j}] must be an object with a string 'id'")
        if not isinstance(comp.get("content"), str):
            raise c.fail(f"completions[{j}].content must be a string")
        completions.append(Completion(comp["id"], comp["content"], comp.get("model")))
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
    return Ranking(rid, prompt, completions, ranking, rec.get("labeler"))


def _parse_pair(c: _Checker, rec: dict[str, Any]) -> Pair:
    pid = str(c.str_field(rec, "id"))
    prompt = c.messages(rec.get("prompt"), "prompt")
    chosen = c.messages(rec.get("chosen"), "chosen")
    rejected = c.messages(rec.get("rejected"), "rejected")
    label = rec.get("margin_label")
    if label is not None and label not in MARGIN_LABELS:
        raise c.fail(f"'margin_label' must be null or one of {', '.join(MARGIN_LABELS)}")
    margin = rec.get("margin", 0)
    if not isinstance(margin, int | float) or isinstance(margin, bool):
        raise c.fail("'margin' must be a number")
    source = rec.get("source", "pairwise")
    if source not in ("pairwise", "ranking"):
        raise c.fail("'source' must be 'pairwise' or 'ranking'")
    safety = rec.get("safety")
    if safety is not None and not (
        isinstance(safety, dict)
        and all(safety.get(k) in ("safe", "unsafe", None) for k in ("chosen", "rejected"))
    ):
        raise c.fail("'safety' must map 'chosen'/'rejected' to 'safe' or 'unsafe'")
    group = rec.get("group") or pid
    return Pair(pid, prompt, chosen, rejected, label, float(margin), source, str(group), safety)


def _parse_prompt(c: _Checker, rec: dict[str, Any]) -> PromptRecord:
    return PromptRecord(
        str(c.str_field(rec, "id")), c.messages(rec.get("prompt"), "prompt"), rec.get("category")
    )


def _parse_rating(c: _Checker, rec: dict[str, Any]) -> dict[str, Any]:
    c.str_field(rec, "id")
    c.messages(rec.get("prompt"), "prompt")
    comp = rec.get("completion")
    if not isinstance(comp, dict) or not isinstance(comp.get("content"), str):
        raise c.fail("'completion' must be an object with string 'content'")
    if not isinstance(rec.get("rating"), int | float):
        raise c.fail("'rating' must be a number")
    return rec


def _parse_unusable(c: _Checker, rec: dict[str, Any]) -> dict[str, Any]:
    c.str_field(rec, "id")
    if rec.get("kind") not in ("ranking", "pairwise"):
        raise c.fail("'kind' must be 'ranking' or 'pairwise'")
    return rec


def _parse_evaluation(c: _Checker, rec: dict[str, Any]) -> dict[str, Any]:
    c.str_field(rec, "id")
    if rec.get("winner") not in ("a", "b", "tie", "both_bad"):
        raise c.fail("'winner' must be 'a', 'b', 'tie' or 'both_bad'")
    return rec


# ---------------------------------------------------------------- reading


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
    if (tmp / "manifest.json").exists():
        return tmp
    children = [p for p in tmp.iterdir() if p.is_dir()]
    return children[0] if len(children) == 1 else tmp


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_export(path: str | Path, verify_checksums: bool = True) -> Export:
    """Read and validate every file of an export folder (or .zip/.tar)."""
    root = _unpack(Path(path))
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise ContractError("manifest.json", None, f"missing from {root}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractError("manifest.json", exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise ContractError("manifest.json", 1, "must be a JSON object")
    version = manifest.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ContractError(
            "manifest.json", None,
            f"schema_version {version!r} not supported (reader knows {SUPPORTED_SCHEMA_VERSIONS})",
        )
    files = manifest.get("files") or {}
    if not isinstance(files, dict):
        raise ContractError("manifest.json", None, "'files' must be an object")
    for name, meta in files.items():
        file = root / name
        if not file.exists():
            raise ContractError(name, None, "listed in manifest.json but missing")
        if (verify_checksums and isinstance(meta, dict) and meta.get("sha256")
                and _sha256(file) != meta["sha256"]):
            raise ContractError(name, None, "sha256 differs from manifest.json")
        if isinstance(meta, dict) and isinstance(meta.get("records"), int):
            count = sum(1 for line in file.open(encoding="utf-8") if line.strip())
            if count != meta["records"]:
                raise ContractError(
                    name, None, f"{count} records but manifest.json says {meta['records']}"
                )

    export = Export(root=root, manifest=manifest, manifest_sha256=_sha256(manifest_path))

    def read(name: str, parse: Any) -> list[Any]:
        file = root / name
        if not file.exists():
            return []
        out, seen = [], set()
        for n, rec in _records(file):
            checker = _Checker(name, n)
            item = parse(checker, rec)
            rid = rec.get("id")
            if rid in seen:
                raise checker.fail(f"duplicate id {rid!r}")
            seen.add(rid)
            out.append(item)
        return out

    for split in ("train", "validation"):
        export.sft[split] = read(f"sft.{split}.jsonl", _parse_demo)
        export.rankings[split] = read(f"rankings.{split}.jsonl", _parse_ranking)
        export.pairs[split] = read(f"pairs.{split}.jsonl", _parse_pair)
        export.ratings[split] = read(f"ratings.{split}.jsonl", _parse_rating)
    export.prompts = read("prompts.jsonl", _parse_prompt)
    export.unusable = read("unusable.jsonl", _parse_unusable)
    export.evaluations = read("evaluations.jsonl", _parse_evaluation)
    return export


# ---------------------------------------------------------------- datasets


@dataclass(frozen=True)
class SFTExample:
    input_ids: list[int]
    labels: list[int]


def build_sft_examples(
    demos: list[Demonstration], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> list[SFTExample]:
    """Every assistant turn is in the loss; system/user tokens are masked (-100)."""
    out = []
    for d in demos:
        enc = encode_sft(tokenizer, d.messages, max_length)
        out.append(SFTExample(enc.input_ids, enc.labels))
    return out


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


@dataclass(frozen=True)
class PreferenceGroup:
    """K tokenized sequences (prompt ⊕ completion_k) and the ordered pairs among them.

    ``pairs`` holds (winner index, loser index, margin, margin label). A ranking
    is one group with all its C(K,2) untied pairs; a pairwise record is a group
    of K = 2 with one pair.
    """

    id: str
    sequences: list[list[int]]
    pairs: list[tuple[int, int, float, str | None]]


def _safety_order(pair: Pair) -> tuple[list[Message], list[Message]]:
    """(preferred, other) for the safety objective: a safe answer beats an unsafe
    one; with equal safety labels the human preference stands."""
    assert pair.safety is not None
    if pair.safety.get("chosen") == "unsafe" and pair.safety.get("rejected") == "safe":
        return pair.rejected, pair.chosen
    return pair.chosen, pair.rejected


def build_preference_groups(
    export: Export,
    split: Split,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    listwise: bool = True,
    margin_scale: str = "export",
    margin_mapping: dict[str, float] | None = None,
    objective: Literal["helpful", "safety"] = "helpful",
) -> list[PreferenceGroup]:
    """Reward-model examples for one split.

    ``listwise=True``: one group per ranking (InstructGPT). ``listwise=False``:
    each pair of a ranking becomes its own group of 2 (the naive approach TRL's
    RewardTrainer takes; kept for the benchmark). Pairwise records are always
    groups of 2 with their margin. Pair records expanded from a ranking
    (``source == "ranking"``) duplicate ``rankings.*.jsonl``; they are used only
    when the export has no rankings file, regrouped by their ``group`` id.
    ``objective="safety"`` uses only pairs with safety labels, ordered by safety.
    """
    def enc(prompt: list[Message], completion: list[Message]) -> list[int]:
        return encode_prompt_completion(tokenizer, prompt, completion, max_length).input_ids

    groups: list[PreferenceGroup] = []
    if objective == "safety":
        for p in export.pairs.get(split, []):
            if p.safety is None:
                continue
            good, bad = _safety_order(p)
            groups.append(PreferenceGroup(p.id, [enc(p.prompt, good), enc(p.prompt, bad)],
                                          [(0, 1, 0.0, None)]))
        return groups

    for r in export.rankings.get(split, []):
        index = {c.id: i for i, c in enumerate(r.completions)}
        seqs = [enc(r.prompt, [{"role": "assistant", "content": c.content}])
                for c in r.completions]
        pairs: list[tuple[int, int, float, str | None]] = [
            (index[w], index[lo], 0.0, None) for w, lo in r.pairs()
        ]
        if not pairs:
            continue  # everything tied: no preference
        if listwise:
            groups.append(PreferenceGroup(r.id, seqs, pairs))
        else:
            groups.extend(PreferenceGroup(f"{r.id}/{k}", [seqs[w], seqs[lo]], [(0, 1, m, lab)])
                          for k, (w, lo, m, lab) in enumerate(pairs))

    have_rankings = bool(export.rankings.get(split))
    by_group: dict[str, list[Pair]] = {}
    for p in export.pairs.get(split, []):
        if p.source == "ranking" and have_rankings:
            continue
        if p.source == "ranking" and listwise:
            by_group.setdefault(p.group, []).append(p)
            continue
        m = resolve_margin(p, margin_scale, margin_mapping)
        groups.append(PreferenceGroup(p.id, [enc(p.prompt, p.chosen), enc(p.prompt, p.rejected)],
                                      [(0, 1, m, p.margin_label)]))
    for gid, members in by_group.items():
        # Rebuild a listwise group from its expanded pairs: each distinct completion once.
        seq_index: dict[str, int] = {}
        seqs = []
        pairs = []
        for p in members:
            ij = []
            for msgs in (p.chosen, p.rejected):
                key = json.dumps(msgs, sort_keys=True)
                if key not in seq_index:
                    seq_index[key] = len(seqs)
                    seqs.append(enc(p.prompt, msgs))
                ij.append(seq_index[key])
            pairs.append((ij[0], ij[1], 0.0, None))
        groups.append(PreferenceGroup(gid, seqs, pairs))
    return groups


@dataclass(frozen=True)
class PairExample:
    """A (chosen, rejected) pair for DPO, with where each completion starts."""

    id: str
    chosen_ids: list[int]
    chosen_start: int
    rejected_ids: list[int]
    rejected_start: int
    margin_label: str | None


def build_pairs(
    export: Export,
    split: Split,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    expand_rankings: bool = True,
) -> list[PairExample]:
    """Pairwise records, plus (if ``expand_rankings``) every untied pair of every ranking.
    Pair records with ``source == "ranking"`` are skipped when the rankings file is
    there, so no comparison is counted twice."""
    out: list[PairExample] = []

    def add(pid: str, prompt: list[Message], ch: list[Message], rj: list[Message],
            label: str | None) -> None:
        c = encode_prompt_completion(tokenizer, prompt, ch, max_length)
        r = encode_prompt_completion(tokenizer, prompt, rj, max_length)
        out.append(PairExample(pid, c.input_ids, c.completion_start, r.input_ids,
                               r.completion_start, label))

    have_rankings = bool(export.rankings.get(split))
    for p in export.pairs.get(split, []):
        if p.source == "ranking" and (have_rankings or not expand_rankings):
            continue
        add(p.id, p.prompt, p.chosen, p.rejected, p.margin_label)
    if expand_rankings:
        for r in export.rankings.get(split, []):
            content = {c.id: c.content for c in r.completions}
            for w, lo in r.pairs():
                add(f"{r.id}/{w}>{lo}", r.prompt, [{"role": "assistant", "content": content[w]}],
                    [{"role": "assistant", "content": content[lo]}], None)
    return out


def build_prompts(export: Export, include_all: bool = False) -> list[PromptRecord]:
    """The PPO prompt set: ``prompts.jsonl``; if that is empty (or ``include_all``),
    also the prompts of the training demonstrations, rankings and pairs."""
    prompts = list(export.prompts)
    if prompts and not include_all:
        return prompts
    seen = {json.dumps(p.prompt) for p in prompts}

    def add(pid: str, msgs: list[Message]) -> None:
        key = json.dumps(msgs)
        if key not in seen:
            seen.add(key)
            prompts.append(PromptRecord(pid, msgs))

    for d in export.sft.get("train", []):
        last = max(i for i, m in enumerate(d.messages) if m["role"] == "assistant")
        if last > 0:
            add(d.id, d.messages[:last])
    for r in export.rankings.get("train", []):
        add(r.id, r.prompt)
    for p in export.pairs.get("train", []):
        add(p.id, p.prompt)
    return prompts


def encode_prompts(
    prompts: list[PromptRecord], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> list[list[int]]:
    return [encode_prompt(tokenizer, p.prompt, max_length) for p in prompts]
