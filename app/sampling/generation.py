"""Generators: a function from conversations to K replies each, for a local folder
(batched, KV cache, trainer.generation) or an OpenAI-compatible endpoint (bounded
concurrency, retries, timeouts: app/registry/endpoint.py).

transformers and the trainer are imported inside the local generator: only a
job's child process calls it, and the web process never imports torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidInput
from app.jobs.context import JobContext
from app.models import ModelKind, ModelVersion
from app.registry.endpoint import ChatParams, EndpointClient, EndpointPolicy

Conversation = list[dict[str, str]]
Generate = Callable[[list[Conversation]], list[list[str]]]


@dataclass(frozen=True)
class Model:
    """A model version's values, read in a short transaction and kept after it."""

    id: int
    name: str
    kind: ModelKind
    path: str | None
    base_url: str | None
    endpoint_model: str | None
    api_key: str | None

    @classmethod
    def of(cls, mv: ModelVersion) -> Model:
        return cls(mv.id, mv.name, mv.kind, mv.path, mv.base_url, mv.endpoint_model, mv.api_key)


@dataclass(frozen=True)
class Sampling:
    """How completions are drawn; stored on each completion it produced."""

    temperature: float
    top_p: float
    max_tokens: int
    k: int
    seed: int
    job: str

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _local(ctx: JobContext, model: Model, s: Sampling, batch_size: int, _concurrency: int) -> Generate:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.generation import sample_completions

    ctx.log(f"loading {model.path}")
    lm = AutoModelForCausalLM.from_pretrained(str(model.path))
    tokenizer = AutoTokenizer.from_pretrained(str(model.path))
    calls = {"n": 0}

    def generate(conversations: list[Conversation]) -> list[list[str]]:
        calls["n"] += 1
        return sample_completions(
            lm, tokenizer, conversations, s.k, temperature=s.temperature,
            top_p=s.top_p, max_new_tokens=s.max_tokens, batch_size=batch_size,
            seed=s.seed + calls["n"],
        )

    return generate


def _endpoint(ctx: JobContext, model: Model, s: Sampling, _batch_size: int, concurrency: int) -> Generate:
    if not model.base_url or not model.endpoint_model:
        raise InvalidInput(f"Model version {model.name!r} has no endpoint URL or model name.")
    client = EndpointClient(model.base_url, model.endpoint_model, model.api_key,
                            max_concurrency=concurrency, policy=EndpointPolicy.of(ctx.settings))
    params = ChatParams(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_tokens)

    def generate(conversations: list[Conversation]) -> list[list[str]]:
        flat = client.chat_many_sync([c for c in conversations for _ in range(s.k)], params)
        return [flat[i * s.k:(i + 1) * s.k] for i in range(len(conversations))]

    return generate


_GENERATORS: dict[ModelKind, Callable[[JobContext, Model, Sampling, int, int], Generate]] = {
    ModelKind.local: _local,
    ModelKind.endpoint: _endpoint,
}


def generator(ctx: JobContext, model: Model, sampling: Sampling, *, batch_size: int = 8,
              concurrency: int = 4) -> Generate:
    """``batch_size`` rows per generate() call (local); ``concurrency`` requests in flight
    (endpoint)."""
    return _GENERATORS[model.kind](ctx, model, sampling, batch_size, concurrency)


def reply_local(ctx: JobContext, model: Model, messages: Conversation, *, temperature: float,
                top_p: float, max_tokens: int) -> str:
    """One reply from a local folder, reporting loading and writing as progress."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.generation import sample_completions

    if not model.path:
        raise InvalidInput(f"Model version {model.name!r} has no folder.")
    ctx.progress(0, 1, stage="loading", message=f"loading {model.name}")
    lm = AutoModelForCausalLM.from_pretrained(model.path)
    tokenizer = AutoTokenizer.from_pretrained(model.path)
    ctx.check_stop()
    ctx.progress(0, 1, stage="generating", message=f"{model.name} is writing")
    reply = sample_completions(lm, tokenizer, [messages], 1,
                               temperature=temperature, top_p=top_p, max_new_tokens=max_tokens)
    ctx.progress(1, 1, stage="done")
    return reply[0][0]
