"""User administration and API tokens.

Accounts are created through app.auth.service (one place hashes passwords).
A role change, a deactivation or a password reset ends the user's browser
sessions, so a demoted admin loses admin pages at once; a deactivation also
revokes every API token for good (reactivating the account does not revive
them); there must always be one active admin left.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app import audit
from app.auth import service as auth_service
from app.errors import Conflict, NotFound
from app.models import ApiToken, Role, User, UserKind, utcnow
from app.models.users import normalise_email
from app.security.passwords import hash_password
from app.users import repository as repo

GENERATED_PASSWORD_BYTES = 15  # 20 URL-safe characters


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


@dataclass(frozen=True)
class CreatedUser:
    user: User
    password: str | None  # set only when it was generated here


def list_users(db: Session) -> list[User]:
    return repo.all_users(db)


def get(db: Session, public_id: str) -> User:
    user = repo.by_public_id(db, public_id)
    if user is None:
        raise NotFound("There is no user with this id.")
    return user


def by_email(db: Session, email: str) -> User:
    user = repo.by_email(db, email)
    if user is None:
        raise NotFound(f"There is no user with the e-mail {normalise_email(email)}.")
    return user


def create(
    db: Session,
    actor: User | None,
    email: str,
    display_name: str,
    role: Role,
    password: str | None = None,
) -> CreatedUser:
    generated = password is None
    chosen = generate_password() if password is None else password
    user = auth_service.create_user(db, email, display_name, chosen, role=role)
    audit.record(db, actor, "user.create", user.email, {"role": role.value, "user": user.public_id})
    return CreatedUser(user=user, password=chosen if generated else None)


def _check_not_last_admin(db: Session, user: User, role: Role | None, is_active: bool | None) -> None:
    loses_admin = user.role == Role.admin and user.is_active and (
        (role is not None and role != Role.admin) or is_active is False
    )
    if loses_admin and repo.lock_active_admins(db) == [user.id]:
        raise Conflict(
            f"{user.email} is the last active admin; make another user admin first."
        )


def update(
    db: Session,
    actor: User,
    user: User,
    role: Role | None = None,
    is_active: bool | None = None,
    display_name: str | None = None,
) -> User:
    _refuse_ai_login(user, role is not None or is_active is not None)
    _check_not_last_admin(db, user, role, is_active)
    changes: dict[str, object] = {}
    if role is not None and role != user.role:
        changes["role"] = [user.role.value, role.value]
        user.role = role
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
    if display_name is not None and display_name.strip() and display_name.strip() != user.display_name:
        changes["display_name"] = [user.display_name, display_name.strip()]
        user.display_name = display_name.strip()
    if "role" in changes or "is_active" in changes:
        auth_service.revoke_all_sessions(db, user)
    if changes.get("is_active") == [True, False]:
        # For good: reactivating the account later must not bring old tokens back.
        auth_service.revoke_all_tokens(db, user)
    if changes:
        db.flush()
        audit.record(db, actor, "user.update", user.email, {"user": user.public_id, **changes})
    return user


def _refuse_ai_login(user: User, refused: bool = True) -> None:
    """An AI labeler's account (app/ai_labeling) never logs in nor holds a token: it would
    let someone judge under the model's name."""
    if refused and user.kind == UserKind.ai:
        raise Conflict(f"{user.display_name} is an AI labeler's account: it has no password, role or token; "
                       "manage it on its project's AI labelers page.")


def reset_password(db: Session, actor: User, user: User) -> str:
    _refuse_ai_login(user)
    password = generate_password()
    user.password_hash = hash_password(password)
    auth_service.revoke_all_sessions(db, user)
    db.flush()
    audit.record(db, actor, "user.password_reset", user.email, {"user": user.public_id})
    return password


def tokens(db: Session, user: User) -> list[ApiToken]:
    return repo.tokens_of(db, user.id)


def create_token(db: Session, actor: User | None, user: User, name: str) -> tuple[ApiToken, str]:
    _refuse_ai_login(user)
    token, raw = auth_service.create_api_token(db, user, name.strip() or "token")
    audit.record(db, actor, "token.create", user.email, {"token": token.public_id, "name": token.name})
    return token, raw


def token_visible_to(db: Session, actor: User, public_id: str) -> ApiToken:
    """Admins see every token, others only their own: 404 for the rest."""
    token = repo.token_by_public_id(db, public_id)
    if token is None or (actor.role != Role.admin and token.user_id != actor.id):
        raise NotFound("There is no API token with this id.")
    return token


def revoke_token(db: Session, actor: User, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.flush()
        audit.record(db, actor, "token.revoke", token.name, {"token": token.public_id})
