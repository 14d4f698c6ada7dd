"""Queue a sample job after checking the project (one the caller may change) and its
sampler; a bad request is refused now, not discovered by the worker later."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import access
from app.errors import InvalidInput
from app.jobs import service as jobs
from app.labeling import items
from app.labeling.plans import QueueReport
from app.models import Completion, Job, JobKind, ModelVersion, Project, TaskKind, User
from app.registry import service as registry
from app.sampling import repository as repo
from app.sampling.generation import Model
from app.sampling.schemas import SampleJobIn, SampleParams


def submit(db: Session, actor: User, body: SampleJobIn) -> Job:
    params = body.params
    project = access.writable_project(db, actor, params.project_id)
    if project.task_kind == TaskKind.ranking and not project.k_min <= params.k <= project.k_max:
        raise InvalidInput(
            f"k: this ranking project shows {project.k_min} to {project.k_max} answers per "
            f"prompt; ask for that many completions.")
    sampler = sampler_of(db, project, params.model_id)
    if sampler.retired:
        raise InvalidInput(f"model_id: {sampler.name!r} is retired.")
    if params.from_project_id is not None:
        params = params.model_copy(update={"prompt_ids": _copied_prompts(db, actor, project, params)})
    # The job names the project by its public id, however the request named it.
    return jobs.enqueue(db, JobKind.sample, {**params.model_dump(mode="json"), "project_id": project.public_id},
                        actor=actor, project_id=project.id)


def _copied_prompts(db: Session, actor: User, project: Project, params: SampleParams) -> list[str]:
    """Prompts of another project, copied into this one for the new round (their ids)."""
    source = access.readable_project(db, actor, str(params.from_project_id))
    if source.id == project.id:
        raise InvalidInput("from_project_id: choose another project than this one.")
    copied = repo.copy_prompts(db, source.id, project.id, source.slug, params.limit)
    if not copied:
        raise InvalidInput(f"from_project_id: every prompt of {source.name!r} (not held out) "
                           "is already in this project.")
    return copied


def sampler_of(db: Session, project: Project, model_id: str | None) -> ModelVersion:
    """The model a sample job asks for, else the project's sampler."""
    if model_id is not None:
        return registry.get(db, model_id)
    if project.sampler_model_id is not None:
        return registry.by_id(db, project.sampler_model_id)
    raise InvalidInput("model_id: the project has no sampler model; choose one.")


def store_completions(
    db: Session, project_id: int, prompt_id: int,
    drafts: list[tuple[str, str, Model, dict[str, object]]], max_chars: int,
    report: QueueReport | None = None,
) -> int:
    """Store one prompt's new completions — (external id, text, model, sampling) each, in
    this order — and the work items they make; returns the number of items. Nothing
    when the project or the prompt is gone."""
    project = repo.project_by_id(db, project_id)
    prompt = repo.prompt_by_id(db, prompt_id)
    if project is None or prompt is None:
        return 0
    rows = [
        Completion(prompt_id=prompt_id, external_id=external_id, content=text[:max_chars],
                   model_version_id=model.id, model_name=model.name, sampling=sampling)
        for external_id, text, model, sampling in drafts
    ]
    repo.add_completions(db, rows)
    return items.add_completions(db, project, prompt, rows, report)
