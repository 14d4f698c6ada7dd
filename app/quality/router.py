"""The quality API: figures, settings, standing, gold items, review, history, corrections.

Admins: everything. Reviewers: figures and review of the projects they are members of.
Labelers: their own figures, history and corrections — never anyone else's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response

from app.deps import AdminUser, CurrentUser, ReviewerUser, SessionDep, SettingsDep
from app.imports.router import UploadedFile, answer, upload_body
from app.imports.schemas import ImportReportOut
from app.inputs import ProjectPath
from app.labeling.router import SubmitBody
from app.openapi import errors
from app.quality import gold_import, review, service
from app.quality.schemas import (
    CorrectionOut,
    GoldIn,
    GoldItemOut,
    HistoryOut,
    LabelerDetailOut,
    MyQualityOut,
    QualityOut,
    RefreshOut,
    ReviewIn,
    ReviewItemOut,
    ReviewOut,
    ReviewQueueOut,
    RevisionOut,
    SettingsIn,
    SettingsOut,
    StandingIn,
    StandingOut,
)

router = APIRouter(prefix="/api/v1", tags=["quality"])

Ref = ProjectPath
PublicId = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/projects/{pid}/quality")
def quality(pid: Ref, request: Request, tasks: BackgroundTasks, db: SessionDep, viewer: ReviewerUser) -> QualityOut:
    """Agreement, gold accuracy, bias and speed per labeler and for the project, with intervals.
    ``pending`` judgements (more than one view counts) are counted after the answer."""
    out, project_id = service.page(db, viewer, pid)
    if out.pending:
        tasks.add_task(service.count_backlog, request.app.state.session_factory, project_id)
    return out


@router.get("/projects/{pid}/quality/me")
def my_quality(pid: Ref, db: SessionDep, user: CurrentUser) -> MyQualityOut:
    """Your own figures in a project you work on, beside the team's."""
    return service.my_figures(db, user, pid)


@router.get("/projects/{pid}/quality/labelers/{uid}")
def labeler(pid: Ref, uid: PublicId, db: SessionDep, viewer: ReviewerUser) -> LabelerDetailOut:
    """One labeler's figures and the gold items they got wrong, with what they answered."""
    return service.labeler_detail(db, viewer, pid, uid)


@router.put("/projects/{pid}/quality/labelers/{uid}/standing")
def set_standing(pid: Ref, uid: PublicId, body: StandingIn, db: SessionDep, admin: AdminUser) -> StandingOut:
    """Override screening, pause or resume a labeler in this project."""
    row = service.override_standing(db, admin, pid, uid, body.standing, body.reason)
    return StandingOut(labeler=uid, standing=row.standing, reason=row.reason)


@router.get("/projects/{pid}/quality/settings")
def get_settings(pid: Ref, db: SessionDep, viewer: ReviewerUser) -> SettingsOut:
    """Gold rate, screening, gold thresholds and the correction window."""
    return service.settings_out(service.settings_of(db, service.readable_project(db, viewer, pid).id))


@router.put("/projects/{pid}/quality/settings")
def put_settings(pid: Ref, body: SettingsIn, db: SessionDep, admin: AdminUser) -> SettingsOut:
    """Change some settings; fields left out keep their value."""
    return service.update_settings(db, admin, pid, body)


@router.post("/projects/{pid}/quality:refresh")
def refresh(
    pid: Ref, request: Request, db: SessionDep, admin: AdminUser,
    budget: Annotated[int, Query(ge=1, le=10_000_000, description="judgements to count at most")] = 1_000_000,
) -> RefreshOut:
    """Count a backlog of judgements now, a few hundred per transaction."""
    return service.refresh_for(request.app.state.session_factory, db, admin, pid, budget)


@router.post("/projects/{pid}/gold:import", openapi_extra=upload_body(".jsonl, one gold item a line"))
def import_gold(
    pid: Ref,
    db: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    file: UploadedFile,
    dry_run: Annotated[bool, Query(description="validate only; store nothing")] = False,
) -> ImportReportOut:
    """Gold items with their known answer; every line is checked first, all or nothing (422)."""
    report = gold_import.import_gold(db, admin, pid, file.file, max_chars=settings.max_text_chars, dry_run=dry_run)
    return answer(report, dry_run)


@router.get("/projects/{pid}/gold")
def list_gold(pid: Ref, db: SessionDep, admin: AdminUser) -> list[GoldItemOut]:
    """The project's gold items with how often they were answered correctly."""
    return gold_import.list_gold(db, admin, pid)


@router.put("/items/{iid}/gold")
def set_gold(iid: PublicId, body: GoldIn, db: SessionDep, admin: AdminUser) -> GoldItemOut:
    """Give an existing item a known answer; it leaves the regular queue."""
    return gold_import.set_gold(db, admin, iid, body)


@router.delete("/items/{iid}/gold", status_code=204)
def unset_gold(iid: PublicId, db: SessionDep, admin: AdminUser) -> Response:
    """The item becomes a regular one again."""
    gold_import.unset_gold(db, admin, iid)
    return Response(status_code=204)


@router.get("/projects/{pid}/review")
def review_queue(
    pid: Ref, db: SessionDep, viewer: ReviewerUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> ReviewQueueOut:
    """The items labelers disagree on most."""
    return review.queue(db, viewer, pid, limit)


@router.get("/review/items/{iid}")
def review_item(iid: PublicId, db: SessionDep, viewer: ReviewerUser) -> ReviewItemOut:
    """Every judgement of an item side by side, with where each differs from the others."""
    return review.item_view(db, viewer, iid)


@router.put("/review/judgements/{jid}", responses=errors(409))
def decide(jid: PublicId, body: ReviewIn, db: SessionDep, viewer: ReviewerUser) -> ReviewOut:
    """Accept or reject a judgement (with a reason); a rejected one leaves exports."""
    return review.decide(db, viewer, jid, body)


@router.get("/me/judgements", responses=errors(404))
def history(
    db: SessionDep,
    user: CurrentUser,
    project: Annotated[str, Query(min_length=1, max_length=64, description="project public id or slug")],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> HistoryOut:
    """Your judgements in a project, newest first, with reviewers' verdicts and reasons."""
    return review.history(db, user, project, limit, cursor)


@router.post("/judgements/{jid}/correction", responses=errors(409))
def correct(jid: PublicId, body: SubmitBody, db: SessionDep, settings: SettingsDep, user: CurrentUser) -> CorrectionOut:
    """Correct your judgement within the project's correction window (the old one is kept)."""
    return review.correct_judgement(db, user, jid, body, settings)


@router.get("/judgements/{jid}/revisions")
def revisions(jid: PublicId, db: SessionDep, user: CurrentUser) -> list[RevisionOut]:
    """Earlier versions of a judgement (its labeler, reviewers and admins)."""
    return review.revisions(db, user, jid)
