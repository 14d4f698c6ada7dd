"""The AI-labeling API (admins): attach a judge to a project, edit it, run it, read its
judgements' provenance and its agreement with the people."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.ai_labeling import agreement, constitutional, scoring, service
from app.ai_labeling.schemas import (
    AgreementOut,
    AiLabelerIn,
    AiLabelerList,
    AiLabelerOut,
    AiLabelerUpdate,
    AiRunIn,
    ConstitutionOut,
    ProvenanceOut,
)
from app.deps import AdminUser, SessionDep
from app.inputs import PathId
from app.jobs.schemas import JobOut, job_out
from app.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["ai labelers"])
ProjectQuery = Annotated[str, Query(min_length=1, max_length=64, description="the project's id or short name (slug)")]


@router.post("/ai-labelers", status_code=201, responses=errors(404, 422))
def create_ai_labeler(body: AiLabelerIn, db: SessionDep, user: AdminUser) -> AiLabelerOut:
    """Attach a model version to a ranking or pairwise project as an AI labeler."""
    return service.out(db, service.create(db, user, body))


@router.get("/ai-labelers", responses=errors(404))
def list_ai_labelers(project: ProjectQuery, db: SessionDep, user: AdminUser) -> AiLabelerList:
    """The project's AI labelers."""
    return AiLabelerList(items=[service.out(db, a) for a in service.of_project(db, user, project)])


@router.get("/ai-labelers/{labeler_id}", responses=errors(404))
def get_ai_labeler(labeler_id: PathId, db: SessionDep, user: AdminUser) -> AiLabelerOut:
    """One AI labeler with its prompt and current constitution."""
    return service.out(db, service.get(db, labeler_id))


@router.patch("/ai-labelers/{labeler_id}", responses=errors(404, 422))
def update_ai_labeler(labeler_id: PathId, body: AiLabelerUpdate, db: SessionDep, user: AdminUser) -> AiLabelerOut:
    """Edit the prompt or the options; a changed constitution becomes a new version."""
    return service.out(db, service.update(db, user, labeler_id, body))


@router.get("/ai-labelers/{labeler_id}/constitutions", responses=errors(404))
def list_constitutions(labeler_id: PathId, db: SessionDep, user: AdminUser) -> list[ConstitutionOut]:
    """Every version of the AI labeler's principles, oldest first."""
    return service.constitutions(db, labeler_id)


@router.post("/ai-labelers/{labeler_id}/runs", status_code=201, responses=errors(404, 409, 422))
def start_run(labeler_id: PathId, body: AiRunIn, db: SessionDep, user: AdminUser) -> JobOut:
    """Queue an ``ai-label`` job: the judge labels items it has not judged yet, within the budget."""
    return job_out(service.start_run(db, user, labeler_id, body))


@router.get("/ai-labelers/{labeler_id}/agreement", responses=errors(404))
def ai_agreement(labeler_id: PathId, db: SessionDep, user: AdminUser) -> AgreementOut:
    """The AI labeler's agreement with the people on the items both judged, with 95 % intervals."""
    return agreement.of_labeler(db, service.get(db, labeler_id))


@router.get("/ai-judgements/{judgement_id}", responses=errors(404))
def ai_judgement(judgement_id: PathId, db: SessionDep, user: AdminUser) -> ProvenanceOut:
    """How an AI judgement was made: the judge, the prompts sent, the raw replies."""
    return service.provenance(db, judgement_id)


@router.post("/uncertainty-scores", status_code=201, responses=errors(404, 422))
def score_uncertainty(body: scoring.ScoreIn, db: SessionDep, user: AdminUser) -> JobOut:
    """Queue a ``score-uncertainty`` job: a reward model scores the open items' answers, and
    the "uncertainty" queue order hands out the least certain items first."""
    return job_out(scoring.submit(db, user, body))


@router.post("/constitutional-runs", status_code=201, responses=errors(404, 422))
def start_constitutional(body: constitutional.ConstitutionalIn, db: SessionDep, user: AdminUser) -> JobOut:
    """Queue a ``constitutional`` job: the model answers a demonstration project's prompts,
    critiques and revises each against a principle, and offers the revisions to people
    (``mode: candidates``) or exports them as AI-written SFT data (``mode: export``)."""
    return job_out(constitutional.submit(db, user, body))
