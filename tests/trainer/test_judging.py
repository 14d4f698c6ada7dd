"""A local model's verdict letters: log-probabilities at the verdict position."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.chat import render
from trainer.judging import letter_logprobs, letter_token_ids


class TestLetterLogprobs:
    def test_the_letters_are_read_from_the_next_token_distribution(self, tiny_llama: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(tiny_llama)
        tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
        conversation = [{"role": "user", "content": "Which is better, A or B?"}]
        found = letter_logprobs(model, tokenizer, conversation, "Verdict:")
        assert set(found) == {"A", "B"}
        text = render(tokenizer, conversation, add_generation_prompt=True) + "Verdict:"
        ids = tokenizer.encode(text, add_special_tokens=False)
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1], dim=-1)
        for letter in ("A", "B"):
            expected = math.log(sum(math.exp(float(logp[i])) for i in letter_token_ids(tokenizer, letter)))
            assert found[letter] == pytest.approx(expected, abs=1e-5)
            assert found[letter] < 0
