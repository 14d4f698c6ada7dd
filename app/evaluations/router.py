"""The blind evaluation API (engineers and admins): start one, list them, read who won.

Labelers and reviewers get 403: results name the models, which would unblind them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import EngineerUser, SessionDep
from app.evaluations import service
from app.evaluations.schemas import (
    EvaluationIn,
    EvaluationOut,
    EvaluationSummaryOut,
    LabelerOut,
    ResultsOut,
)
from app.inputs import ProjectPath, ProjectRef
from app.openapi import errors

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])

Reference = Annotated[str | None, Query(max_length=120, description="the model fixed at 1000 "
                                        "(default: the oldest model version compared)")]


@router.post("", status_code=201, responses=errors(404))
def start_evaluation(body: EvaluationIn, db: SessionDep, user: EngineerUser) -> EvaluationOut:
    """Create a blind pairwise evaluation project and queue the job that samples both models
    (404 when the prompts' project is not one you may read)."""
    project, job, prompts = service.start(db, user, body)
    return EvaluationOut(project_id=project.public_id, project_slug=project.slug, name=project.name,
                         job_id=job.public_id, prompts=prompts, model_a=body.model_a,
                         model_b=body.model_b)


@router.get("")
def list_evaluations(
    db: SessionDep, user: EngineerUser,
    include_archived: Annotated[bool, Query(description="also archived evaluations")] = False,
) -> list[EvaluationSummaryOut]:
    """The evaluation projects you may read, newest first, with their sampling job."""
    return service.list_evaluations(db, user, include_archived)


@router.get("/labelers")
def list_labelers(db: SessionDep, user: EngineerUser) -> list[LabelerOut]:
    """The active labelers an evaluation may be assigned to."""
    return service.labelers(db)


@router.get("/leaderboard", responses=errors(404))
def leaderboard(
    db: SessionDep, user: EngineerUser, reference: Reference = None,
    project: Annotated[list[ProjectRef] | None, Query(description="evaluation projects (ids or short names), repeated "
                                                     "(default: every one you may read)")] = None,
) -> ResultsOut:
    """Bradley–Terry ratings, head-to-head win rates and position bias across evaluations
    (404 when a named project is no evaluation you may read)."""
    return service.leaderboard(db, user, project, reference)


@router.get("/{pid}")
def get_evaluation(pid: ProjectPath, db: SessionDep, user: EngineerUser) -> EvaluationSummaryOut:
    """One evaluation: its models, items, judgements and sampling job."""
    return service.summary(db, user, pid)


@router.get("/{pid}/results")
def results(pid: ProjectPath, db: SessionDep, user: EngineerUser, reference: Reference = None) -> ResultsOut:
    """Who won one evaluation: ratings, win rates with intervals, position bias, in words."""
    return service.results(db, user, pid, reference)
