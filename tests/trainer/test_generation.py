"""Batched sampling (trainer/generation.py) on the offline tiny models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from trainer.generation import (
    generate,
    left_pad,
    position_ids_from_mask,
    response_mask_after_eos,
    sample_completions,
)
from trainer.rl_math import logprobs_from_logits

PROMPTS = [[1, 2, 3], [40, 41, 42, 43, 44, 45, 46], [7], [90, 91, 92, 93]]


@pytest.fixture
def tiny(tiny_model: Path) -> Path:
    """Each test runs on the tiny Llama and the tiny GPT-2 (conftest.py)."""
    return tiny_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models: one intra-op thread. On a shared 2-core box torch's default
    thread pool spins against other processes and runs 10-20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _load(path: Path) -> tuple[PreTrainedModel, object]:
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


class TestHelpers:
    def test_left_pad_aligns_the_last_prompt_token(self) -> None:
        ids, mask = left_pad([[5, 6], [7]], pad_id=0)
        assert ids.tolist() == [[5, 6], [0, 7]]
        assert mask.tolist() == [[1, 1], [0, 1]]
        assert position_ids_from_mask(mask).tolist() == [[0, 1], [0, 0]]

    def test_response_mask_keeps_the_first_eos_and_drops_the_rest(self) -> None:
        eos = 9
        responses = torch.tensor([[1, 2, 9, 3, 9], [1, 1, 1, 1, 1], [9, 4, 4, 4, 4]])
        assert response_mask_after_eos(responses, [eos]).tolist() == [
            [1, 1, 1, 0, 0],
            [1, 1, 1, 1, 1],
            [1, 0, 0, 0, 0],
        ]

    def test_response_mask_with_several_eos_ids(self) -> None:
        responses = torch.tensor([[1, 8, 9, 3]])
        assert response_mask_after_eos(responses, [9, 8]).tolist() == [[1, 1, 0, 0]]


class TestGenerate:
    def test_batched_left_padded_greedy_equals_one_at_a_time(self, tiny: Path) -> None:
        model, tok = _load(tiny)
        batched = generate(model, tok, PROMPTS, max_new_tokens=12, do_sample=False)  # type: ignore[arg-type]
        for i, prompt in enumerate(PROMPTS):
            single = generate(model, tok, [prompt], max_new_tokens=12, do_sample=False)  # type: ignore[arg-type]
            n = int(single.response_mask.sum())
            assert batched.response_ids[i, :n].tolist() == single.response_ids[0, :n].tolist()
            assert int(batched.response_mask[i].sum()) == n

    def test_forward_with_positions_from_the_mask_reproduces_unpadded_logprobs(
        self, tiny: Path
    ) -> None:
        # PPO recomputes log π of the sampled tokens on the padded batch; padding
        # must not change them, or the importance ratio would be wrong from step one.
        model, tok = _load(tiny)
        gen = generate(model, tok, PROMPTS, max_new_tokens=6, do_sample=False)  # type: ignore[arg-type]
        ids, mask = gen.input_ids, gen.attention_mask
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask,
                           position_ids=position_ids_from_mask(mask)).logits
        P = gen.prompt_ids.shape[1]
        batched = logprobs_from_logits(logits[:, P - 1:-1], gen.response_ids)
        for i, prompt in enumerate(PROMPTS):
            n = int(gen.response_mask[i].sum())
            alone = torch.tensor([prompt + gen.response_ids[i, :n].tolist()])
            with torch.no_grad():
                lg = model(input_ids=alone).logits
            ref = logprobs_from_logits(lg[:, len(prompt) - 1:-1], alone[:, len(prompt):])
            torch.testing.assert_close(batched[i, :n], ref[0], atol=1e-4, rtol=1e-4)

    def test_response_mask_stops_after_eos_and_padding_follows(self, tiny: Path) -> None:
        model, tok = _load(tiny)
        eos, pad = tok.eos_token_id, tok.pad_token_id  # type: ignore[attr-defined]
        # A near-uniform random model over 261 ids ends ~1 row in 4 within 64 tokens.
        torch.manual_seed(3)
        gen = generate(model, tok, PROMPTS * 16, max_new_tokens=64, temperature=1.5)  # type: ignore[arg-type]
        ended = 0
        rows = zip(gen.response_ids.tolist(), gen.response_mask.tolist(), gen.ended.tolist(),
                   strict=True)
        for ids, mask, flagged in rows:
            n = sum(mask)
            assert mask == [1] * n + [0] * (len(mask) - n)  # a prefix mask
            assert eos not in ids[: n - 1]                   # no EOS before the last kept token
            assert flagged == (ids[n - 1] == eos)            # ``ended`` ⇔ it stopped on EOS
            if n < len(ids) or ids[n - 1] == eos:
                ended += 1
                assert ids[n - 1] == eos                     # the kept part ends on the EOS
                assert all(t == pad for t in ids[n:])        # and nothing real follows
        assert 1 <= ended < len(gen.ended)

    def test_sampling_is_reproducible_under_a_seed_and_varies_without(self, tiny: Path) -> None:
        model, tok = _load(tiny)
        torch.manual_seed(0)
        a = generate(model, tok, PROMPTS, max_new_tokens=8)  # type: ignore[arg-type]
        torch.manual_seed(0)
        b = generate(model, tok, PROMPTS, max_new_tokens=8)  # type: ignore[arg-type]
        c = generate(model, tok, PROMPTS, max_new_tokens=8)  # type: ignore[arg-type]
        assert torch.equal(a.response_ids, b.response_ids)
        assert not torch.equal(a.response_ids, c.response_ids)


class TestSampleCompletions:
    def test_k_texts_per_prompt_with_progress(self, tiny: Path) -> None:
        convs = [[{"role": "user", "content": "hi"}],
                 [{"role": "system", "content": "be brief"}, {"role": "user", "content": "why?"}],
                 [{"role": "user", "content": "list three"}]]
        calls: list[tuple[int, int]] = []
        out = sample_completions(tiny, None, convs, k=3, max_new_tokens=5, batch_size=4,
                                 seed=1, progress=lambda d, t: calls.append((d, t)))
        assert [len(texts) for texts in out] == [3, 3, 3]
        assert all(isinstance(t, str) for texts in out for t in texts)
        assert calls == [(4, 9), (8, 9), (9, 9)]
        again = sample_completions(tiny, None, convs, k=3, max_new_tokens=5, batch_size=4, seed=1)
        assert again == out
