"""AI labelers: attach a model version to a project as a judge, edit its prompt and its
versioned constitution, start runs, and store its judgements.

An AI labeler judges as a labeler account of kind ``ai`` that can never log in (no
usable password, inactive) and is not a project member, so the queue never leases it
an item and it takes no slot a person needs: its judgements sit beside the people's on
the same items (which is what makes its agreement with them measurable).

Its judgements go through the task kind's own parse and validation
(app/labeling/kinds) into the kind's table, exactly like a person's; the judgement's
``UNIQUE(item_id, user_id)`` keeps one per item. ``AiJudgement`` beside it keeps the
provenance. Everything here runs in the caller's unit of work: services flush.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app import access, audit
from app.ai_labeling import repository as repo
from app.ai_labeling.judge import DEFAULT_TEMPLATE
from app.ai_labeling.schemas import (
    AiLabelerIn,
    AiLabelerOut,
    AiLabelerUpdate,
    AiRunIn,
    ConstitutionOut,
    ProvenanceOut,
)
from app.errors import Conflict, InvalidInput, NotFound
from app.jobs import service as jobs
from app.labeling import repository as labeling_repo
from app.labeling.kinds import kind_of
from app.labeling.kinds.base import Recording, Task
from app.models import (
    AiConstitution,
    AiJudgement,
    AiLabeler,
    Assignment,
    Job,
    JobKind,
    ModelVersion,
    Project,
    Role,
    TaskKind,
    User,
    UserKind,
    new_public_id,
    utcnow,
)

JUDGED_KINDS = frozenset({TaskKind.ranking, TaskKind.pairwise})
NO_LOGIN = "!ai-labeler: no password"  # not an Argon2 hash: every login attempt fails
NOT_FOUND = "No such AI labeler."


def _model(db: Session, public_id: str) -> ModelVersion:
    mv = repo.model_by_public_id(db, public_id)
    if mv is None:
        raise InvalidInput(f"model_id: no model version has the id {public_id!r}.",
                           details=[{"field": "model_id", "message": "unknown model version"}])
    if mv.retired:
        raise InvalidInput(f"model_id: {mv.name!r} is retired; choose a version in use.",
                           details=[{"field": "model_id", "message": "retired"}])
    return mv


def get(db: Session, public_id: str) -> AiLabeler:
    found = repo.labeler_by_public_id(db, public_id)
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def _check_project(project: Project) -> None:
    if project.task_kind not in JUDGED_KINDS:
        raise InvalidInput(
            f"An AI labeler judges ranking or pairwise projects; {project.name!r} is a "
            f"{project.task_kind.value.replace('_', ' ')} project.",
            details=[{"field": "project_id", "message": "not a ranking or pairwise project"}])


def create(db: Session, actor: User, body: AiLabelerIn) -> AiLabeler:
    project = access.writable_project(db, actor, body.project_id)
    _check_project(project)
    mv = _model(db, body.model_id)
    public_id = new_public_id()
    name = body.name or f"AI: {mv.name}"[:100]
    account = User(email=f"ai-{public_id}@ai-labelers.invalid", display_name=name, password_hash=NO_LOGIN,
                   role=Role.labeler, is_active=False, kind=UserKind.ai)
    repo.add(db, account)
    principles = list(body.constitution)
    labeler = AiLabeler(
        public_id=public_id, user_id=account.id, project_id=project.id, model_version_id=mv.id,
        template=body.template or DEFAULT_TEMPLATE, constitution=principles,
        constitution_version=1 if principles else 0, both_orders=body.both_orders, rationale=body.rationale,
        ranking_method=body.ranking_method, max_tokens=body.max_tokens, active=True,
    )
    repo.add(db, labeler)
    if principles:
        repo.add(db, AiConstitution(ai_labeler_id=labeler.id, version=1, principles=principles,
                                    created_by=actor.id))
    audit.record(db, actor, "ai_labeler.create", project.slug, {
        "ai_labeler": labeler.public_id, "model": mv.name, "project": project.public_id})
    return labeler


def update(db: Session, actor: User, public_id: str, body: AiLabelerUpdate) -> AiLabeler:
    labeler = get(db, public_id)
    changes: dict[str, Any] = {}
    for name in ("template", "both_orders", "rationale", "ranking_method", "max_tokens", "active"):
        value = getattr(body, name)
        if value is not None and value != getattr(labeler, name):
            changes[name] = True
            setattr(labeler, name, value)
    if body.constitution is not None and list(body.constitution) != list(labeler.constitution):
        labeler.constitution_version += 1
        labeler.constitution = list(body.constitution)
        repo.add(db, AiConstitution(ai_labeler_id=labeler.id, version=labeler.constitution_version,
                                    principles=list(body.constitution), created_by=actor.id))
        changes["constitution_version"] = labeler.constitution_version
    db.flush()
    if changes:
        audit.record(db, actor, "ai_labeler.update", labeler.public_id, changes)
    return labeler


def constitutions(db: Session, public_id: str) -> list[ConstitutionOut]:
    labeler = get(db, public_id)
    return [ConstitutionOut(version=c.version, principles=list(c.principles), created_at=c.created_at)
            for c in repo.constitutions(db, labeler.id)]


def out(db: Session, labeler: AiLabeler) -> AiLabelerOut:
    account = repo.user(db, labeler.user_id)
    mv = repo.model_by_id(db, labeler.model_version_id)
    project = labeling_repo.project_by_id(db, labeler.project_id)
    return AiLabelerOut(
        id=labeler.public_id, project=project.public_id, user_id=account.public_id, name=account.display_name,
        model={"id": mv.public_id, "name": mv.name, "kind": mv.kind.value}, template=labeler.template,
        constitution=list(labeler.constitution), constitution_version=labeler.constitution_version,
        both_orders=labeler.both_orders, rationale=labeler.rationale, ranking_method=labeler.ranking_method,
        max_tokens=labeler.max_tokens, active=labeler.active, judgements=repo.judged_count(db, labeler.id),
        created_at=labeler.created_at,
    )


def of_project(db: Session, actor: User, project_ref: str) -> list[AiLabeler]:
    project = access.readable_project(db, actor, project_ref)
    return [a for a, _, _ in repo.labelers_of(db, project.id)]


def start_run(db: Session, actor: User, public_id: str, body: AiRunIn) -> Job:
    labeler = get(db, public_id)
    if not labeler.active:
        raise Conflict("This AI labeler is switched off; switch it on before starting a run.")
    project = labeling_repo.project_by_id(db, labeler.project_id)
    if project.archived:
        raise Conflict("The project is archived; it takes no more judgements.")
    mv = repo.model_by_id(db, labeler.model_version_id)
    if mv.retired:
        raise InvalidInput(f"The judge {mv.name!r} is retired; attach a model version in use.")
    job = jobs.enqueue(db, JobKind.ai_label, {"ai_labeler_id": labeler.public_id, **body.model_dump()},
                       actor=actor, project_id=project.id)
    audit.record(db, actor, "ai_labeler.run", labeler.public_id, {"job": job.public_id, **body.model_dump()})
    return job


def provenance(db: Session, judgement_public_id: str) -> ProvenanceOut:
    row = repo.provenance(db, judgement_public_id)
    if row is None:
        raise NotFound("No AI judgement has this id (a person's judgement has no AI provenance).")
    labeler = repo.labeler_by_id(db, row.ai_labeler_id)
    return ProvenanceOut(
        judgement_id=row.judgement_public_id, ai_labeler=labeler.public_id if labeler else "",
        model=row.model_name, constitution_version=row.constitution_version, method=row.method, p_a=row.p_a,
        calls=list(row.calls), job=row.job_public_id, created_at=row.created_at,
    )


# --- storing one AI judgement -------------------------------------------------------------


def record(
    db: Session,
    labeler: AiLabeler,
    project: Project,
    item_id: int,
    category: str | None,
    shown: list[str],
    body: Mapping[str, Any],
    provenance: Mapping[str, Any],
    max_chars: int,
) -> str:
    """Validate ``body`` as the project's task kind would a person's answer, store it under
    the AI account with its provenance; returns the judgement's public id. 422 (nothing
    stored) when the answer does not pass."""
    kind = kind_of(project.task_kind)
    parsed = kind.parse(body, shown)
    answer = kind.validate(parsed, Task(project, shown, category, max_chars))
    public_id = new_public_id()
    now = utcnow()
    # The judgement hangs off no lease (an AI labeler takes no slot); the kinds read only
    # the item id from it.
    lease = Assignment(item_id=item_id, user_id=labeler.user_id, project_id=project.id, shown_order=shown)
    rec = Recording(db, project, lease, public_id)
    values: dict[str, Any] = {
        "public_id": public_id, "item_id": item_id, "user_id": labeler.user_id, "project_id": project.id,
        "idempotency_key": parsed.idempotency_key, "body_hash": kind.fingerprint(parsed),
        "seconds": parsed.seconds, "shown_order": shown, "created_at": now, **kind.columns(rec, answer),
    }
    kind.after_insert(rec, labeling_repo.insert_judgement(db, kind.judgement_model, values), answer)
    repo.add(db, AiJudgement(
        ai_labeler_id=labeler.id, project_id=project.id, item_id=item_id, judgement_public_id=public_id,
        job_public_id=provenance.get("job"), model_name=str(provenance["model"]),
        constitution_version=labeler.constitution_version, method=str(provenance["method"]),
        p_a=provenance.get("p_a"), calls=list(provenance.get("calls", [])), created_at=now,
    ))
    return public_id
