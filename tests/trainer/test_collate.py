"""Collators on literal inputs."""

from __future__ import annotations

from trainer.collate import MARGIN_LABELS, collate_groups, collate_pairs, collate_sft
from trainer.data import PairExample, PreferenceGroup, SFTExample


class TestCollate:
    def test_sft_pads_ids_with_pad_and_labels_with_ignore(self) -> None:
        batch = collate_sft([SFTExample([5, 6, 7], [-100, 6, 7]), SFTExample([8], [8])], 0)
        assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
        assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
        assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]

    def test_groups_flatten_sequences_and_offset_pair_indices(self) -> None:
        ranking = PreferenceGroup("r", [[1], [2, 2], [3]], [(0, 1, 0.0, None), (0, 2, 0.0, None),
                                                            (1, 2, 0.0, None)])
        single = PreferenceGroup("p", [[4], [5]], [(0, 1, 2 / 3, "better")])
        batch = collate_groups([(ranking, 0), (single, 1)], pad_id=9)
        assert batch["input_ids"].tolist() == [[1, 9], [2, 2], [3, 9], [4, 9], [5, 9]]
        assert batch["better"].tolist() == [0, 0, 1, 3]
        assert batch["worse"].tolist() == [1, 2, 2, 4]
        assert batch["group"].tolist() == [0, 0, 0, 1]
        assert batch["head"].tolist() == [0, 0, 0, 1]
        assert abs(batch["margin"][3].item() - 2 / 3) < 1e-6 and batch["margin"][0].item() == 0
        assert [MARGIN_LABELS[i] for i in batch["label"].tolist()] == ["ranking"] * 3 + ["better"]

    def test_pairs_stack_chosen_then_rejected_with_completion_mask(self) -> None:
        batch = collate_pairs([PairExample("p", [1, 2, 3], 2, [1, 2, 4, 4], 2, None)], pad_id=0)
        assert batch["input_ids"].tolist() == [[1, 2, 3, 0], [1, 2, 4, 4]]
        assert batch["completion_mask"].tolist() == [[0, 0, 1, 0], [0, 0, 1, 1]]
