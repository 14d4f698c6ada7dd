"""Log in, log out, resolve a request's user, issue API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from app.auth import repository as repo
from app.errors import Conflict, InvalidInput, NotAuthenticated
from app.models import ApiToken, Role, User, WebSession, utcnow
from app.models.users import default_display_name, normalise_email
from app.security.passwords import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.security.rate_limit import RateLimiter
from app.security.tokens import new_api_token, new_secret, sha256_hex

LOGIN_FAILED = "Wrong e-mail or password."


@dataclass(frozen=True)
class NewSession:
    token: str
    user: User


def check_login(db: Session, limiter: RateLimiter, client: str, email: str, password: str) -> User:
    """The one way in, for the JSON login and the login form: the address is normalised
    once, and the attempt counts against that address from this client before the
    password is checked (a padded or capitalised variant is the same key)."""
    address = normalise_email(email)
    limiter.hit(f"{client}|{address}", "login attempts")
    return authenticate(db, address, password)


def authenticate(db: Session, email: str, password: str) -> User:
    user = repo.user_by_email(db, email)
    # Always verify (against a dummy hash when there is no user) so that timing
    # and message are the same for a wrong e-mail and a wrong password.
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise NotAuthenticated(LOGIN_FAILED)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(db: Session, user: User, hours: float, old_token: str | None = None) -> NewSession:
    """A fresh session token at every login: a token planted before login is useless."""
    if old_token:
        repo.delete_session(db, sha256_hex(old_token))
    now = utcnow()
    repo.delete_expired_sessions(db, now)
    token = new_secret()
    db.add(WebSession(token_hash=sha256_hex(token), user_id=user.id, expires_at=now + timedelta(hours=hours)))
    db.flush()
    return NewSession(token=token, user=user)


def end_session(db: Session, token: str) -> None:
    repo.delete_session(db, sha256_hex(token))


def user_for_session(db: Session, token: str) -> User | None:
    found = repo.session_with_user(db, sha256_hex(token), utcnow())
    return found[1] if found else None


def user_for_api_token(db: Session, token: str) -> User | None:
    found = repo.token_with_user(db, sha256_hex(token))
    if found is None:
        return None
    token_id, last_used_at, user = found
    now = utcnow()
    # Coarse last-used stamp: avoid a write on every scripted request.
    if last_used_at is None or now - last_used_at > timedelta(minutes=5):
        repo.touch_token(db, token_id, now)
    return user


def create_api_token(db: Session, user: User, name: str) -> tuple[ApiToken, str]:
    raw = new_api_token()
    token = ApiToken(user_id=user.id, name=name, token_hash=sha256_hex(raw))
    db.add(token)
    db.flush()
    return token, raw


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > 1024:
        raise InvalidInput("The password must be at most 1024 characters long.")


def create_user(
    db: Session, email: str, display_name: str, password: str, role: Role = Role.labeler
) -> User:
    check_password_strength(password)
    email = normalise_email(email)
    if repo.user_by_email(db, email) is not None:
        raise Conflict(f"A user with the e-mail {email} already exists.")
    user = User(email=email, display_name=display_name.strip() or default_display_name(email),
                password_hash=hash_password(password), role=role)
    db.add(user)
    db.flush()
    return user


def revoke_all_sessions(db: Session, user: User) -> None:
    repo.delete_sessions_of(db, user.id)


def revoke_all_tokens(db: Session, user: User) -> None:
    repo.revoke_tokens_of(db, user.id)
