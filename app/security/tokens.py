"""Random secrets shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "rw_"


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def pseudonym(secret: str, scope: str, value: str, prefix: str = "l_") -> str:
    """A stable, non-reversible id for `value` within `scope` (e.g. a labeler in a project)."""
    digest = hmac.new(secret.encode(), f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:12]
