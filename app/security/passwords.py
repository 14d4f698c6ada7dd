"""Argon2id hashing with rehash-on-login and a constant-time miss.

Verifying against a dummy hash when the e-mail is unknown keeps the response
time the same whether or not the account exists (no enumeration by timing).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("rankwise-dummy-password-for-timing")


def configure(hasher: PasswordHasher) -> None:
    """Swap the hasher (tests use cheap parameters); existing hashes are rehashed at login."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("rankwise-dummy-password-for-timing")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
