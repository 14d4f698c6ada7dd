"""The evaluation-sample job: one reply per prompt from each of two models, paired blind.

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

from app.errors import InvalidInput
from app.evaluations import repository as repo
from app.jobs import sampling
from app.jobs.context import JobContext
from app.models import Completion, ModelKind, ModelVersion

CHUNK_PROMPTS = 8


@dataclass(frozen=True)
class _Side:
    id: int
    public_id: str
    name: str


def a_first(seed: int, prompt_id: int) -> bool:
    """Whether model A's reply takes position 0 of this prompt's item; reproducible."""
    return random.Random(f"{seed}:{prompt_id}").random() < 0.5


def _generator_plan(project_id: int, mv: ModelVersion, settings: dict[str, Any]) -> sampling._Plan:
    return sampling._Plan(project_id, mv.id, mv.name, mv.kind, mv.path, mv.base_url,
                          mv.endpoint_model, mv.api_key, [], {**settings, "k": 1})


def _plan(ctx: JobContext) -> tuple[int, list[sampling._Plan], list[tuple[int, list[dict[str, str]]]]]:
    p = ctx.params
    settings = {"temperature": float(p["temperature"]), "top_p": float(p["top_p"]),
                "max_tokens": int(p["max_tokens"]), "seed": int(p["seed"]),
                "job": ctx.spec.public_id}
    with ctx.session() as db:
        project = repo.project(db, p["project_id"])
        if project is None:
            raise InvalidInput("The evaluation project no longer exists.")
        plans = []
        for key in ("model_a", "model_b"):
            mv = repo.model(db, p[key])
            if mv is None:
                raise InvalidInput(f"{key}: the model version no longer exists.")
            plans.append(_generator_plan(project.id, mv, settings))
        return project.id, plans, repo.prompts_to_sample(db, project.id)


def _store(ctx: JobContext, project_id: int, plans: list[sampling._Plan], prompt_id: int,
           texts: tuple[str, str]) -> int:
    from app.models import Project, Prompt
    from app.projects import items

    limit = ctx.settings.max_text_chars
    order = [0, 1] if a_first(int(ctx.params["seed"]), prompt_id) else [1, 0]
    with ctx.session() as db:
        project = db.get(Project, project_id)
        prompt = db.get(Prompt, prompt_id)
        if project is None or prompt is None or repo.has_completions(db, prompt_id):
            return 0
        rows = []
        for side in order:
            plan = plans[side]
            row = Completion(prompt_id=prompt_id, external_id=f"eval-{'ab'[side]}",
                             content=texts[side][:limit], model_version_id=plan.model_id,
                             model_name=plan.model_name, sampling=plan.sampling)
            db.add(row)
            # One flush each: the item pairs a prompt's completions in id order.
            db.flush()
            rows.append(row)
        return items.add_completions(db, project, prompt, rows)


def run(ctx: JobContext) -> dict[str, Any]:
    project_id, plans, prompts = _plan(ctx)
    names = {"model_a": plans[0].model_name, "model_b": plans[1].model_name}
    total = len(prompts)
    if total == 0:
        return {"prompts": 0, "items": 0, **names, "note": "every prompt already has its item"}
    ctx.progress(0, total, stage="loading", message=f"loading {names['model_a']} and {names['model_b']}")
    generators = [
        (sampling._local_generator if plan.kind == ModelKind.local else sampling._endpoint_generator)(ctx, plan)
        for plan in plans
    ]
    done = made = a_position0 = 0
    for start in range(0, total, CHUNK_PROMPTS):
        ctx.check_stop({"prompts": done, "items": made})
        chunk = prompts[start:start + CHUNK_PROMPTS]
        conversations = [messages for _, messages in chunk]
        replies_a, replies_b = (generate(conversations) for generate in generators)
        for (prompt_id, _), ra, rb in zip(chunk, replies_a, replies_b, strict=True):
            stored = _store(ctx, project_id, plans, prompt_id, (ra[0], rb[0]))
            made += stored
            a_position0 += stored if a_first(int(ctx.params["seed"]), prompt_id) else 0
        done += len(chunk)
        ctx.progress(done, total, stage="sampling", metrics={"prompts": float(done), "items": float(made)})
    return {"prompts": done, "items": made, **names, "model_a_shown_first": a_position0,
            "sampling": plans[0].sampling}
