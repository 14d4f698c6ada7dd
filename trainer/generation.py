"""Batched sampling from a causal LM, for PPO rollouts, best-of-K and the app's sampler.

Prompts of different lengths are *left*-padded so every row's last prompt token
sits in the same column and the KV cache (``model.generate``) extends all rows
in lockstep; position ids then come from the attention mask, so a padded row
computes exactly what it would alone. Responses come back right-padded with a
mask that is 1 up to and including the first end-of-sequence token and 0 after
it (a model whose pad token *is* its EOS would otherwise look like it kept
talking).

Sampling uses the plain softmax of ``logits / temperature`` with top-k off and
top-p 1 by default: PPO's importance ratios assume the log-probabilities it
recomputes are those of the distribution that sampled (Huang et al. 2024,
arXiv:2403.17031, detail 6); top-p < 1 is for best-of-K and the sampler job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from trainer.chat import Message, encode_prompt, pad_token_id

__all__ = [
    "Generation",
    "decode_responses",
    "gather_steps",
    "generate",
    "left_pad",
    "pack_right",
    "position_ids_from_mask",
    "response_logprobs",
    "response_mask_after_eos",
    "sample_completions",
    "sampled_kl",
]

ProgressFn = Callable[[int, int], None]  # (done, total) prompts×k


@dataclass(frozen=True)
class Generation:
    """One batch of samples. P = longest prompt, R = longest response (≤ max_new_tokens)."""

    prompt_ids: Tensor      # [B, P] left-padded with the pad id
    prompt_mask: Tensor     # [B, P] 1 on real prompt tokens
    response_ids: Tensor    # [B, R] right-padded with the pad id after the first EOS
    response_mask: Tensor   # [B, R] 1 up to and including the first EOS
    ended: Tensor           # [B] bool: the row stopped on EOS (not cut at max_new_tokens)

    @property
    def input_ids(self) -> Tensor:
        """prompt ⊕ response, [B, P + R]."""
        return torch.cat([self.prompt_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> Tensor:
        return torch.cat([self.prompt_mask, self.response_mask], dim=1)

    @property
    def response_lengths(self) -> Tensor:
        return self.response_mask.sum(-1)


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """Left-pad token lists to one length -> (ids [B, P], mask [B, P])."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        if seq:
            ids[i, width - len(seq):] = torch.tensor(list(seq), dtype=torch.long)
            mask[i, width - len(seq):] = 1
    return ids, mask


