"""The sampling jobs, inside their child process.

* ``sample`` — K completions per prompt from a model version into a project's
  queue. Prompts are processed in chunks, each prompt stored in its own short
  transaction with its work items, so a cancelled or crashed job keeps what it
  finished and never leaves a prompt half-sampled. A prompt that already has
  completions from this job is skipped, so re-running after a crash adds
  nothing twice.
* ``model-test`` — one reply from a local folder (the registry's test button).
* ``suggest`` — a draft reply for a demonstration task (app/labeling/suggest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import access
from app.errors import InvalidInput
from app.jobs.context import JobContext
from app.labeling.plans import QueueReport
from app.registry import service as registry
from app.sampling import repository as repo
from app.sampling.generation import Model, Sampling, generator, reply_local
from app.sampling.schemas import ModelTestParams, SampleParams, SuggestParams
from app.sampling.service import sampler_of, store_completions

CHUNK_PROMPTS = 8


@dataclass(frozen=True)
class _Plan:
    project_id: int
    model: Model
    sampling: Sampling
    prompts: list[tuple[int, list[dict[str, str]]]]


def _plan(ctx: JobContext, p: SampleParams) -> _Plan:
    with ctx.session() as db:
        project = access.by_ref(db, access.writable(None), p.project_id)
        if project is None:
            raise InvalidInput("The project no longer exists.")
        mv = sampler_of(db, project, p.model_id)
        defaults = project.sampling or {}
        sampling = Sampling(
            temperature=float(p.temperature if p.temperature is not None
                              else defaults.get("temperature", 1.0)),
            top_p=float(p.top_p if p.top_p is not None else defaults.get("top_p", 1.0)),
            max_tokens=int(p.max_tokens or defaults.get("max_tokens", 256)),
            k=p.k, seed=p.seed, job=ctx.spec.public_id,
        )
        prompts = repo.prompts_to_sample(db, project.id, prompt_public_ids=p.prompt_ids,
                                         limit=p.limit, choice=p.prompts, model_version_id=mv.id)
        return _Plan(project.id, Model.of(mv), sampling, prompts)


def _store(
    ctx: JobContext, plan: _Plan, prompt_id: int, texts: list[str], report: QueueReport
) -> int:
    tag = ctx.spec.public_id
    with ctx.session() as db:
        if repo.has_completion_tagged(db, prompt_id, tag):
            return 0
        drafts = [(f"{tag}-{j}", text, plan.model, plan.sampling.record())
                  for j, text in enumerate(texts)]
        return store_completions(db, plan.project_id, prompt_id, drafts,
                                 ctx.settings.max_text_chars, report)


def run_sample(ctx: JobContext) -> dict[str, Any]:
    params = SampleParams.model_validate(ctx.params)
    plan = _plan(ctx, params)
    total = len(plan.prompts)
    if total == 0:
        return {"prompts": 0, "completions": 0, "items": 0, "model": plan.model.name,
                "note": "no prompts without completions were found"}
    ctx.progress(0, total, stage="loading", message=f"loading {plan.model.name}")
    generate = generator(ctx, plan.model, plan.sampling, batch_size=params.batch_size,
                         concurrency=params.concurrency)
    done = completions = made = 0
    report = QueueReport()
    for start in range(0, total, CHUNK_PROMPTS):
        ctx.check_stop({"prompts": done, "completions": completions, "items": made})
        chunk = plan.prompts[start:start + CHUNK_PROMPTS]
        texts = generate([messages for _, messages in chunk])
        for (prompt_id, _), samples in zip(chunk, texts, strict=True):
            made += _store(ctx, plan, prompt_id, samples, report)
            completions += len(samples)
        done += len(chunk)
        ctx.progress(done, total, stage="sampling",
                     metrics={"prompts": float(done), "completions": float(completions)})
    # Completions that made no work item (too few for a ranking, the odd one of a pair)
    # are counted by reason, so the admin sees why the queue did not grow.
    return {"prompts": done, "completions": completions, "items": made,
            "not_queued": report.as_dict()["not_queued"],
            "model": plan.model.name, "sampling": plan.sampling.record()}


def _local_model(ctx: JobContext, model_id: str) -> Model:
    with ctx.session() as db:
        return Model.of(registry.get(db, model_id))


def run_model_test(ctx: JobContext) -> dict[str, Any]:
    """One reply from a local model (the registry's test button)."""
    p = ModelTestParams.model_validate(ctx.params)
    reply = reply_local(ctx, _local_model(ctx, p.model_id),
                        [{"role": "user", "content": p.prompt}],
                        temperature=0.7, top_p=1.0, max_tokens=p.max_tokens)
    return {"reply": reply}


def run_suggest(ctx: JobContext) -> dict[str, Any]:
    """A draft reply to a demonstration task's conversation."""
    p = SuggestParams.model_validate(ctx.params)
    reply = reply_local(ctx, _local_model(ctx, p.model_id),
                        [m.model_dump() for m in p.messages],
                        temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens)
    return {"reply": reply[: ctx.settings.max_text_chars]}
