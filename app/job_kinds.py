"""Every kind of background job, in one table: what runs it and how it is started.

This is a composition root, like app/main.py is for routers: the queue
(app/jobs) knows no kind and imports no domain; each domain writes its runners
and its request checks; this module puts them together. ``rankwise worker``
hands :data:`RUNNERS` to the worker, and ``POST /api/v1/jobs`` — the one route
that accepts several kinds — is defined here, from :data:`JobRequest`.

Adding a kind: a member of :class:`app.models.JobKind`, a runner in its domain,
one line in :data:`KINDS`; if the API may start it, a request model (with
``kind: Literal[JobKind.x]``) in :data:`JobRequest` and its submit function.

Importing this module is cheap: runners import torch inside the child process
that runs them, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import Field
from sqlalchemy.orm import Session

from app.ai_labeling import constitutional
from app.ai_labeling import runner as ai_labeling
from app.ai_labeling import scoring as uncertainty
from app.deps import EngineerUser, SessionDep
from app.evaluations import runner as evaluations
from app.exports import runner as exports
from app.jobs import diagnostic
from app.jobs.context import Runner
from app.jobs.schemas import JobOut, job_out
from app.models import Job, JobKind, User
from app.openapi import errors
from app.sampling import runner as sampling
from app.sampling import service as sampling_service
from app.sampling.schemas import SampleJobIn
from app.training import runner as training
from app.training import service as training_service
from app.training.schemas import TrainJobIn

Submit = Callable[[Session, User, Any], Job]


@dataclass(frozen=True)
class Kind:
    run: Runner  # in the job's child process
    submit: Submit | None = None  # POST /api/v1/jobs; None: queued by its own domain only


KINDS: Mapping[JobKind, Kind] = {
    JobKind.train: Kind(training.run, training_service.submit),
    JobKind.sample: Kind(sampling.run_sample, sampling_service.submit),
    JobKind.export: Kind(exports.run, exports.submit),
    JobKind.diagnostic: Kind(diagnostic.run, diagnostic.submit),
    JobKind.evaluation_sample: Kind(evaluations.run),  # POST /api/v1/evaluations
    JobKind.model_test: Kind(sampling.run_model_test),  # the registry's test button
    JobKind.suggest: Kind(sampling.run_suggest),  # a labeler's "suggest a draft"
    JobKind.ai_label: Kind(ai_labeling.run),  # POST /api/v1/ai-labelers/{id}/runs
    JobKind.score_uncertainty: Kind(uncertainty.run),  # POST /api/v1/uncertainty-scores
    JobKind.constitutional: Kind(constitutional.run),  # POST /api/v1/constitutional-runs
}
RUNNERS: Mapping[str, Runner] = {kind.value: k.run for kind, k in KINDS.items()}

JobRequestBody = TrainJobIn | SampleJobIn | exports.ExportJobIn | diagnostic.DiagnosticJobIn
JobRequest = Annotated[JobRequestBody, Field(discriminator="kind")]


def submit(db: Session, actor: User, request: JobRequestBody) -> Job:
    """Check the request against everything it names, then queue it."""
    start = KINDS[JobKind(request.kind)].submit
    assert start is not None, f"{request.kind} is in JobRequest but has no submit function"
    return start(db, actor, request)


router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.post("", status_code=201, responses=errors(404))
def start_job(body: Annotated[JobRequest, Body()], db: SessionDep, user: EngineerUser) -> JobOut:
    """Queue a train, sample, export or diagnostic job; a worker picks it up. The body's
    ``kind`` chooses the shape of ``params``."""
    return job_out(submit(db, user, body))
