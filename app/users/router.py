"""User administration, API tokens and the audit log (admins; tokens also their owner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app import audit
from app.deps import AdminUser, CurrentUser, SessionDep
from app.errors import NotFound
from app.inputs import DbId, PathId
from app.models import Role, User
from app.openapi import errors
from app.users import service
from app.users.schemas import (
    AuditOut,
    AuditPage,
    PasswordOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserCreated,
    UserOut,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["users"])


def _self_or_admin(db: SessionDep, actor: User, uid: PathId) -> User:
    if actor.role != Role.admin and actor.public_id != uid:
        raise NotFound("There is no user with this id.")
    return service.get(db, uid)


@router.get("/users")
def list_users(db: SessionDep, _admin: AdminUser) -> list[UserOut]:
    """Every account, oldest first."""
    return [UserOut.of(u) for u in service.list_users(db)]


@router.post("/users", status_code=201, responses=errors(409))
def create_user(body: UserCreate, db: SessionDep, admin: AdminUser) -> UserCreated:
    """Create an account; a generated password is returned once when none is given."""
    created = service.create(db, admin, body.email, body.display_name, body.role, body.password)
    return UserCreated(user=UserOut.of(created.user), password=created.password)


@router.get("/users/{uid}")
def get_user(uid: PathId, db: SessionDep, actor: CurrentUser) -> UserOut:
    """One account (admins, or the user themselves)."""
    return UserOut.of(_self_or_admin(db, actor, uid))


@router.patch("/users/{uid}", responses=errors(409))
def update_user(uid: PathId, body: UserUpdate, db: SessionDep, admin: AdminUser) -> UserOut:
    """Change role, active flag or name; a role change or deactivation ends their sessions."""
    user = service.update(
        db, admin, service.get(db, uid), body.role, body.is_active, body.display_name
    )
    return UserOut.of(user)


@router.post("/users/{uid}/password", responses=errors(409))
def reset_password(uid: PathId, db: SessionDep, admin: AdminUser) -> PasswordOut:
    """Replace the password with a generated one, shown once; ends their sessions."""
    return PasswordOut(password=service.reset_password(db, admin, service.get(db, uid)))


@router.get("/users/{uid}/tokens")
def list_tokens(uid: PathId, db: SessionDep, actor: CurrentUser) -> list[TokenOut]:
    """API tokens of a user (never the raw tokens)."""
    return [TokenOut.of(t) for t in service.tokens(db, _self_or_admin(db, actor, uid))]


@router.post("/users/{uid}/tokens", status_code=201, responses=errors(409))
def create_token(uid: PathId, body: TokenCreate, db: SessionDep, actor: CurrentUser) -> TokenCreated:
    """Issue an API token; the raw value is in this answer only."""
    token, raw = service.create_token(db, actor, _self_or_admin(db, actor, uid), body.name)
    return TokenCreated(**TokenOut.of(token).model_dump(), token=raw)


@router.delete("/tokens/{tid}", status_code=204)
def revoke_token(tid: PathId, db: SessionDep, actor: CurrentUser) -> Response:
    """Revoke an API token (admins, or its owner); requests with it get 401 from now on."""
    service.revoke_token(db, actor, service.token_visible_to(db, actor, tid))
    return Response(status_code=204)


@router.get("/audit")
def audit_log(
    db: SessionDep,
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[DbId | None, Query(description="next_cursor of the previous page")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """Admin actions, newest first."""
    rows = audit.entries(db, limit=limit, before=before, action=action)
    items = [AuditOut.of(entry, actor) for entry, actor in rows]
    return AuditPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)
