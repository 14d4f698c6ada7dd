"""The sampler job: K completions per prompt from a model version, into the queue.

A local folder is sampled in batches with the KV cache (trainer.generation);
an endpoint gets concurrent requests with bounded concurrency, retries and
timeouts (app/registry/endpoint.py). Prompts are processed in chunks, each
stored in its own short transaction with its work items, so a cancelled or
crashed job keeps what it finished and never leaves a prompt half-sampled
(completions and items of a prompt commit together). A prompt that already has
completions from this job is skipped, so re-running after a crash adds nothing
twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.errors import InvalidInput
from app.jobs.context import JobContext
from app.models import Completion, ModelKind, ModelVersion, Project, Prompt
from app.registry.endpoint import ChatParams

CHUNK_PROMPTS = 8

Generate = Callable[[list[list[dict[str, str]]]], list[list[str]]]


@dataclass(frozen=True)
class _Plan:
    project_id: int
    model_id: int
    model_name: str
    kind: ModelKind
    path: str | None
    base_url: str | None
    endpoint_model: str | None
    api_key: str | None
    prompts: list[tuple[int, list[dict[str, str]]]]
    sampling: dict[str, Any]


def _plan(ctx: JobContext) -> _Plan:
    p = ctx.params
    with ctx.session() as db:
        project = db.scalar(select(Project).where(Project.public_id == p["project_id"]))
        if project is None:
            raise InvalidInput("The project no longer exists.")
        if p.get("model_id"):
            mv = db.scalar(select(ModelVersion).where(ModelVersion.public_id == p["model_id"]))
        elif project.sampler_model_id is not None:
            mv = db.get(ModelVersion, project.sampler_model_id)
        else:
            mv = None
        if mv is None:
            raise InvalidInput("The project has no sampler model and the job names none.")
        defaults = project.sampling or {}
        sampling = {
            "temperature": p.get("temperature") if p.get("temperature") is not None
            else defaults.get("temperature", 1.0),
            "top_p": p.get("top_p") if p.get("top_p") is not None else defaults.get("top_p", 1.0),
            "max_tokens": p.get("max_tokens") or defaults.get("max_tokens", 256),
            "k": int(p.get("k", 4)),
            "seed": int(p.get("seed", 0)),
            "job": ctx.spec.public_id,
        }
        query = select(Prompt.id, Prompt.messages).where(Prompt.project_id == project.id)
        if p.get("prompt_ids"):
            query = query.where(Prompt.public_id.in_(list(p["prompt_ids"])))
        else:
            sampled = select(Completion.prompt_id)
            query = query.where(Prompt.id.not_in(sampled), Prompt.held_out.is_(False))
            query = query.limit(int(p.get("limit", 20)))
        prompts = [(row[0], list(row[1])) for row in db.execute(query.order_by(Prompt.id))]
        return _Plan(project.id, mv.id, mv.name, mv.kind, mv.path, mv.base_url,
                     mv.endpoint_model, mv.api_key, prompts, sampling)


def _local_generator(ctx: JobContext, plan: _Plan) -> Generate:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.generation import sample_completions

    ctx.log(f"loading {plan.path}")
    model = AutoModelForCausalLM.from_pretrained(str(plan.path))
    tokenizer = AutoTokenizer.from_pretrained(str(plan.path))
    s = plan.sampling
    batch = int(ctx.params.get("batch_size", 8))
    calls = {"n": 0}

    def generate(conversations: list[list[dict[str, str]]]) -> list[list[str]]:
        calls["n"] += 1
        return sample_completions(
            model, tokenizer, conversations, s["k"], temperature=s["temperature"],  # type: ignore[arg-type]
            top_p=s["top_p"], max_new_tokens=s["max_tokens"], batch_size=batch,
            seed=s["seed"] + calls["n"],
        )

    return generate


def _endpoint_generator(ctx: JobContext, plan: _Plan) -> Generate:
    from app.registry.endpoint import EndpointClient, EndpointPolicy

    if not plan.base_url or not plan.endpoint_model:
        raise InvalidInput(f"Model version {plan.model_name!r} has no endpoint URL or model name.")
    client = EndpointClient(plan.base_url, plan.endpoint_model, plan.api_key,
                            max_concurrency=int(ctx.params.get("concurrency", 4)),
                            policy=EndpointPolicy.of(ctx.settings))
    s = plan.sampling
    params = ChatParams(temperature=s["temperature"], top_p=s["top_p"], max_tokens=s["max_tokens"])

    def generate(conversations: list[list[dict[str, str]]]) -> list[list[str]]:
        k = s["k"]
        flat = client.chat_many_sync([c for c in conversations for _ in range(k)], params)
        return [flat[i * k:(i + 1) * k] for i in range(len(conversations))]

    return generate


def _store(ctx: JobContext, plan: _Plan, prompt_id: int, texts: list[str]) -> int:
    from app.projects import items

    limit = ctx.settings.max_text_chars
    with ctx.session() as db:
        project = db.get(Project, plan.project_id)
        prompt = db.get(Prompt, prompt_id)
        if project is None or prompt is None:
            return 0
        tag = ctx.spec.public_id
        exists = db.scalar(select(Completion.id).where(
            Completion.prompt_id == prompt_id, Completion.external_id.like(f"{tag}-%")).limit(1))
        if exists is not None:
            return 0
        rows = [
            Completion(prompt_id=prompt_id, external_id=f"{tag}-{j}", content=text[:limit],
                       model_version_id=plan.model_id, model_name=plan.model_name,
                       sampling=plan.sampling)
            for j, text in enumerate(texts)
        ]
        db.add_all(rows)
        db.flush()
        return items.add_completions(db, project, prompt, rows)


def run(ctx: JobContext) -> dict[str, Any]:
    plan = _plan(ctx)
    total = len(plan.prompts)
    if total == 0:
        return {"prompts": 0, "completions": 0, "items": 0, "model": plan.model_name,
                "note": "no prompts without completions were found"}
    ctx.progress(0, total, stage="loading", message=f"loading {plan.model_name}")
    generate = (_local_generator if plan.kind == ModelKind.local else _endpoint_generator)(ctx, plan)
    done = completions = made = 0
    for start in range(0, total, CHUNK_PROMPTS):
        ctx.check_stop({"prompts": done, "completions": completions, "items": made})
        chunk = plan.prompts[start:start + CHUNK_PROMPTS]
        texts = generate([messages for _, messages in chunk])
        for (prompt_id, _), samples in zip(chunk, texts, strict=True):
            made += _store(ctx, plan, prompt_id, samples)
            completions += len(samples)
        done += len(chunk)
        ctx.progress(done, total, stage="sampling",
                     metrics={"prompts": float(done), "completions": float(completions)})
    return {"prompts": done, "completions": completions, "items": made,
            "model": plan.model_name, "sampling": plan.sampling}


def _reply_local(ctx: JobContext, model_id: str, messages: list[dict[str, str]], *,
                 temperature: float, top_p: float, max_tokens: int) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.generation import sample_completions

    with ctx.session() as db:
        mv = db.scalar(select(ModelVersion).where(ModelVersion.public_id == model_id))
        if mv is None or not mv.path:
            raise InvalidInput("The model version is gone or has no folder.")
        path, name = mv.path, mv.name
    ctx.progress(0, 1, stage="loading", message=f"loading {name}")
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    ctx.check_stop()
    ctx.progress(0, 1, stage="generating", message=f"{name} is writing")
    reply = sample_completions(model, tokenizer, [messages], 1,  # type: ignore[list-item]
                               temperature=temperature, top_p=top_p, max_new_tokens=max_tokens)
    ctx.progress(1, 1, stage="done")
    return reply[0][0]


def test_local_model(ctx: JobContext) -> dict[str, Any]:
    """One reply from a local model (the registry's test button)."""
    reply = _reply_local(ctx, ctx.params["model_id"],
                         [{"role": "user", "content": ctx.params["prompt"]}],
                         temperature=0.7, top_p=1.0,
                         max_tokens=int(ctx.params.get("max_tokens", 64)))
    return {"reply": reply}


def suggest_local(ctx: JobContext) -> dict[str, Any]:
    """A draft reply to a demonstration task's conversation (app/labeling/suggest.py)."""
    p = ctx.params
    reply = _reply_local(ctx, p["model_id"], list(p["messages"]),
                         temperature=float(p.get("temperature", 0.7)),
                         top_p=float(p.get("top_p", 1.0)),
                         max_tokens=int(p.get("max_tokens", 256)))
    return {"reply": reply[: ctx.settings.max_text_chars]}
