"""Projects: create, change, archive, members. Every admin action is audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from app import access, audit
from app.errors import Conflict, InvalidInput
from app.labeling import items
from app.models import ModelVersion, Project, TaskKind, User
from app.projects import repository as repo
from app.projects.schemas import ProjectCreate, ProjectUpdate
from app.users import repository as users_repo


def list_projects(db: Session, actor: User, include_archived: bool = False) -> list[Project]:
    return repo.list_for(db, actor, include_archived)


def get(db: Session, actor: User | None, ref: str) -> Project:
    """The project named by public id or slug, if the actor may read it (else 404)."""
    return access.readable_project(db, actor, ref)


def get_writable(db: Session, actor: User | None, ref: str) -> Project:
    """The project named by public id or slug, if the actor may change it (else 404)."""
    return access.writable_project(db, actor, ref)


def sampler_public_id(db: Session, project: Project) -> str | None:
    return repo.model_public_id(db, project.sampler_model_id)


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:56].strip("-")
    return slug or "project"


def _free_slug(db: Session, wanted: str | None, name: str) -> str:
    if wanted is not None:
        if repo.by_slug(db, wanted) is not None:
            raise Conflict(f"The slug {wanted!r} is taken; choose another or leave it out.")
        return wanted
    base = _slugify(name)
    taken = repo.slugs_starting(db, base)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _sampler(db: Session, public_id: str | None) -> ModelVersion | None:
    if public_id is None:
        return None
    model = repo.model_by_public_id(db, public_id)
    if model is None or model.retired:
        raise InvalidInput(
            "sampler_model_id: no registered (non-retired) model version has this id.",
            details=[{"field": "sampler_model_id", "message": "unknown model version"}],
        )
    return model


def create(db: Session, actor: User | None, body: ProjectCreate) -> Project:
    sampler = _sampler(db, body.sampler_model_id)
    values = body.model_dump(exclude={"slug", "sampler_model_id", "sampling"})
    project = Project(
        **values,
        slug=_free_slug(db, body.slug, body.name),
        sampler_model_id=sampler.id if sampler else None,
        sampling=body.sampling.model_dump(),
    )
    db.add(project)
    db.flush()
    made = items.ensure_prompt_writing_items(db, project)
    audit.record(
        db, actor, "project.create", project.slug,
        {"project": project.public_id, "task_kind": project.task_kind.value, "items": made},
    )
    return project


def update(db: Session, actor: User, project: Project, body: ProjectUpdate) -> Project:
    fields = body.model_dump(exclude_unset=True)
    k_min = fields.get("k_min") or project.k_min
    k_max = fields.get("k_max") or project.k_max
    if k_min > k_max:
        raise InvalidInput(
            f"k_min ({k_min}) must not be larger than k_max ({k_max}).",
            details=[{"field": "k_min", "message": "larger than k_max"}],
        )
    changes: dict[str, Any] = {}
    if "sampler_model_id" in fields:
        sampler = _sampler(db, fields.pop("sampler_model_id"))
        new_id = sampler.id if sampler else None
        if new_id != project.sampler_model_id:
            changes["sampler_model_id"] = sampler.public_id if sampler else None
            project.sampler_model_id = new_id
    for name, value in fields.items():
        if value is None and name != "sampler_model_id":
            continue  # null means "leave as is" for required settings
        if getattr(project, name) != value:
            changes[name] = value if name != "guidelines" else f"{len(value)} characters"
            setattr(project, name, value)
    db.flush()
    made = 0
    if {"categories", "prompts_per_category"} & changes.keys():
        made += items.ensure_prompt_writing_items(db, project)
    if {"k_min", "k_max"} & changes.keys() and project.task_kind == TaskKind.ranking:
        made += items.backfill(db, project)
    if changes:
        audit.record(
            db, actor, "project.update", project.slug,
            {"project": project.public_id, "changes": changes, "items": made},
        )
    return project


def archive(db: Session, actor: User, project: Project) -> None:
    if not project.archived:
        project.archived = True
        db.flush()
        audit.record(db, actor, "project.archive", project.slug, {"project": project.public_id})


def members(db: Session, project: Project) -> list[User]:
    return repo.members(db, project.id)


def set_members(db: Session, actor: User, project: Project, user_ids: list[str]) -> list[User]:
    wanted = list(dict.fromkeys(user_ids))
    users = users_repo.by_public_ids(db, wanted)
    unknown = sorted(set(wanted) - {u.public_id for u in users})
    if unknown:
        raise InvalidInput(
            f"No user has the id {', '.join(unknown[:10])}; nothing was changed.",
            details=[{"field": "user_ids", "message": f"unknown user id {uid}"} for uid in unknown[:100]],
        )
    repo.replace_members(db, project.id, (u.id for u in users))
    audit.record(
        db, actor, "project.members", project.slug,
        {"project": project.public_id, "members": sorted(u.public_id for u in users)},
    )
    return repo.members(db, project.id)
