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

Sequences end at the last assistant turn's end-of-turn token: the template's
trailing whitespace after it is neither trained nor generated, so SFT, reward
models and DPO all see (and the reward head reads) the same last token.

Truncation (docs/training.md, "Truncation"), when a sequence is longer than
``max_length``:

1. the *head* (everything before the first message's content: BOS, a default
   system prompt, the first role header) and the *answer header* (the
   generation prompt before the answer) always stay;
2. prompt tokens between them go first, oldest first (for SFT: everything
   before the last assistant turn, earlier turns included);
3. only if that is not enough, the answer loses tokens from its end.

A sequence that fits is never touched. Every encoder reports whether it cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

__all__ = [
    "IGNORE_INDEX",
    "PLAIN_CHAT_TEMPLATE",
    "EncodedPair",
    "EncodedPrompt",
    "EncodedSFT",
    "encode_group",
    "encode_prompt",
    "encode_prompt_completion",
    "encode_sft",
    "pad_token_id",
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


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The one pad-id rule: the tokenizer's pad id, else its EOS (many causal LMs ship
    without a pad token). Every Rankwise mask comes from the attention mask, so the pad
    id is never read as a token; it only has to be a valid id."""
    pid = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pid is None:
        raise ValueError("the tokenizer has neither a pad nor an eos token")
    return int(pid)


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


def _token_at(starts: list[int], char: int) -> int:
    """Index of the first token starting at or after character ``char``."""
    return next((i for i, s in enumerate(starts) if s >= char), len(starts))


def _head_chars(text: str, messages: list[Message]) -> int:
    """Where the first message's content starts in ``text`` (0 if it cannot be found):
    the BOS, default system prompt and first role header before it are never cut."""
    if not messages or not messages[0]["content"]:
        return 0
    found = text.find(messages[0]["content"])
    return max(found, 0)


def _trimmed(text: str) -> str:
    """The rendering without the template's whitespace after the last end-of-turn."""
    return text[: len(text.rstrip())] if text.strip() else text


