"""The labeling API: the queue, submissions, progress and the judgement browser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import PlainValidator
from sqlalchemy.orm import Session

from app.deps import AdminUser, CurrentUser, SessionDep, SettingsDep, UserWorkDep
from app.inputs import DateTime, ProjectPath
from app.labeling import service
from app.labeling import suggest as suggestion
from app.labeling.kinds import SUBMIT_BODIES
from app.labeling.schemas import (
    JudgementOut,
    JudgementPage,
    MyProjectOut,
    ProgressOut,
    RenewOut,
    SubmitOut,
    TaskOut,
)
from app.models import User
from app.openapi import errors
from app.registry.safety import EndpointPolicy

router = APIRouter(prefix="/api/v1", tags=["labeling"])

PublicId = Annotated[str, Path(min_length=1, max_length=32)]


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("the answer must be a JSON object")
    return value


# The body is checked against the schema of the assignment's task kind once the
# assignment is read (app/labeling/kinds/); the document shows the kinds' schemas.
SubmitBody = Annotated[
    dict[str, Any], PlainValidator(_json_object, json_schema_input_type=SUBMIT_BODIES), Body()
]


def _limit_submits(request: Request, user_id: int) -> None:
    request.app.state.submit_limiter.hit(f"submit:{user_id}", "submissions")


# The queue and submit routes are the hot path: async, with their whole database work
# (session, authentication, service, commit) in one thread-pool hop (app/deps.py, UserWork).


@router.post("/projects/{pid}/next", response_model=TaskOut,
             responses={204: {"description": "nothing left for you"}, **errors(409)})
async def next_task(pid: ProjectPath, run: UserWorkDep) -> TaskOut | Response:
    """Your current task on the project, or a newly leased one; 204 when nothing is left."""
    task = await run(lambda db, user: service.next_task(db, user, pid))
    if task is None:
        return Response(status_code=204)
    return task


@router.post("/assignments/{aid}/submit", status_code=201, response_model_exclude_unset=True,
             responses=errors(409, 410, 429))
async def submit(
    aid: PublicId,
    body: SubmitBody,
    request: Request,
    response: Response,
    run: UserWorkDep,
    then_next: Annotated[bool, Query(alias="next")] = False,
) -> SubmitOut:
    """Store your answer once; the same idempotency key again replays the first answer (a
    different answer under a used key is refused). The body is the schema of the task's
    kind. With ``?next=true`` the answer also carries your next task (``next``, null when
    none)."""
    settings = request.app.state.settings

    def work(db: Session, user: User) -> service.Submitted:
        _limit_submits(request, user.id)
        return service.submit(db, user, aid, body, settings, then_next=then_next)

    result = await run(work)
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return result.answer


@router.post("/assignments/{aid}/renew", responses=errors(409, 410, 429))
async def renew(aid: PublicId, request: Request, run: UserWorkDep) -> RenewOut:
    """Keep your task while you work on it: the lease runs the project's lease time from
    now, up to a maximum hold (4 hours, or the lease time if longer) after it was given.
    410 if it ran out and someone else took it; 409 if it was submitted or skipped."""

    def work(db: Session, user: User) -> RenewOut:
        request.app.state.submit_limiter.hit(f"renew:{user.id}", "renewals")
        return service.renew(db, user, aid)

    return await run(work)


@router.post("/assignments/{aid}/skip", status_code=204, responses=errors(409, 429))
def skip(aid: PublicId, request: Request, db: SessionDep, user: CurrentUser) -> None:
    """Give the task back; it is never offered to you again."""
    _limit_submits(request, user.id)
    service.skip(db, user, aid)


@router.post("/assignments/{aid}/suggest",
             responses={202: {"description": "a draft job to poll"}, **errors(409, 429, 502)})
def suggest(
    aid: PublicId, request: Request, response: Response, db: SessionDep, user: CurrentUser,
    settings: SettingsDep, body: suggestion.SuggestIn | None = None,
) -> suggestion.SuggestOut:
    """A model-written draft reply to edit: at once from an endpoint sampler, or 202 with a
    job to poll when the sampler is a local model (app/labeling/suggest.py)."""
    request.app.state.submit_limiter.hit(f"suggest:{user.id}", "suggestions")
    out, done = suggestion.request(db, user, aid, body or suggestion.SuggestIn(), EndpointPolicy.of(settings))
    if not done:
        response.status_code = 202
    return out


@router.get("/assignments/{aid}/suggest/{job_id}")
def suggest_status(aid: PublicId, job_id: PublicId, db: SessionDep, user: CurrentUser) -> suggestion.SuggestOut:
    """The draft job of a suggest that answered 202: its status, then the draft."""
    return suggestion.poll(db, user, aid, job_id)


@router.get("/me/projects")
def my_projects(db: SessionDep, user: CurrentUser) -> list[MyProjectOut]:
    """The projects you label for, with your counts."""
    return service.my_projects(db, user)


@router.get("/projects/{pid}/progress")
def progress(pid: ProjectPath, db: SessionDep, user: CurrentUser) -> ProgressOut:
    """Admins: the whole project. Labelers: only their own numbers."""
    return service.project_progress(db, user, pid)


@router.get("/projects/{pid}/judgements")
def browse(
    pid: ProjectPath,
    db: SessionDep,
    admin: AdminUser,
    labeler: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    since: DateTime | None = None,
    until: DateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> JudgementPage:
    """The project's judgements, newest first, a page at a time."""
    return service.browse(
        db, admin, pid, labeler=labeler, kind=kind, since=_utc(since), until=_utc(until), limit=limit, cursor=cursor
    )


@router.get("/judgements/{jid}")
def judgement(jid: PublicId, db: SessionDep, user: CurrentUser) -> JudgementOut:
    """One judgement exactly as the labeler saw it (admins, or the labeler who made it)."""
    return service.judgement_detail(db, user, jid)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
