"""The reward model: a causal-LM trunk with a scalar head read at the last real token.

InstructGPT (arXiv:2203.02155 §3.5) replaces the unembedding of the SFT model
with a scalar output; we load the causal-LM folder into
``AutoModelForSequenceClassification`` (its LM head is dropped, a new bias-free
``score`` head of ``len(heads)`` outputs is added). Llama 2's two objectives
(helpfulness and safety, arXiv:2307.09288 §3.2.2) are two heads on one trunk.

What the head reads: the hidden state of the last token whose attention mask is
1 (right or left padding both work, and it does not matter whether the pad
token equals EOS). Two values are stored in the model's ``config.json`` and
travel with the folder:

* ``rankwise_reward_heads``  head names, e.g. ``["helpful"]`` or ``["helpful", "safety"]``
* ``rankwise_reward_offset`` per head, the mean raw score of the training
  demonstrations; ``score`` subtracts it so demonstrations score 0 on average
  (InstructGPT: "a bias so that the labeler demonstrations achieve a mean score of 0").

Where the network has an additive parameter on the head's input — a bias in the
head, or the bias of a LayerNorm that feeds it (GPT-2, OPT, GPT-NeoX, Falcon…) —
the trainer folds the offset into it (``fold_offset``) and stores 0, so the raw
logits of plain ``AutoModelForSequenceClassification`` equal ``score``. RMSNorm
models (Llama, SmolLM, Qwen, Mistral…) have no such parameter and a bias-free
head: there the offset stays in ``config.json`` and plain transformers users must
subtract ``config.rankwise_reward_offset`` themselves (docs/training.md says so).

Public API: ``load_reward_model``, ``score``, ``per_token_values``,
``set_reward_offset``, ``fold_offset``, ``combine_rewards``, ``RunningMoments``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from trainer.chat import pad_token_id

__all__ = [
    "HEADS_KEY",
    "OFFSET_KEY",
    "RunningMoments",
    "combine_rewards",
    "fold_offset",
    "last_token_index",
    "load_reward_model",
    "per_token_values",
    "reward_heads",
    "score",
    "set_reward_offset",
]

HEADS_KEY = "rankwise_reward_heads"
OFFSET_KEY = "rankwise_reward_offset"
HEAD_NAMES = ("helpful", "safety")


def _config_of(model: nn.Module) -> Any:
    inner: Any = model
    while not hasattr(inner, "config") and hasattr(inner, "module"):  # DDP and friends
        inner = inner.module
    return inner.config


def reward_heads(model: nn.Module) -> list[str]:
    """The head names stored with the model (``["helpful"]`` for a plain one)."""
    heads = getattr(_config_of(model), HEADS_KEY, None)
    return list(heads) if heads else ["helpful"]


def load_reward_model(
    path: str | Path,
    heads: Sequence[str] | None = None,
    torch_dtype: torch.dtype | None = None,
) -> PreTrainedModel:
    """A reward model from ``path``.

    A folder saved by the RM trainer loads as is (``heads``, if given, must match).
    Any other folder is taken as a causal LM: its trunk is kept and a new ``score``
    head with one output per name in ``heads`` (default ``["helpful"]``) is added,
    with offsets 0. ``pad_token_id`` is set from the tokenizer if the config lacks it
    (sequence-classification models need one to batch).
    """
    config = AutoConfig.from_pretrained(path)
    stored = getattr(config, HEADS_KEY, None)
    if stored:
        if heads is not None and list(heads) != list(stored):
            raise ValueError(f"{path} has reward heads {stored}, not {list(heads)}")
        names = list(stored)
    else:
        names = list(heads or ["helpful"])
        unknown = [h for h in names if h not in HEAD_NAMES]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(f"reward heads must be distinct names from {HEAD_NAMES}")
    kwargs: dict[str, Any] = {"num_labels": len(names)}
    if torch_dtype is not None:
        kwargs["dtype"] = torch_dtype
    model: PreTrainedModel = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_token_id(AutoTokenizer.from_pretrained(path))
    if not stored:
        setattr(model.config, HEADS_KEY, names)
        setattr(model.config, OFFSET_KEY, [0.0] * len(names))
        model.config.id2label = dict(enumerate(names))
        model.config.label2id = {n: i for i, n in enumerate(names)}
    return model


def _score_module(model: nn.Module) -> nn.Module:
    # named_modules is pre-order, so a wrapper (peft's ModulesToSaveWrapper) comes
    # before the Linear it wraps; the outermost "score" is the one forward calls.
    for name, module in model.named_modules():
        if name.split(".")[-1] == "score":
            found: nn.Module = module
            return found
    raise TypeError("not a reward model: no 'score' head found")


def _head_outputs(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """The head applied at every position → [B, T, H], taken from inside one ordinary
    forward call (a hook on ``score``), so DDP/FSDP/peft wrappers see a normal forward."""
    captured: list[Tensor] = []
    handle = _score_module(model).register_forward_hook(
        lambda _m, _i, out: captured.append(out)
    )
    try:
        model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    finally:
        handle.remove()
    return captured[-1]


def last_token_index(attention_mask: Tensor) -> Tensor:
    """Index of the rightmost attended token of each row → [B] (any padding side)."""
    positions = torch.arange(attention_mask.size(1), device=attention_mask.device)
    return (positions * attention_mask.long()).argmax(-1)


def _offsets(model: nn.Module, like: Tensor) -> Tensor:
    values = getattr(_config_of(model), OFFSET_KEY, None) or [0.0] * like.size(-1)
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def score(
    model: nn.Module, input_ids: Tensor, attention_mask: Tensor, raw: bool = False
) -> Tensor:
    """r_θ(x, y) for each row → [B, H] (H heads), read at the last attended token, minus
    the stored demonstration offset (``raw=True`` leaves the offset out; training uses
    raw scores — an offset cancels in every pairwise difference anyway)."""
    values = _head_outputs(model, input_ids, attention_mask)  # [B, T, H]
    rows = torch.arange(values.size(0), device=values.device)
    scores = values[rows, last_token_index(attention_mask)].float()  # [B, H]
    return scores if raw else scores - _offsets(model, scores)


def per_token_values(
    model: nn.Module, input_ids: Tensor, attention_mask: Tensor, head: int = 0
) -> Tensor:
    """The head of ``head`` applied at every position → [B, T] (raw, no offset): the value
    model V initialised from the RM (InstructGPT §3.5; OpenRLHF's critic) uses this."""
    return _head_outputs(model, input_ids, attention_mask)[..., head].float()


def set_reward_offset(model: nn.Module, offsets: Sequence[float]) -> None:
    """Store per-head offsets in the config (saved with ``save_pretrained``)."""
    config = _config_of(model)
    if len(offsets) != len(reward_heads(model)):
        raise ValueError("one offset per reward head")
    setattr(config, OFFSET_KEY, [float(x) for x in offsets])


def _feeding_norm(model: nn.Module, head: nn.Module, input_ids: Tensor,
                  attention_mask: Tensor) -> nn.Module | None:
    """The module with a bias whose output is exactly the head's input (the final
    LayerNorm of the trunk), found by comparing outputs in one forward pass."""
    weight = getattr(head, "weight", None)
    if weight is None:
        return None
    width = weight.shape[-1]
    candidates = [m for m in model.modules()
                  if m is not head and isinstance(getattr(m, "bias", None), nn.Parameter)
                  and m.bias.shape == (width,) and isinstance(getattr(m, "weight", None),
                                                              nn.Parameter)
                  and m.weight.shape == (width,)]
    outputs: dict[int, Tensor] = {}
    head_input: list[Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, _i, out: outputs.__setitem__(id(mod), out))
             for m in candidates]
    hooks.append(head.register_forward_hook(lambda _m, inp, _o: head_input.append(inp[0])))
    try:
        with torch.no_grad():
            model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    finally:
        for h in hooks:
            h.remove()
    if not head_input:
        return None
    for m in candidates:
        out = outputs.get(id(m))
        if isinstance(out, Tensor) and out.shape == head_input[-1].shape and torch.equal(
                out, head_input[-1]):
            return m
    return None


