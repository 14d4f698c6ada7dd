"""The reward model reads its scalar head at the last real token, on both tiny architectures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, PreTrainedModel

from trainer.reward_model import (
    OFFSET_KEY,
    RunningMoments,
    combine_rewards,
    load_reward_model,
    per_token_values,
    reward_heads,
    score,
    set_reward_offset,
)

SEQS = [[10, 11, 12, 13, 14, 15], [20, 21, 22], [30, 31, 32, 33, 34]]


def right_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, seqs))
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    return ids, mask


def rm(path: Path, heads: list[str] | None = None) -> PreTrainedModel:
    model = load_reward_model(path, heads)
    model.eval()
    return model


class TestLoading:
    def test_causal_lm_folder_gets_a_new_scalar_head(self, tiny_model: Path) -> None:
        model = rm(tiny_model)
        assert reward_heads(model) == ["helpful"]
        ids, mask = right_pad(SEQS, 1)
        assert score(model, ids, mask).shape == (3, 1)
        assert model.config.pad_token_id == AutoTokenizer.from_pretrained(tiny_model).pad_token_id

    def test_two_heads_on_one_trunk(self, tiny_llama: Path) -> None:
        model = rm(tiny_llama, ["helpful", "safety"])
        ids, mask = right_pad(SEQS, 1)
        out = score(model, ids, mask)
        assert out.shape == (3, 2)
        assert not torch.allclose(out[:, 0], out[:, 1])

    def test_unknown_head_name_is_refused(self, tiny_llama: Path) -> None:
        with pytest.raises(ValueError, match="reward heads"):
            load_reward_model(tiny_llama, ["fun"])


class TestLastToken:
    def test_right_padded_batch_scores_like_each_sequence_alone(self, tiny_model: Path) -> None:
        model = rm(tiny_model)
        pad = int(model.config.pad_token_id)
        ids, mask = right_pad(SEQS, pad)
        with torch.no_grad():
            batched = score(model, ids, mask)[:, 0]
            alone = [score(model, torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long))[0, 0]
                     for s in SEQS]
            # the head at the last real position, computed by hand from the trunk
            per_token = per_token_values(model, ids, mask)
        assert batched.tolist() == pytest.approx([a.item() for a in alone], abs=1e-5)
        assert batched.tolist() == pytest.approx(
            [per_token[i, len(s) - 1].item() for i, s in enumerate(SEQS)], abs=1e-6)

    def test_agrees_with_transformers_pooling(self, tiny_model: Path) -> None:
        # HF's sequence-classification head pools at the last non-pad token too.
        model = rm(tiny_model)
        ids, mask = right_pad(SEQS, int(model.config.pad_token_id))
        with torch.no_grad():
            hf = model(input_ids=ids, attention_mask=mask).logits[:, 0]
            ours = score(model, ids, mask)[:, 0]
        assert ours.tolist() == pytest.approx(hf.tolist(), abs=1e-6)

    def test_padding_content_does_not_change_the_score(self, tiny_llama: Path) -> None:
        model = rm(tiny_llama)
        ids, mask = right_pad(SEQS, 1)
        noisy = ids.clone()
        noisy[mask == 0] = 99  # garbage where the mask is 0
        with torch.no_grad():
            assert torch.allclose(score(model, ids, mask), score(model, noisy, mask), atol=1e-6)


class TestOffset:
    def test_offset_is_saved_with_the_model_and_subtracted(self, tiny_llama: Path,
                                                            tmp_path: Path) -> None:
        model = rm(tiny_llama)
        ids, mask = right_pad(SEQS, 1)
        with torch.no_grad():
            raw = score(model, ids, mask, raw=True)
        set_reward_offset(model, [0.25])
        model.save_pretrained(tmp_path)
        reloaded = rm(tmp_path)
        assert getattr(reloaded.config, OFFSET_KEY) == [0.25]
        with torch.no_grad():
            assert torch.allclose(score(reloaded, ids, mask), raw - 0.25, atol=1e-6)

    def test_one_offset_per_head(self, tiny_llama: Path) -> None:
        with pytest.raises(ValueError):
            set_reward_offset(rm(tiny_llama), [0.0, 1.0])


class TestCombineRewards:
    def test_llama2_rule_picks_safety_for_safety_prompts_and_unsafe_answers(self) -> None:
        helpful = torch.tensor([1.0, 2.0, 3.0, 4.0])
        # σ(-2.0) = 0.119 < 0.15 (unsafe); σ(0.0) = 0.5 (safe)
        safety = torch.tensor([0.0, -2.0, 0.0, 0.5])
        is_safety = torch.tensor([False, False, True, False])
        picked = torch.tensor([1.0, -2.0, 0.0, 4.0])  # R_h, R_s (unsafe), R_s (prompt), R_h
        expected = (picked - picked.mean()) / picked.std(unbiased=False)
        got = combine_rewards(helpful, safety, is_safety)
        assert got.tolist() == pytest.approx(expected.tolist(), abs=1e-6)

    def test_threshold_is_in_sigmoid_space(self) -> None:
        logit_015 = math.log(0.15 / 0.85)
        helpful, is_safety = torch.tensor([5.0, 5.0]), torch.tensor([False, False])
        safety = torch.tensor([logit_015 - 0.01, logit_015 + 0.01])
        got = combine_rewards(helpful, safety, is_safety)
        assert got[0] < got[1]  # the first took its (low) safety score

    def test_running_whitening_uses_every_batch_seen(self) -> None:
        moments = RunningMoments()
        first = torch.tensor([0.0, 2.0])
        combine_rewards(first, torch.full((2,), 5.0), torch.zeros(2, dtype=torch.bool), moments=moments)
        second = torch.tensor([4.0, 6.0])
        got = combine_rewards(second, torch.full((2,), 5.0), torch.zeros(2, dtype=torch.bool),
                              moments=moments)
        everything = torch.tensor([0.0, 2.0, 4.0, 6.0])
        assert moments.count == 4
        assert moments.mean == pytest.approx(3.0)
        expected = (second - everything.mean()) / everything.std(unbiased=False)
        assert got.tolist() == pytest.approx(expected.tolist(), abs=1e-6)
