"""Turning conversations into token ids, with the loss mask of each stage.

The model's own chat template is used where the tokenizer has one. Otherwise
the *plain template* below is used; it is also the template of the tiny test
model, so tests exercise the same code path as a real chat model::

    <|system|>\\n{content}\\n
    <|user|>\\n{content}\\n
    <|assistant|>\\n{content}{eos_token}\\n
    ...
    <|assistant|>\\n            <- generation prompt

Assistant spans are located by rendering prefixes of the conversation (the
rendering of ``messages[:i]`` plus the generation prompt must be a prefix of
the rendering of ``messages[:i+1]``, true of all common templates) and mapped to
tokens through the fast tokenizer's offset mapping, so the mask is exact even
where BPE merges cross a role boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

__all__ = [
    "IGNORE_INDEX",
    "PLAIN_CHAT_TEMPLATE",
    "EncodedPair",
    "EncodedSFT",
    "encode_prompt",
    "encode_prompt_completion",
    "encode_sft",
    "render",
]

Message = dict[str, str]

IGNORE_INDEX = -100  # label value that torch's cross-entropy skips

PLAIN_CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{{ '<|' + m['role'] + '|>\\n' + m['content'] }}"
    "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def _plain_render(tokenizer: PreTrainedTokenizerBase, messages: list[Message], gen: bool) -> str:
    eos = tokenizer.eos_token or ""
    parts = [
        f"<|{m['role']}|>\n{m['content']}{eos if m['role'] == 'assistant' else ''}\n"
        for m in messages
    ]
    if gen:
        parts.append("<|assistant|>\n")
    return "".join(parts)


def render(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], add_generation_prompt: bool
) -> str:
    """The conversation as text, through the model's chat template or the plain one."""
    if getattr(tokenizer, "chat_template", None):
        text: Any = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return str(text)
    return _plain_render(tokenizer, messages, add_generation_prompt)


def _tokenize(tokenizer: PreTrainedTokenizerBase, text: str) -> tuple[list[int], list[int]]:
    """Token ids and each token's start character (templates carry their own BOS)."""
    if not tokenizer.is_fast:
        raise TypeError("rankwise needs a fast (tokenizers-backed) tokenizer for exact masks")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [start for start, _ in enc["offset_mapping"]]


def _assistant_spans(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message]
) -> tuple[str, list[tuple[int, int]]]:
    full = render(tokenizer, messages, add_generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not (full.startswith(upto) and upto.startswith(before)):
            raise ValueError(
                "the chat template is not prefix-stable; cannot locate assistant turns"
            )
        # Trailing whitespace after the turn's end token is template glue, not the answer.
        end = len(upto.rstrip()) if upto.rstrip() else len(upto)
        spans.append((len(before), max(end, len(before))))
    return full, spans


@dataclass(frozen=True)
class EncodedSFT:
    """One demonstration: ``labels`` is ``input_ids`` with non-assistant tokens = -100."""

    input_ids: list[int]
    labels: list[int]


def encode_sft(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], max_length: int
) -> EncodedSFT:
    """Tokenize a conversation; the loss sees every assistant turn and nothing else."""
    text, spans = _assistant_spans(tokenizer, messages)
    ids, starts = _tokenize(tokenizer, text)
    labels = [
        tok if any(lo <= s < hi for lo, hi in spans) else IGNORE_INDEX
        for tok, s in zip(ids, starts, strict=True)
    ]
    return EncodedSFT(input_ids=ids[:max_length], labels=labels[:max_length])


@dataclass(frozen=True)
class EncodedPair:
    """prompt ⊕ completion; tokens from ``completion_start`` on belong to the completion."""

    input_ids: list[int]
    completion_start: int


def encode_prompt_completion(
    tokenizer: PreTrainedTokenizerBase,
    prompt: list[Message],
    completion: list[Message],
    max_length: int,
) -> EncodedPair:
    """Tokenize prompt ⊕ completion. Over-long inputs lose prompt tokens from the left
    first (the reward is read at the end, so the end must survive), then completion
    tokens from the right."""
    before = render(tokenizer, prompt, add_generation_prompt=True)
    full = render(tokenizer, prompt + completion, add_generation_prompt=False)
    if not full.startswith(before):
        raise ValueError("the chat template is not prefix-stable; cannot split the completion")
    ids, starts = _tokenize(tokenizer, full)
    cut = next((i for i, s in enumerate(starts) if s >= len(before)), len(ids))
    prompt_ids, completion_ids = ids[:cut], ids[cut:]
    completion_ids = completion_ids[:max_length]
    keep_prompt = max(0, max_length - len(completion_ids))
    prompt_ids = prompt_ids[len(prompt_ids) - keep_prompt :] if keep_prompt else []
    return EncodedPair(input_ids=prompt_ids + completion_ids, completion_start=len(prompt_ids))


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase, prompt: list[Message], max_length: int
) -> list[int]:
    """Prompt with the generation prompt appended, left-truncated to ``max_length``."""
    ids, _ = _tokenize(tokenizer, render(tokenizer, prompt, add_generation_prompt=True))
    return ids[-max_length:]