def fold_offset(model: nn.Module, offsets: Sequence[float], probe: Sequence[Sequence[int]],
                pad_id: int) -> Callable[[], None] | None:
    """Subtract per-head ``offsets`` inside the network, so that raw head outputs (and
    plain transformers logits) equal ``score()``: from the head's bias if it has one,
    else from the bias β of the LayerNorm that feeds the head, by Δβ = −Wᵀ(WWᵀ)⁻¹c
    (then W(h + Δβ) = Wh − c for every h). Checked on the ``probe`` sequences; returns
    a function that undoes it, or None where it cannot be done (RMSNorm trunks and
    bias-free heads: the offset then stays in the config). Zero offsets need nothing."""
    c_list = [float(x) for x in offsets]
    if not any(c_list) or hasattr(model, "peft_config"):
        return None
    head = _score_module(model)
    weight = getattr(head, "weight", None)
    if not isinstance(weight, Tensor):
        return None
    ids = torch.full((len(probe), max(len(s) for s in probe)), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, seq in enumerate(probe):
        ids[i, :len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[i, :len(seq)] = 1
    device = weight.device
    ids, mask = ids.to(device), mask.to(device)
    c = torch.tensor(c_list, dtype=torch.float32, device=device)
    was_training = model.training
    model.eval()
    try:
        before = score(model, ids, mask, raw=True)
        bias = getattr(head, "bias", None)
        if isinstance(bias, nn.Parameter):
            target, delta = bias, -c
        else:
            norm = _feeding_norm(model, head, ids, mask)
            if norm is None:
                return None
            w = weight.detach().float()  # [H, D]
            target = norm.bias  # type: ignore[assignment]
            delta = -(w.T @ torch.linalg.solve(w @ w.T, c))
        delta = delta.to(target.dtype)
        with torch.no_grad():
            target.add_(delta)

        def undo() -> None:
            with torch.no_grad():
                target.sub_(delta)

        after = score(model, ids, mask, raw=True)
        if not torch.allclose(after, before - c, atol=1e-3, rtol=1e-4):
            undo()
            return None
        return undo
    finally:
        model.train(was_training)


class RunningMoments:
    """Running mean and variance over every batch seen (Chan et al.'s parallel update).

    Llama 2 whitens the combined reward but does not say over what; we use the
    running statistics of all batches so far, so one odd batch cannot rescale itself.
    """

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 0

    def update(self, x: Tensor) -> None:
        x = x.detach().float().flatten()
        n = x.numel()
        if n == 0:
            return
        b_mean, b_var = x.mean().item(), x.var(unbiased=False).item()
        total = self.count + n
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> float:
        return float(max(self.var, 0.0) ** 0.5)


def combine_rewards(
    helpful: Tensor,
    safety: Tensor,
    is_safety_prompt: Tensor,
    threshold: float = 0.15,
    moments: RunningMoments | None = None,
    eps: float = 1e-8,
) -> Tensor:
    """Llama 2's combined reward (arXiv:2307.09288 §3.2.3) → [B], before the KL term.

    helpful, safety [B] are the heads' raw scores (logits); is_safety_prompt [B] bool.

        R_c = R_s  if IS_SAFETY(p) or σ(R_s) < threshold  else  R_h
        R   = WHITEN(LOGIT(R_c))

    The paper's R_s, R_h are probabilities, so the 0.15 threshold is in sigmoid
    space and LOGIT(σ(r)) = r gives back our raw score. The paper does not say
    which statistics WHITEN uses: with ``moments`` we update and use the running
    mean/std over all batches so far; without, this batch's own mean/std.
    """
    unsafe = torch.sigmoid(safety) < threshold
    combined = torch.where(is_safety_prompt.bool() | unsafe, safety, helpful)  # logit space
    if moments is not None:
        moments.update(combined)
        mean, std = moments.mean, moments.std
    else:
        mean = combined.mean().item()
        std = combined.std(unbiased=False).item() if combined.numel() > 1 else 1.0
    return (combined - mean) / (std + eps)
