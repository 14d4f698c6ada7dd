"""The ``score-uncertainty`` job: a reward model scores every answer of a project's open
items, and each item keeps the margin between its two best scores (app/labeling/
active.py), which the "uncertainty" queue order reads.

Items are scored in chunks, each chunk's margins written in its own short transaction,
so a cancelled run keeps what it scored. Starting it checks the project and the model
now, not in the worker later. The reward model is imported in the job's child process
only (trainer/scoring.py).
"""

from __future__ import annotations

import statistics
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app import access, audit
from app.ai_labeling import repository as repo
from app.ai_labeling.schemas import PublicId
from app.errors import InvalidInput
from app.inputs import ProjectRef, RequestModel
from app.jobs import service as jobs
from app.jobs.context import JobContext
from app.labeling.active import score_margin
from app.models import Job, JobKind, ModelKind, TaskKind, User

CHUNK_ITEMS = 32


class ScoreIn(RequestModel):
    project_id: ProjectRef
    model_id: PublicId = Field(description="a reward model: a local folder of the registry")
    max_items: int = Field(default=100_000, ge=1, le=1_000_000)
    batch_size: int = Field(default=16, ge=1, le=256)


class ScoreParams(BaseModel):
    project_id: str
    model_id: str
    max_items: int
    batch_size: int


def submit(db: Session, actor: User, body: ScoreIn) -> Job:
    project = access.writable_project(db, actor, body.project_id)
    if project.task_kind not in (TaskKind.ranking, TaskKind.pairwise):
        raise InvalidInput("Uncertainty scores order ranking and pairwise projects only.")
    mv = repo.model_by_public_id(db, body.model_id)
    if mv is None or mv.kind != ModelKind.local or mv.retired:
        raise InvalidInput("model_id: choose a reward model registered as a local folder and in use.",
                           details=[{"field": "model_id", "message": "not a local model version in use"}])
    # The job names the project by its public id, however the request named it.
    job = jobs.enqueue(db, JobKind.score_uncertainty, {**body.model_dump(), "project_id": project.public_id}, actor=actor,
                       project_id=project.id)
    audit.record(db, actor, "project.score_uncertainty", project.slug, {"job": job.public_id, "model": mv.name})
    return job


def run(ctx: JobContext) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from trainer.reward_model import load_reward_model
    from trainer.scoring import freeze, score_conversations

    p = ScoreParams.model_validate(ctx.params)
    with ctx.session() as db:
        project = access.by_ref(db, access.writable(None), p.project_id)
        mv = repo.model_by_public_id(db, p.model_id)
        if project is None or mv is None or not mv.path:
            raise InvalidInput("The project or the reward model no longer exists.")
        project_id, path, name = project.id, mv.path, mv.name
        item_ids = repo.open_item_ids(db, project_id, p.max_items)
    ctx.progress(0, len(item_ids), stage="loading", message=f"loading {name}")
    model = freeze(load_reward_model(path))
    tokenizer = AutoTokenizer.from_pretrained(path)
    margins: list[float] = []
    for start in range(0, len(item_ids), CHUNK_ITEMS):
        ctx.check_stop({"items": len(margins)})
        with ctx.session() as db:
            chunk = repo.items(db, item_ids[start:start + CHUNK_ITEMS])
        flat = [(item.prompt, text) for item in chunk for _, text in item.completions]
        scores = score_conversations(model, tokenizer, [x for x, _ in flat], [y for _, y in flat],
                                     batch_size=p.batch_size)
        found: dict[int, float] = {}
        at = 0
        for item in chunk:
            found[item.item_id] = score_margin(scores[at:at + len(item.completions)])
            at += len(item.completions)
        with ctx.session() as db:
            repo.set_uncertainty(db, found)
        margins.extend(found.values())
        ctx.progress(len(margins), len(item_ids), stage="scoring")
    return {"items": len(margins), "model": name,
            "median_margin": statistics.median(margins) if margins else None}
