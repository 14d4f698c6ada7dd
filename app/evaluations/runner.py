"""The ``evaluation-sample`` job: one reply per prompt from each of two models, paired blind.

Queued by app/evaluations/service.py on a fresh ``evaluation`` project. For each
prompt the two replies and their item commit together in one short
transaction, so a cancelled or crashed job keeps whole items only, and a
re-run skips every prompt that already has its item.

Which model takes canonical position 0 ("a" in exports) is drawn per item from
``seed`` and the prompt, so the position carries no information about the model;
labelers additionally see their own shuffled order, and never model names.
Both models are loaded at once when both are local folders.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app import access
from app.errors import InvalidInput
from app.evaluations import repository as repo
from app.jobs.context import JobContext
from app.registry import service as registry
from app.sampling.generation import Model, Sampling, generator
from app.sampling.service import store_completions

CHUNK_PROMPTS = 8


class EvaluationSampleParams(BaseModel):
    """As queued by app/evaluations/service.py."""

    project_id: str
    model_a: str
    model_b: str
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    concurrency: int = 4


@dataclass(frozen=True)
class _Plan:
    project_id: int
    models: tuple[Model, Model]  # model_a, model_b
    sampling: Sampling
    prompts: list[tuple[int, list[dict[str, str]]]]


def a_first(seed: int, prompt_id: int) -> bool:
    """Whether model A's reply takes position 0 of this prompt's item; reproducible."""
    return random.Random(f"{seed}:{prompt_id}").random() < 0.5


def _plan(ctx: JobContext, p: EvaluationSampleParams) -> _Plan:
    sampling = Sampling(temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens,
                        k=1, seed=p.seed, job=ctx.spec.public_id)
    with ctx.session() as db:
        project = access.by_ref(db, access.writable(None), p.project_id)
        if project is None:
            raise InvalidInput("The evaluation project no longer exists.")
        a, b = (Model.of(registry.get(db, ref)) for ref in (p.model_a, p.model_b))
        return _Plan(project.id, (a, b), sampling, repo.prompts_to_sample(db, project.id))


def _store(ctx: JobContext, plan: _Plan, seed: int, prompt_id: int, texts: tuple[str, str]) -> int:
    order = (0, 1) if a_first(seed, prompt_id) else (1, 0)
    record = plan.sampling.record()
    drafts = [(f"eval-{'ab'[side]}", texts[side], plan.models[side], record) for side in order]
    with ctx.session() as db:
        if repo.has_completions(db, prompt_id):
            return 0
        return store_completions(db, plan.project_id, prompt_id, drafts,
                                 ctx.settings.max_text_chars)


def run(ctx: JobContext) -> dict[str, Any]:
    params = EvaluationSampleParams.model_validate(ctx.params)
    plan = _plan(ctx, params)
    names = {"model_a": plan.models[0].name, "model_b": plan.models[1].name}
    total = len(plan.prompts)
    if total == 0:
        return {"prompts": 0, "items": 0, **names, "note": "every prompt already has its item"}
    ctx.progress(0, total, stage="loading",
                 message=f"loading {names['model_a']} and {names['model_b']}")
    generators = [generator(ctx, model, plan.sampling, concurrency=params.concurrency)
                  for model in plan.models]
    done = made = a_position0 = 0
    for start in range(0, total, CHUNK_PROMPTS):
        ctx.check_stop({"prompts": done, "items": made})
        chunk = plan.prompts[start:start + CHUNK_PROMPTS]
        conversations = [messages for _, messages in chunk]
        replies_a, replies_b = (generate(conversations) for generate in generators)
        for (prompt_id, _), ra, rb in zip(chunk, replies_a, replies_b, strict=True):
            stored = _store(ctx, plan, params.seed, prompt_id, (ra[0], rb[0]))
            made += stored
            a_position0 += stored if a_first(params.seed, prompt_id) else 0
        done += len(chunk)
        ctx.progress(done, total, stage="sampling",
                     metrics={"prompts": float(done), "items": float(made)})
    return {"prompts": done, "items": made, **names, "model_a_shown_first": a_position0,
            "sampling": plan.sampling.record()}
