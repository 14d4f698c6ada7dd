"""Export records → tokenized training examples (the format itself: trainer/contract.py).

* ``build_sft_examples``      demonstrations, loss on every assistant turn
* ``build_preference_groups`` one element per ranking (all C(K,2) pairs) or per
                              pairwise record (one pair with its margin)
* ``build_pairs``             pairwise records, plus rankings expanded to pairs
* ``build_prompts``           the PPO / sampling prompt set

Over-long examples are cut as trainer/chat.py describes (the prompt loses tokens
from the left first); each builder counts what it cut in a ``Truncation``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from transformers import PreTrainedTokenizerBase

from trainer.chat import EncodedPair, Message, encode_group, encode_sft
from trainer.contract import (
    Demonstration,
    Export,
    Pair,
    PairSource,
    PromptRecord,
    Split,
    resolve_margin,
)

__all__ = [
    "Examples",
    "PairExample",
    "PreferenceGroup",
    "SFTExample",
    "build_pairs",
    "build_preference_groups",
    "build_prompts",
    "build_sft_examples",
    "held_out_prompts",
]


# ---------------------------------------------------------------- datasets

T = TypeVar("T")


class Examples(list[T]):
    """Built examples, plus how many of them were cut to fit ``max_length``
    (``truncated``) and how many records were left out because nothing trainable
    was left after cutting (``dropped``)."""

    def __init__(self) -> None:
        super().__init__()
        self.truncated = 0
        self.dropped = 0

    def counts(self, prefix: str) -> dict[str, float]:
        """``{prefix}_examples``, ``{prefix}_truncated``, ``{prefix}_dropped``."""
        return {f"{prefix}_examples": float(len(self)),
                f"{prefix}_truncated": float(self.truncated),
                f"{prefix}_dropped": float(self.dropped)}


@dataclass(frozen=True)
class SFTExample:
    input_ids: list[int]
    labels: list[int]


def build_sft_examples(
    demos: list[Demonstration], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> Examples[SFTExample]:
    """Every assistant turn is in the loss; system/user tokens are masked (-100).
    Over-long demonstrations lose prompt tokens first (trainer/chat.py); one with no
    answer token left is dropped and counted."""
    out: Examples[SFTExample] = Examples()
    for d in demos:
        enc = encode_sft(tokenizer, d.messages, max_length)
        if not enc.trainable:
            out.dropped += 1
            continue
        out.truncated += enc.truncated
        out.append(SFTExample(enc.input_ids, enc.labels))
    return out


@dataclass(frozen=True)
class PreferenceGroup:
    """K tokenized sequences (prompt ⊕ completion_k) and the ordered pairs among them.

    ``pairs`` holds (winner index, loser index, margin, margin label). A ranking
    is one group with all its C(K,2) untied pairs; a pairwise record is a group
    of K = 2 with one pair. Every sequence of a group has the same prompt cut.
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


def _answer(content: str) -> list[Message]:
    return [{"role": "assistant", "content": content}]


