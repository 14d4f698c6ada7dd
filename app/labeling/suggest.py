"""The "suggest a draft" button of demonstration tasks: a reply from the project's sampler.

Two paths, because the web process never imports torch:

* **Endpoint sampler** (an OpenAI-compatible server): answered in the request,
  ``200 {"content": ...}``. The request's transaction is ended before the call,
  so SQLite's write lock is not held while the model thinks.
* **Local folder**: a short ``suggest`` job is queued for a worker and the
  answer is ``202 {"job_id", "status"}``; the page polls
  ``GET /assignments/{aid}/suggest/{job_id}`` until the draft is there (loading a
  135M model on a CPU takes ~25 s, longer than a request should block a server
  thread). A second click while a draft is on its way returns the same job, so
  impatient clicking cannot flood the workers. Run a worker for quick jobs beside
  the training one (``rankwise worker --kinds suggest,model-test``) so drafts do
  not wait behind a training run.

Only the labeler holding the task may ask, only while it is theirs and active,
and the poll answers only for that task: anything else is 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.inputs import RequestModel
from app.jobs import repository as jobs_repo
from app.jobs import service as jobs
from app.labeling import repository as repo
from app.labeling.kinds import kind_of
from app.models import (
    Assignment,
    AssignmentStatus,
    Job,
    JobKind,
    JobStatus,
    ModelKind,
    ModelVersion,
    Project,
    User,
)
from app.registry import service as registry
from app.registry.endpoint import ChatParams, EndpointError
from app.registry.safety import EndpointPolicy

NO_TASK = "No such task for you; ask for the next one."
# A draft is a starting point to edit, not a finished answer: cap its length so a
# sampler configured for long generations still answers quickly.
MAX_SUGGEST_TOKENS = 512
ENDPOINT_TIMEOUT_S = 30.0


class SamplerUnreachable(DomainError):
    status_code = 502
    code = "sampler_unavailable"


class TurnIn(RequestModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=100_000)


class SuggestIn(RequestModel):
    """The turns the labeler has written so far, before the reply to draft (multi-turn)."""

    turns: Annotated[list[TurnIn], Field(max_length=64)] = Field(default_factory=list)


class SuggestOut(BaseModel):
    content: str | None = None
    job_id: str | None = None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] = "succeeded"
    progress: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


def _context(db: Session, user: User, aid: str) -> tuple[Assignment, Project]:
    lease = repo.assignment_of_user(db, aid, user.id, lock=False)
    if lease is None:
        raise NotFound(NO_TASK)
    project = repo.project_by_id(db, lease.project_id)
    if not kind_of(project.task_kind).suggests:
        raise Conflict("Suggestions are only offered on demonstration tasks.")
    if lease.status != AssignmentStatus.active:
        raise Conflict(f"This task is {lease.status.value}; ask for the next one.")
    return lease, project


def _sampler(db: Session, project: Project) -> ModelVersion:
    if project.sampler_model_id is None:
        raise Conflict("This project has no sampler model, so there are no suggestions; "
                       "write the reply yourself.")
    mv = registry.by_id(db, project.sampler_model_id)
    if mv.retired:
        raise Conflict(f"The project's sampler {mv.name!r} is retired; ask an admin to choose "
                       "another, or write the reply yourself.")
    return mv


def _conversation(db: Session, lease: Assignment, body: SuggestIn) -> list[dict[str, str]]:
    item = repo.item(db, lease.item_id)
    prompt = repo.prompt(db, item.prompt_id) if item.prompt_id is not None else None
    if prompt is None:
        raise Conflict("This task has no prompt to reply to.")
    turns = [{"role": t.role, "content": t.content} for t in body.turns]
    # The draft answers the user: the written turns alternate from the first reply
    # (assistant, user, assistant, user, ...) and end with the user's turn.
    expected = ["assistant" if i % 2 == 0 else "user" for i in range(len(turns))]
    if [t["role"] for t in turns] != expected or len(turns) % 2:
        raise InvalidInput("turns: send the turns written before the reply to draft; "
                           "they must end with the user's turn.")
    return [*[{"role": m["role"], "content": m["content"]} for m in prompt.messages], *turns]


def _params(project: Project) -> ChatParams:
    s = project.sampling or {}
    return ChatParams(temperature=float(s.get("temperature", 0.7)),
                      top_p=float(s.get("top_p", 1.0)),
                      max_tokens=min(int(s.get("max_tokens", 256)), MAX_SUGGEST_TOKENS))


def request(db: Session, user: User, aid: str, body: SuggestIn, policy: EndpointPolicy) -> tuple[SuggestOut, bool]:
    """A draft now (endpoint) or a job to poll (local folder) → (answer, finished now)."""
    lease, project = _context(db, user, aid)
    mv = _sampler(db, project)
    messages = _conversation(db, lease, body)
    params = _params(project)
    if mv.kind == ModelKind.endpoint:
        client = registry.endpoint_client(mv, policy, max_concurrency=1, timeout=ENDPOINT_TIMEOUT_S)
        client.max_retries = 1
        db.commit()  # nothing written: release the transaction before the remote call
        try:
            reply = client.chat_many_sync([messages], params)[0]
        except EndpointError as exc:
            raise SamplerUnreachable(f"The sampler did not answer ({exc}); try again, or "
                                     "write the reply yourself.") from exc
        return SuggestOut(content=reply), True
    pending = _pending_job(db, user, aid)
    if pending is None:
        pending = jobs.enqueue(db, JobKind.suggest, {
            "assignment_id": aid, "model_id": mv.public_id, "messages": messages,
            "temperature": params.temperature, "top_p": params.top_p,
            "max_tokens": params.max_tokens}, actor=user, project_id=project.id)
    return _job_out(pending), False


def _pending_job(db: Session, user: User, aid: str) -> Job | None:
    for job in jobs_repo.recent_of_user(db, user.id, JobKind.suggest, limit=20):
        if job.params.get("assignment_id") == aid and job.status in (JobStatus.queued,
                                                                      JobStatus.running):
            return job
    return None


def poll(db: Session, user: User, aid: str, job_id: str) -> SuggestOut:
    """The state of a draft job; only for the labeler and task that asked for it."""
    job = jobs_repo.by_public_id(db, job_id)
    if (job is None or job.kind != JobKind.suggest or job.created_by != user.id
            or job.params.get("assignment_id") != aid):
        raise NotFound("No such suggestion for this task.")
    return _job_out(job)


def _job_out(job: Job) -> SuggestOut:
    content = job.result.get("reply") if job.status == JobStatus.succeeded else None
    error = None
    if job.status == JobStatus.failed:
        error = "The model could not write a draft; write the reply yourself."
    return SuggestOut(content=content, job_id=job.public_id, status=job.status.value,
                      progress={k: job.progress.get(k) for k in ("stage", "message")
                                if job.progress.get(k) is not None},
                      error=error)
