"""The blind evaluation API (engineers and admins)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import EngineerUser, SessionDep
from app.evaluations import service
from app.evaluations.schemas import EvaluationIn, EvaluationOut

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])


@router.post("", status_code=201)
def start_evaluation(body: EvaluationIn, db: SessionDep, user: EngineerUser) -> EvaluationOut:
    """Create a blind pairwise evaluation project and queue the job that samples both models."""
    project, job, prompts = service.start(db, user, body)
    return EvaluationOut(project_id=project.public_id, project_slug=project.slug, name=project.name,
                         job_id=job.public_id, prompts=prompts, model_a=body.model_a,
                         model_b=body.model_b)