def position_ids_from_mask(attention_mask: Tensor) -> Tensor:
    """Positions counted over real tokens only: a left-padded row starts at 0 at its
    first real token, as it would unpadded. Padding gets position 0 (it is masked)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def response_mask_after_eos(response_ids: Tensor, eos_ids: Sequence[int]) -> Tensor:
    """1 up to and including the first EOS of each row, 0 after. [B, R] -> [B, R]."""
    is_eos = torch.zeros_like(response_ids, dtype=torch.bool)
    for eos in eos_ids:
        is_eos |= response_ids == eos
    # Number of EOS strictly before each position: > 0 means the row already ended.
    eos_before = is_eos.long().cumsum(-1) - is_eos.long()
    return (eos_before == 0).long()


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids: list[int] = []
    if isinstance(configured, int):
        ids.append(configured)
    elif isinstance(configured, list | tuple):
        ids.extend(int(i) for i in configured)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(int(tokenizer.eos_token_id))
    if not ids:
        raise ValueError("neither the model nor the tokenizer defines an EOS token")
    return ids


@torch.no_grad()
def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    do_sample: bool = True,
) -> Generation:
    """Sample one response per prompt (token-id lists) with the KV cache.

    ``do_sample=False`` or ``temperature == 0`` decodes greedily. The model's
    train/eval mode is restored afterwards (dropout off while sampling).
    """
    if not prompts:
        raise ValueError("no prompts to generate from")
    eos_ids = _eos_ids(model, tokenizer)
    pad_id = pad_token_id(tokenizer)
    device = next(model.parameters()).device
    prompt_ids, prompt_mask = left_pad(prompts, pad_id)
    greedy = not do_sample or temperature <= 0.0
    config = GenerationConfig(  # type: ignore[no-untyped-call]
        max_new_tokens=max_new_tokens,
        do_sample=not greedy,
        temperature=None if greedy else temperature,
        top_p=None if greedy else top_p,
        top_k=None if greedy else 0,  # 0 = off: sample from the whole distribution
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
        use_cache=True,
    )
    was_training = model.training
    model.train(False)
    try:
        out = model.generate(  # type: ignore[operator]
            input_ids=prompt_ids.to(device),
            attention_mask=prompt_mask.to(device),
            generation_config=config,
        )
    finally:
        model.train(was_training)
    response_ids = out[:, prompt_ids.shape[1]:].cpu()
    if response_ids.shape[1] == 0:  # max_new_tokens == 0
        response_ids = torch.full((len(prompts), 1), pad_id, dtype=torch.long)
        response_mask = torch.zeros_like(response_ids)
    else:
        response_mask = response_mask_after_eos(response_ids, eos_ids)
        response_ids = response_ids.masked_fill(response_mask == 0, pad_id)
    # Finished rows hold an EOS (generate pads them after it); cut rows never do.
    ended = torch.isin(response_ids, torch.tensor(eos_ids)).any(-1)
    return Generation(prompt_ids, prompt_mask, response_ids, response_mask, ended)


def pack_right(generation: Generation, pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """Left-padded (prompt, response) -> right-padded prompt ⊕ response.

    Returns (input_ids [B, L], attention_mask [B, L], positions [B, R]) with
    L = longest prompt + R; ``input_ids[b, positions[b, t]] == response_ids[b, t]``.
    """
    prompt_lengths = generation.prompt_mask.sum(-1)  # [B]
    B, P = generation.prompt_ids.shape
    R = generation.response_ids.shape[1]
    input_ids = torch.full((B, P + R), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((B, P + R), dtype=torch.long)
    positions = prompt_lengths[:, None] + torch.arange(R)[None, :]  # [B, R]
    for b in range(B):
        n = int(prompt_lengths[b])
        input_ids[b, :n] = generation.prompt_ids[b, P - n:]
        attention_mask[b, :n] = 1
    input_ids.scatter_(1, positions, generation.response_ids)
    attention_mask.scatter_(1, positions, generation.response_mask.long())
    return input_ids, attention_mask, positions


def gather_steps(x: Tensor, positions: Tensor) -> Tensor:
    """x [B, L, ...] at positions − 1 -> [B, R, ...]: the state before each response token."""
    index = (positions - 1).clamp(min=0)
    if x.dim() == 2:
        return x.gather(1, index)
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


def decode_responses(tokenizer: PreTrainedTokenizerBase, generation: Generation) -> list[str]:
    """Response texts without padding or special tokens (the EOS is the turn's end, not text)."""
    return [
        str(tokenizer.decode(ids[mask.bool()].tolist(), skip_special_tokens=True))
        for ids, mask in zip(generation.response_ids, generation.response_mask, strict=True)
    ]


@torch.no_grad()
def response_logprobs(model: PreTrainedModel, generation: Generation, pad_id: int,
                      temperature: float = 1.0) -> Tensor:
    """log p(y_t) of every response token under ``model`` (0 after the first EOS). [B, R]"""
    device = next(model.parameters()).device
    ids, attn, positions = (t.to(device) for t in pack_right(generation, pad_id))
    logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits
    logits = gather_steps(logits, positions).float() / temperature
    tokens = generation.response_ids.to(device)
    logps = torch.log_softmax(logits, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)
    return logps * generation.response_mask.to(device)


@torch.no_grad()
def sampled_kl(
    policy: PreTrainedModel,
    reference: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    seed: int = 0,
    temperature: float = 1.0,
) -> list[tuple[Generation, Tensor]]:
    """Samples y ∼ π for every prompt and their KL(π‖π_ref) in nats per response,
    Σ_t log π(y_t|·) − log π_ref(y_t|·) (both at ``temperature``, as PPO computes it):
    one (generation, kl [B]) per batch. Sampling runs under its own seed inside
    ``fork_rng``, so it does not disturb the training's random stream."""
    device = next(policy.parameters()).device
    pad_id = pad_token_id(tokenizer)
    out: list[tuple[Generation, Tensor]] = []
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for start in range(0, len(prompts), batch_size):
            gen = generate(policy, tokenizer, prompts[start:start + batch_size],
                           max_new_tokens=max_new_tokens, temperature=temperature)
            kl = (response_logprobs(policy, gen, pad_id, temperature)
                  - response_logprobs(reference, gen, pad_id, temperature)).sum(-1)
            out.append((gen, kl.float().cpu()))
    return out


def sample_completions(
    model_path_or_model: str | Path | PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase | None,
    prompts: list[list[Message]],
    k: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    seed: int = 0,
    progress: ProgressFn | None = None,
    max_prompt_tokens: int = 1024,
) -> list[list[str]]:
    """K completions for each conversation, as texts: ``out[i][j]`` is sample j of prompt i.

    ``tokenizer`` may be None when a path is given (it is loaded from there). The
    K copies of a prompt are laid out consecutively and cut into batches of
    ``batch_size`` rows; ``progress(done, total)`` is called after each batch.
    Deterministic in ``seed`` for a given model, batch size and device.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    model: PreTrainedModel
    if isinstance(model_path_or_model, str | Path):
        model = AutoModelForCausalLM.from_pretrained(str(model_path_or_model))
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(str(model_path_or_model))
    else:
        model = model_path_or_model
    if tokenizer is None:
        raise ValueError("a tokenizer is needed when a model object is given")
    encoded = [encode_prompt(tokenizer, p, max_prompt_tokens).input_ids for p in prompts]
    rows = [(i, ids) for i, ids in enumerate(encoded) for _ in range(k)]
    out: list[list[str]] = [[] for _ in prompts]
    torch.manual_seed(seed)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        gen = generate(model, tokenizer, [ids for _, ids in chunk],
                       max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
        for (i, _), text in zip(chunk, decode_responses(tokenizer, gen), strict=True):
            out[i].append(text)
        if progress is not None:
            progress(min(start + batch_size, len(rows)), len(rows))
    return out
