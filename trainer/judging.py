"""A local causal LM as a judge: the log-probabilities of its verdict letters.

RLAIF (Lee et al. 2023, arXiv:2309.00267, §2.1) reads the judge's preference from the
next-token distribution at the verdict position instead of its sampled text: after the
judge prompt (and, with chain of thought, the rationale the model wrote first) comes a
fixed cue such as ``"Verdict:"``, and the log-softmax of the logits at the next position
is read for the candidate letters. A letter's tokens with and without a leading space
(" A" and "A") are the same answer, so their probabilities are added.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from trainer.chat import Message, render

__all__ = ["letter_logprobs", "letter_token_ids"]


def letter_token_ids(tokenizer: PreTrainedTokenizerBase, letter: str) -> list[int]:
    """The single tokens that spell ``letter`` (bare or after a space)."""
    ids: set[int] = set()
    for spelling in (letter, " " + letter):
        encoded = tokenizer.encode(spelling, add_special_tokens=False)
        if len(encoded) == 1:
            ids.add(int(encoded[0]))
    return sorted(ids)


@torch.no_grad()
def letter_logprobs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    conversation: list[Message],
    assistant_prefix: str,
    letters: Sequence[str] = ("A", "B"),
    max_prompt_tokens: int = 2048,
) -> dict[str, float]:
    """log P(letter) at the position after ``conversation`` ⊕ the assistant's turn begun
    with ``assistant_prefix`` (e.g. a rationale and "Verdict:"), for each letter with a
    single-token spelling. The prompt keeps its newest ``max_prompt_tokens`` tokens."""
    text = render(tokenizer, conversation, add_generation_prompt=True) + assistant_prefix
    ids = tokenizer.encode(text, add_special_tokens=False)[-max_prompt_tokens:]
    logits = model(input_ids=torch.tensor([ids], device=model.device)).logits[0, -1]
    logp = torch.log_softmax(logits.float(), dim=-1)
    out: dict[str, float] = {}
    for letter in letters:
        token_ids = letter_token_ids(tokenizer, letter)
        if token_ids:
            # log Σ p over the letter's spellings
            out[letter] = float(torch.logsumexp(logp[token_ids], dim=0))
    return {k: v for k, v in out.items() if math.isfinite(v)}
