"""CSRF tokens bound to the session: HMAC(secret, session token).

Nothing extra is stored: the token is valid exactly as long as the session,
changes when the session rotates at login, and cannot be forged without the
server's secret. Pages put it in a <meta> tag and in hidden form fields; the
JavaScript client sends it as `X-CSRF-Token`.
"""

from __future__ import annotations

import hashlib
import hmac

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def csrf_token_for(secret: str, session_token: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, session_token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token_for(secret, session_token), presented)