def _assistant_spans(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message]
) -> tuple[str, list[tuple[int, int]], int]:
    """(text, assistant content spans in characters, where the last assistant turn's
    header starts)."""
    full = _trimmed(render(tokenizer, messages, add_generation_prompt=False))
    spans: list[tuple[int, int]] = []
    last_turn = 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        turn = render(tokenizer, messages[:i], add_generation_prompt=False) if i else ""
        upto = render(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if not (full.startswith(_trimmed(upto)) and upto.startswith(before)
                and before.startswith(turn)):
            raise ValueError(
                "the chat template is not prefix-stable; cannot locate assistant turns"
            )
        # Trailing whitespace after the turn's end token is template glue, not the answer.
        end = len(upto.rstrip()) if upto.rstrip() else len(upto)
        spans.append((len(before), max(end, len(before))))
        # The last turn's frame starts where the message before it ends (its glue and
        # the assistant header belong to the answer's frame, as in encode_prompt_completion).
        previous = messages[i - 1]["content"] if i else ""
        found = turn.rfind(previous) if previous else -1
        last_turn = found + len(previous) if found >= 0 else len(turn)
    return full, spans, last_turn


@dataclass(frozen=True)
class EncodedSFT:
    """One demonstration: ``labels`` is ``input_ids`` with non-assistant tokens = -100.
    ``truncated``: tokens were cut to fit; ``trainable``: some label is left."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def trainable(self) -> bool:
        # labels[0] is never predicted (the loss shifts by one)
        return any(label != IGNORE_INDEX for label in self.labels[1:])


def encode_sft(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], max_length: int
) -> EncodedSFT:
    """Tokenize a conversation; the loss sees every assistant turn and nothing else.
    Too long: the tokens between the head and the last assistant turn go first (oldest
    first), then the last answer loses its end (see the module doc)."""
    text, spans, last_turn = _assistant_spans(tokenizer, messages)
    ids, starts = _tokenize(tokenizer, text)
    labels = [
        tok if any(lo <= s < hi for lo, hi in spans) else IGNORE_INDEX
        for tok, s in zip(ids, starts, strict=True)
    ]
    excess = len(ids) - max_length
    if excess <= 0:
        return EncodedSFT(ids, labels)
    head = min(_token_at(starts, _head_chars(text, messages)), _token_at(starts, last_turn))
    cut = min(excess, _token_at(starts, last_turn) - head)
    ids, labels = ids[:head] + ids[head + cut:], labels[:head] + labels[head + cut:]
    return EncodedSFT(ids[:max_length], labels[:max_length], truncated=True)


@dataclass(frozen=True)
class EncodedPair:
    """prompt ⊕ completion; tokens from ``completion_start`` on belong to the completion.
    ``truncated``: prompt tokens were cut; ``completion_truncated``: the answer too."""

    input_ids: list[int]
    completion_start: int
    truncated: bool = False
    completion_truncated: bool = False


@dataclass(frozen=True)
class _Split:
    """A tokenized prompt ⊕ completion, with where the protected head and answer
    header of the prompt are."""

    prompt: list[int]
    completion: list[int]
    head: int  # prompt[:head] is never cut
    tail: int  # prompt[len(prompt) - tail:] (the answer header) is never cut


def _split(tokenizer: PreTrainedTokenizerBase, prompt: list[Message],
           completion: list[Message]) -> _Split:
    before = render(tokenizer, prompt, add_generation_prompt=True)
    full = _trimmed(render(tokenizer, prompt + completion, add_generation_prompt=False))
    if not full.startswith(before):
        raise ValueError("the chat template is not prefix-stable; cannot split the completion")
    ids, starts = _tokenize(tokenizer, full)
    cut = _token_at(starts, len(before))
    closed = render(tokenizer, prompt, add_generation_prompt=False)
    last = prompt[-1]["content"] if prompt else ""
    last_end = closed.rfind(last) + len(last) if last and last in closed else len(before)
    head = min(_token_at(starts, _head_chars(before, prompt)), cut)
    tail = cut - max(_token_at(starts, last_end), head)
    return _Split(ids[:cut], ids[cut:], head, tail)


def _fit(parts: _Split, prompt_room: int, max_length: int) -> EncodedPair:
    """Cut ``parts`` to ``max_length`` keeping at most ``prompt_room`` prompt tokens."""
    p = parts.prompt
    keep = max(prompt_room, min(len(p), parts.head + parts.tail))
    if keep < len(p):
        rest = keep - parts.head  # the newest prompt tokens (with the answer header)
        p = p[: parts.head] + (p[len(p) - rest:] if rest > 0 else [])
    completion = parts.completion[: max(0, max_length - len(p))]
    return EncodedPair(p + completion, len(p), truncated=len(p) < len(parts.prompt),
                       completion_truncated=len(completion) < len(parts.completion))


def encode_prompt_completion(
    tokenizer: PreTrainedTokenizerBase,
    prompt: list[Message],
    completion: list[Message],
    max_length: int,
) -> EncodedPair:
    """Tokenize prompt ⊕ completion, ending at the answer's end-of-turn token. Too long:
    the prompt loses tokens between its head and the answer header (oldest first),
    then the answer loses its end (see the module doc)."""
    parts = _split(tokenizer, prompt, completion)
    return _fit(parts, max_length - len(parts.completion), max_length)


def encode_group(
    tokenizer: PreTrainedTokenizerBase,
    prompt: list[Message],
    completions: list[list[Message]],
    max_length: int,
) -> list[EncodedPair]:
    """Several completions of one prompt with the *same* prompt cut — the one the longest
    completion needs — so that a ranking's or a DPO pair's answers are compared on
    identical context."""
    parts = [_split(tokenizer, prompt, c) for c in completions]
    room = min(max_length - len(p.completion) for p in parts)
    return [_fit(p, room, max_length) for p in parts]


@dataclass(frozen=True)
class EncodedPrompt:
    """A generation prompt (ending with the answer header); ``truncated`` if cut."""

    input_ids: list[int]
    truncated: bool = False


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase, prompt: list[Message], max_length: int
) -> EncodedPrompt:
    """Prompt with the generation prompt appended. Too long: the tokens between the
    head and the newest ``max_length - head`` tokens go (the answer header stays)."""
    text = render(tokenizer, prompt, add_generation_prompt=True)
    ids, starts = _tokenize(tokenizer, text)
    if len(ids) <= max_length:
        return EncodedPrompt(ids)
    head = min(_token_at(starts, _head_chars(text, prompt)), max_length // 2)
    return EncodedPrompt(ids[:head] + ids[len(ids) - (max_length - head):], truncated=True)
