"""Build export folders for trainer tests, exactly as the data contract describes.

``write_export(root, files)`` writes each ``name -> records`` as JSON Lines plus a
``manifest.json`` with record counts and sha256 checksums. The record builders
(``demo``, ``ranking``, ``pair``, ``prompt``) fill in the contract's fields.

``synthetic_export`` writes a task with a *known hidden preference*: answers are
strings of ``a`` and ``z`` bytes (one token each with the tiny byte tokenizer),
and a better answer has more ``a``. Rankings are ordered by that count (equal
counts are ties), pairs get a margin label from the count difference, and
demonstrations are all-``a`` answers. Labels follow the rule exactly, so the
noise ceiling of every accuracy on it is 100%.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "demo",
    "hidden_quality",
    "pair",
    "prompt",
    "ranking",
    "synthetic_answers",
    "synthetic_export",
    "write_export",
]

Record = dict[str, Any]
CREATED = "2026-11-22T10:00:00Z"


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def demo(id: str, question: str, answer: str, category: str | None = None) -> Record:
    return {"id": id, "messages": [*_user(question), {"role": "assistant", "content": answer}],
            "category": category, "labeler": "l_1", "created_at": CREATED}


def ranking(id: str, question: str, answers: Sequence[str], order: Sequence[Sequence[int]]
            ) -> Record:
    """``order`` is best-first tie groups of indices into ``answers``."""
    return {"id": id, "prompt": _user(question),
            "completions": [{"id": f"{id}_c{i}", "content": a, "model": "sft-v1"}
                            for i, a in enumerate(answers)],
            "ranking": [[f"{id}_c{i}" for i in tier] for tier in order],
            "labeler": "l_1", "created_at": CREATED}


def pair(id: str, question: str, chosen: str, rejected: str,
         margin_label: str | None = "better", margin: float | None = None,
         safety: Mapping[str, str] | None = None, source: str = "pairwise",
         group: str | None = None) -> Record:
    small = {"significantly_better": 1.0, "better": 2 / 3, "slightly_better": 1 / 3,
             "negligibly_better": 0.0}
    rec: Record = {
        "id": id, "prompt": _user(question),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "margin_label": margin_label,
        "margin": margin if margin is not None else small.get(margin_label or "", 0.0),
        "source": source, "group": group or id, "labeler": "l_1", "created_at": CREATED,
    }
    if safety is not None:
        rec["safety"] = dict(safety)
    return rec


def prompt(id: str, question: str) -> Record:
    return {"id": id, "prompt": _user(question), "category": "brainstorming"}


def write_export(root: str | Path, files: Mapping[str, Iterable[Record] | str],
                 manifest_extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``files`` (name -> records, or raw text for malformed-file tests) and a
    manifest listing each with its record count and sha256."""
    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    listed: dict[str, dict[str, Any]] = {}
    for name, content in files.items():
        text = content if isinstance(content, str) else "".join(
            json.dumps(rec) + "\n" for rec in content)
        (out / name).write_text(text, encoding="utf-8")
        listed[name] = {"records": sum(1 for line in text.splitlines() if line.strip()),
                        "sha256": hashlib.sha256(text.encode()).hexdigest()}
    manifest = {
        "schema_version": 1, "created_at": CREATED, "project": "test",
        "filters": {"since": None, "until": None, "min_agreement": None, "labelers": None},
        "split": {"validation_fraction": 0.2, "seed": 1234, "unit": "prompt"},
        "files": listed, **(manifest_extra or {}),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


# ---------------------------------------------------------------- the synthetic task


def hidden_quality(answer: str) -> int:
    """The hidden preference: more ``a`` is better."""
    return answer.count("a")


def synthetic_answers(rng: random.Random, k: int, length: int = 12) -> list[str]:
    """``k`` answers of ``length`` bytes with distinct ``a`` counts spread over 0..length."""
    counts = rng.sample(range(length + 1), k)
    out = []
    for c in counts:
        chars = ["a"] * c + ["z"] * (length - c)
        rng.shuffle(chars)
        out.append("".join(chars))
    return out


def _margin_label(diff: int) -> str:
    if diff >= 8:
        return "significantly_better"
    if diff >= 5:
        return "better"
    if diff >= 2:
        return "slightly_better"
    return "negligibly_better"


def synthetic_export(
    root: str | Path,
    *,
    n_train: int = 48,
    n_val: int = 16,
    k: int = 4,
    kinds: Sequence[str] = ("rankings", "pairs", "sft", "prompts"),
    seed: int = 0,
    length: int = 12,
) -> Path:
    """An export of the hidden-preference task with the requested ``kinds`` of files."""
    rng = random.Random(seed)
    files: dict[str, list[Record]] = {}
    for split, n in (("train", n_train), ("validation", n_val)):
        if "rankings" in kinds:
            recs = []
            for i in range(n):
                answers = synthetic_answers(rng, k, length)
                order = sorted(range(k), key=lambda j: -hidden_quality(answers[j]))
                recs.append(ranking(f"r_{split}_{i}", f"q{i % 7}", answers,
                                    [[j] for j in order]))
            files[f"rankings.{split}.jsonl"] = recs
        if "pairs" in kinds:
            recs = []
            for i in range(n):
                a, b = synthetic_answers(rng, 2, length)
                good, bad = (a, b) if hidden_quality(a) > hidden_quality(b) else (b, a)
                label = _margin_label(hidden_quality(good) - hidden_quality(bad))
                recs.append(pair(f"p_{split}_{i}", f"q{i % 7}", good, bad, label))
            files[f"pairs.{split}.jsonl"] = recs
        if "sft" in kinds:
            files[f"sft.{split}.jsonl"] = [
                demo(f"d_{split}_{i}", f"q{i % 7}", "a" * length) for i in range(n)
            ]
    if "prompts" in kinds:
        files["prompts.jsonl"] = [prompt(f"q_{i}", f"q{i % 7}") for i in range(n_train)]
    return write_export(root, files)