class _Encoder:
    """encode_group for one tokenizer and length, counting truncated groups."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int,
                 out: Examples[Any]) -> None:
        self.tokenizer, self.max_length, self.out = tokenizer, max_length, out

    def __call__(self, prompt: list[Message], completions: list[list[Message]]
                 ) -> list[EncodedPair]:
        encoded = encode_group(self.tokenizer, prompt, completions, self.max_length)
        self.out.truncated += any(e.truncated or e.completion_truncated for e in encoded)
        return encoded


def build_preference_groups(
    export: Export,
    split: Split,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    listwise: bool = True,
    margin_scale: str = "export",
    margin_mapping: dict[str, float] | None = None,
    objective: Literal["helpful", "safety"] = "helpful",
) -> Examples[PreferenceGroup]:
    """Reward-model examples for one split.

    ``listwise=True``: one group per ranking (InstructGPT). ``listwise=False``:
    each pair of a ranking becomes its own group of 2 (the naive approach TRL's
    RewardTrainer takes; kept for the benchmark). Pairwise records are always
    groups of 2 with their margin. Pair records expanded from a ranking
    (``source == "ranking"``) duplicate ``rankings.*.jsonl``; they are used only
    when the export has no rankings file, regrouped by their ``group`` id.
    ``objective="safety"`` uses only pairs with safety labels, ordered by safety.
    ``truncated`` counts records (rankings, pairs) with a cut sequence.
    """
    groups: Examples[PreferenceGroup] = Examples()
    enc = _Encoder(tokenizer, max_length, groups)

    def ids(encoded: list[EncodedPair]) -> list[list[int]]:
        return [e.input_ids for e in encoded]

    if objective == "safety":
        for p in export.pairs.get(split, []):
            if p.safety is None:
                continue
            good, bad = _safety_order(p)
            groups.append(PreferenceGroup(p.id, ids(enc(p.prompt, [good, bad])),
                                          [(0, 1, 0.0, None)]))
        return groups

    for r in export.rankings.get(split, []):
        index = {c.id: i for i, c in enumerate(r.completions)}
        pairs: list[tuple[int, int, float, str | None]] = [
            (index[w], index[lo], 0.0, None) for w, lo in r.pairs()
        ]
        if not pairs:
            continue  # everything tied: no preference
        seqs = ids(enc(r.prompt, [_answer(c.content) for c in r.completions]))
        if listwise:
            groups.append(PreferenceGroup(r.id, seqs, pairs))
        else:
            groups.extend(PreferenceGroup(f"{r.id}/{k}", [seqs[w], seqs[lo]], [(0, 1, m, lab)])
                          for k, (w, lo, m, lab) in enumerate(pairs))

    have_rankings = bool(export.rankings.get(split))
    by_group: dict[str, list[Pair]] = {}
    for p in export.pairs.get(split, []):
        if p.source == PairSource.ranking and have_rankings:
            continue
        if p.source == PairSource.ranking and listwise:
            by_group.setdefault(p.group, []).append(p)
            continue
        m = resolve_margin(p, margin_scale, margin_mapping)
        groups.append(PreferenceGroup(p.id, ids(enc(p.prompt, [p.chosen, p.rejected])),
                                      [(0, 1, m, p.margin_label)]))
    for gid, members in by_group.items():
        # Rebuild a listwise group from its expanded pairs: each distinct completion once.
        seq_index: dict[str, int] = {}
        completions: list[list[Message]] = []
        pairs = []
        for p in members:
            ij = []
            for msgs in (p.chosen, p.rejected):
                key = json.dumps(msgs, sort_keys=True)
                if key not in seq_index:
                    seq_index[key] = len(completions)
                    completions.append(msgs)
                ij.append(seq_index[key])
            pairs.append((ij[0], ij[1], 0.0, None))
        groups.append(PreferenceGroup(gid, ids(enc(members[0].prompt, completions)), pairs))
    return groups


@dataclass(frozen=True)
class PairExample:
    """A (chosen, rejected) pair for DPO, with where each completion starts (the same
    place: both share one prompt cut)."""

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
) -> Examples[PairExample]:
    """Pairwise records, plus (if ``expand_rankings``) every untied pair of every ranking.
    Pair records with ``source == "ranking"`` are skipped when the rankings file is
    there, so no comparison is counted twice. ``truncated`` counts records with a cut
    sequence (a ranking counts once)."""
    out: Examples[PairExample] = Examples()
    enc = _Encoder(tokenizer, max_length, out)

    def example(pid: str, c: EncodedPair, r: EncodedPair, label: str | None) -> PairExample:
        return PairExample(pid, c.input_ids, c.completion_start, r.input_ids,
                           r.completion_start, label)

    have_rankings = bool(export.rankings.get(split))
    for p in export.pairs.get(split, []):
        if p.source == PairSource.ranking and (have_rankings or not expand_rankings):
            continue
        chosen, rejected = enc(p.prompt, [p.chosen, p.rejected])
        out.append(example(p.id, chosen, rejected, p.margin_label))
    if expand_rankings:
        for r in export.rankings.get(split, []):
            pairs = r.pairs()
            if not pairs:
                continue
            encoded = dict(zip([c.id for c in r.completions],
                               enc(r.prompt, [_answer(c.content) for c in r.completions]),
                               strict=True))
            out.extend(example(f"{r.id}/{w}>{lo}", encoded[w], encoded[lo], None)
                       for w, lo in pairs)
    return out


def _split_prompts(export: Export, split: Split, prompts: list[PromptRecord],
                   seen: set[str]) -> list[PromptRecord]:
    """Add the distinct prompts of ``split``'s demonstrations, rankings and pairs."""

    def add(pid: str, msgs: list[Message]) -> None:
        key = json.dumps(msgs, sort_keys=True)
        if key not in seen:
            seen.add(key)
            prompts.append(PromptRecord(pid, msgs))

    for d in export.sft.get(split, []):
        last = max(i for i, m in enumerate(d.messages) if m["role"] == "assistant")
        if last > 0:
            add(d.id, d.messages[:last])
    for r in export.rankings.get(split, []):
        add(r.id, r.prompt)
    for p in export.pairs.get(split, []):
        add(p.id, p.prompt)
    return prompts


def build_prompts(export: Export, include_all: bool = False) -> list[PromptRecord]:
    """The PPO prompt set: ``prompts.jsonl``; if that is empty (or ``include_all``),
    also the prompts of the training demonstrations, rankings and pairs."""
    prompts = list(export.prompts)
    if prompts and not include_all:
        return prompts
    return _split_prompts(export, "train", prompts,
                          {json.dumps(p.prompt, sort_keys=True) for p in prompts})


def held_out_prompts(export: Export, training: list[PromptRecord]) -> list[PromptRecord]:
    """Prompts of the validation split (demonstrations, rankings, pairs) that are not
    among ``training``: where PPO and DPO measure score and KL on unseen prompts."""
    return _split_prompts(export, "validation", [],
                          {json.dumps(p.prompt, sort_keys=True) for p in training})
