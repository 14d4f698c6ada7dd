"""Blind pairwise evaluation of two model versions on a held-out prompt set.

Starting one creates an ``evaluation`` project holding copies of the chosen
prompts and queues one ``evaluation-sample`` job (app/evaluations/runner.py). The
job samples one reply per prompt from each model and makes one item per
prompt pairing them, with which model comes first drawn per item from the seed,
so a position says nothing about the model. Everything here happens in the
caller's unit of work: a refused request stores nothing.

The prompts must come from a project the caller may read (the projects rule:
admins every project, others the projects they are members of); any other id
is answered 404, as if it did not exist. The new project's members are the
source project's labelers, the labelers named in the request, and the engineer
who started it (so they can read the project they made).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import audit
from app.errors import InvalidInput
from app.evaluations import repository as repo
from app.evaluations.schemas import EvaluationIn
from app.jobs import service as jobs
from app.models import Job, JobKind, ModelVersion, Project, Role, TaskKind, User, utcnow
from app.projects import service as projects
from app.projects.schemas import ProjectCreate

GUIDELINES = (
    "Each task shows one prompt and two replies written by two different models. "
    "Choose the better reply, or say they are equally good or both bad. Which model "
    "wrote which reply is hidden, and the order is shuffled."
)


def _model(db: Session, public_id: str, field: str) -> ModelVersion:
    mv = repo.model(db, public_id)
    if mv is None:
        raise InvalidInput(f"{field}: no model version has the id {public_id!r}.",
                           details=[{"field": field, "message": "unknown model version"}])
    if mv.retired:
        raise InvalidInput(f"{field}: {mv.name!r} is retired; choose a version in use.",
                           details=[{"field": field, "message": "retired"}])
    return mv


def _source(db: Session, actor: User, body: EvaluationIn) -> tuple[Project, list[dict[str, object]]]:
    source = projects.get(db, actor, body.prompts.project_id)  # 404 unless readable
    prompts = repo.source_prompts(db, source.id, held_out_only=not body.prompts.all,
                                  limit=body.max_prompts)
    if not prompts:
        if body.prompts.all:
            message = f"The project {source.name!r} has no prompts; import some first."
        else:
            total = repo.count_prompts(db, source.id)
            message = (f"The project {source.name!r} has no held-out prompts (it has {total} in all). "
                       "Mark some as held out when importing them (\"held_out\": true), "
                       "or pass \"all\": true to evaluate on every prompt.")
        raise InvalidInput(message, details=[{"field": "prompts", "message": "no prompts"}])
    rows: list[dict[str, object]] = [
        # held_out stays true: an ordinary sample job on the new project must not
        # add completions to these prompts, and no training export may use them.
        {"external_id": p.external_id, "messages": p.messages, "category": p.category,
         "source": "evaluation", "batch": source.slug[:64], "held_out": True}
        for p in prompts
    ]
    return source, rows


def _members(db: Session, actor: User, source: Project, body: EvaluationIn) -> list[str]:
    labelers = [u.public_id for u in projects.members(db, source) if u.role == Role.labeler]
    creator = [actor.public_id] if actor.role != Role.admin else []
    return list(dict.fromkeys([*labelers, *body.labelers, *creator]))


def start(db: Session, actor: User, body: EvaluationIn) -> tuple[Project, Job, int]:
    """Create the evaluation project with its prompts and queue the sampling job;
    returns (project, job, number of prompts)."""
    a = _model(db, body.model_a, "model_a")
    b = _model(db, body.model_b, "model_b")
    if a.id == b.id:
        raise InvalidInput("model_a and model_b are the same model version; choose two different ones.")
    source, rows = _source(db, actor, body)
    name = body.name or f"Blind evaluation {utcnow():%Y-%m-%d %H:%M}"
    project = projects.create(db, actor, ProjectCreate(
        name=name, task_kind=TaskKind.evaluation, guidelines=GUIDELINES, overlap=body.overlap,
        sampling=body.sampling,
    ))
    repo.copy_prompts(db, project.id, rows)
    projects.set_members(db, actor, project, _members(db, actor, source, body))
    job = jobs.enqueue(db, JobKind.evaluation_sample, {
        "project_id": project.public_id,
        "model_a": a.public_id,
        "model_b": b.public_id,
        **body.sampling.model_dump(),
        "seed": body.seed,
        "concurrency": body.concurrency,
    }, actor=actor, project_id=project.id)
    audit.record(db, actor, "evaluation.create", project.slug, {
        "project": project.public_id, "job": job.public_id, "source": source.public_id,
        "model_a": a.name, "model_b": b.name, "prompts": len(rows), "all": body.prompts.all,
    })
    return project, job, len(rows)
