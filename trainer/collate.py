"""Batching: tokenized examples → right-padded tensors, one collator per loop.

Right padding everywhere in training: the reward head and the log-prob sums
locate real tokens through ``attention_mask``, so the pad id never matters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from trainer.chat import IGNORE_INDEX
from trainer.data import PairExample, PreferenceGroup, SFTExample

__all__ = [
    "MARGIN_LABELS",
    "collate_groups",
    "collate_pairs",
    "collate_sft",
    "right_pad",
]

# Index of each pair's margin label in the RM batch (for per-label accuracy);
# pairs expanded from a ranking carry no label and count as "ranking".
MARGIN_LABELS = ("significantly_better", "better", "slightly_better", "negligibly_better",
                 "ranking")


def right_pad(seqs: Sequence[Sequence[int]], value: int) -> Tensor:
    """[len(seqs), longest] long tensor, each row padded on the right with ``value``."""
    width = max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
    return out


def _mask(seqs: Sequence[Sequence[int]]) -> Tensor:
    return right_pad([[1] * len(s) for s in seqs], 0)


def collate_sft(examples: list[SFTExample], pad_id: int) -> dict[str, Tensor]:
    """input_ids, attention_mask, labels [B, T]; labels are -100 on padding too."""
    ids = [e.input_ids for e in examples]
    return {
        "input_ids": right_pad(ids, pad_id),
        "attention_mask": _mask(ids),
        "labels": right_pad([e.labels for e in examples], IGNORE_INDEX),
    }


def collate_groups(items: list[tuple[PreferenceGroup, int]], pad_id: int) -> dict[str, Tensor]:
    """Reward-model batch: every sequence of every group once, and the pairs among them.

    items: (group, head index). Returns input_ids/attention_mask [N, T] with N = Σ K;
    better/worse [P] row indices into N; group [P] in [0, len(items)); margin [P];
    head [P]; label [P] index into ``MARGIN_LABELS``; k [P] the size of the pair's group.
    """
    seqs: list[list[int]] = []
    better, worse, group, margin, head, label, k = [], [], [], [], [], [], []
    for g, (item, head_index) in enumerate(items):
        base = len(seqs)
        seqs.extend(item.sequences)
        for w, lo, m, lab in item.pairs:
            better.append(base + w)
            worse.append(base + lo)
            group.append(g)
            margin.append(m)
            head.append(head_index)
            label.append(MARGIN_LABELS.index(lab) if lab is not None else len(MARGIN_LABELS) - 1)
            k.append(len(item.sequences))
    return {
        "input_ids": right_pad(seqs, pad_id),
        "attention_mask": _mask(seqs),
        "better": torch.tensor(better, dtype=torch.long),
        "worse": torch.tensor(worse, dtype=torch.long),
        "group": torch.tensor(group, dtype=torch.long),
        "margin": torch.tensor(margin, dtype=torch.float),
        "head": torch.tensor(head, dtype=torch.long),
        "label": torch.tensor(label, dtype=torch.long),
        "k": torch.tensor(k, dtype=torch.long),
    }


def collate_pairs(items: list[PairExample], pad_id: int) -> dict[str, Tensor]:
    """DPO batch: the B chosen sequences then the B rejected ones, in one [2B, T] tensor
    (one forward per model per batch); completion_mask is 1 on completion tokens."""
    seqs = [e.chosen_ids for e in items] + [e.rejected_ids for e in items]
    starts = [e.chosen_start for e in items] + [e.rejected_start for e in items]
    completion = [[0] * start + [1] * (len(s) - start) for s, start in zip(seqs, starts,
                                                                           strict=True)]
    return {
        "input_ids": right_pad(seqs, pad_id),
        "attention_mask": _mask(seqs),
        "completion_mask": right_pad(completion, 0),
    }
