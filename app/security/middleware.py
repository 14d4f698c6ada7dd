"""Pure-ASGI middleware: the edge (security headers, cross-site refusal, in-flight limit, body-size
limit, input guard) in one layer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from app.errors import error_response

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})


IsUpload = Callable[[str], bool]


class BodySizeLimit:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming.

    Only the upload routes (``is_upload(path)``) get the upload limit; every other
    route, the anonymous login form included, gets the ordinary one whatever the
    content type says.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int, is_upload: IsUpload) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.is_upload = is_upload

    def _limit_for(self, scope: Scope) -> int:
        return self.max_upload_bytes if self.is_upload(scope["path"]) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _send_json(send, 413, _too_large(limit))
            return
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            # Frameworks turn any error raised while reading the body into a 400,
            # so answer 413 here and tell the app the client has gone.
            nonlocal received, refused, started
            if refused:
                return {"type": "http.disconnect"}
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        started = True
                        await _send_json(send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; drop whatever the app answers
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _too_large(limit: int) -> dict[str, Any]:
    return {
        "error": "payload_too_large",
        "detail": f"The request body is larger than the limit of {limit // 1024} KiB.",
    }


_NUL_ESCAPE = b"\\u0000"
_BACKSLASHES = re.compile(rb"\\*")
_NUL_MESSAGE = (
    "The request contains a NUL character (U+0000) in {where}; no field can hold one. "
    "Remove it and send the request again."
)


def _content_type(scope: Scope) -> bytes:
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return b""


def _is_json(ctype: bytes) -> bool:
    return ctype.startswith(b"application/") and (ctype.endswith(b"/json") or ctype.endswith(b"+json"))


def json_has_nul(body: bytes) -> bool:
    """Whether a JSON text holds U+0000: a raw NUL byte (never valid JSON, nor is UTF-16
    JSON, which carries many), or the escape ``\\u0000`` not itself escaped, i.e. after
    an even number of backslashes (``\\\\u0000`` is a backslash and the text "u0000")."""
    # Two substring searches on every body; the rest runs only when the escape is there,
    # in time linear in the body (a look-behind regex tries every position: ~100x slower).
    if b"\x00" in body:
        return True
    at = body.find(_NUL_ESCAPE)
    if at == -1:
        return False
    reversed_body = body[::-1]
    while at != -1:
        before = _BACKSLASHES.match(reversed_body, len(body) - at)
        if before is not None and len(before.group()) % 2 == 0:
            return True
        at = body.find(_NUL_ESCAPE, at + 1)
    return False


def form_has_nul(body: bytes) -> bool:
    return b"\x00" in body or b"%00" in body


def _nul_in_url(scope: Scope) -> str | None:
    """Where a NUL is in the URL (for the message), or None."""
    query = scope.get("query_string", b"")
    if "\x00" in scope["path"]:
        return "the URL path"
    if b"%00" in query or b"\x00" in query:
        return "the query string"
    return None


def _nul_check(ctype: bytes) -> Callable[[bytes], bool] | None:
    """How to look for a NUL in a body of this content type; None: not read here."""
    if _is_json(ctype):
        return json_has_nul
    return form_has_nul if ctype == b"application/x-www-form-urlencoded" else None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """Hands the app the body read whole here as one message; what follows (a
    disconnect) still comes from the client."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            following: Message = await receive()
            return following
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class InputGuard:
    """Refuses, before any route runs, input that no field may hold (422) and multipart
    bodies outside the upload routes (415).

    PostgreSQL cannot store U+0000 in text or JSON (SQLite can), so a NUL anywhere a
    route could read it is refused here, once for every field and the same on both
    databases: in the path, the query string, a JSON body (the escape ``\\u0000``) and
    a URL-encoded form. A JSON or form body is read whole (the body-size limit has
    already bounded it) and handed on unchanged. Uploaded files are checked line by
    line by their parser (app/imports/parsers.py); their other multipart fields are
    never read, and only the upload routes take multipart at all, so no multipart
    text field reaches a route elsewhere.
    """

    def __init__(self, app: ASGIApp, is_upload: IsUpload) -> None:
        self.app = app
        self.is_upload = is_upload

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, body: dict[str, Any]) -> None:
        response: Any = error_response(Request(scope), status, body)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _nul_in_url(scope)
        if where is not None:
            await self._refuse(scope, receive, send, 422, _invalid(_NUL_MESSAGE.format(where=where)))
            return
        ctype = _content_type(scope)
        if ctype == b"multipart/form-data" and not self.is_upload(scope["path"]):
            await self._refuse(scope, receive, send, 415, _MULTIPART_REFUSED)
            return
        check = _nul_check(ctype)
        if check is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left, or the size limit has already answered 413
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if check(body):
            await self._refuse(scope, receive, send, 422, _invalid(_NUL_MESSAGE.format(where="the body")))
            return
        await self.app(scope, _replaying(body, receive), send)


_MULTIPART_REFUSED = {
    "error": "unsupported_media_type",
    "detail": "Only file uploads take multipart/form-data; send JSON (or a URL-encoded form to the login page).",
}


def _invalid(detail: str) -> dict[str, Any]:
    return {"error": "invalid_input", "detail": detail, "errors": [{"field": None, "message": detail}]}


class Edge:
    """Every check at the edge, as one pure-ASGI layer (each layer would wrap ``receive``
    and ``send`` again and cost a coroutine per message), in this order:

    - security headers (CSP and the rest) on every answer, 403 and 413 included;
    - cross-site refusal: defence in depth beside the CSRF token, a state-changing request
      with ``Sec-Fetch-Site: cross-site`` or an ``Origin`` whose host differs from
      ``Host`` (or is opaque) gets 403; scripts and curl send neither and go on to the
      token checks;
    - at most ``limit`` requests in flight; the rest wait here, on the event loop, not in
      a worker thread (the thread pool is kept above the limit), so a burst cannot fill
      every thread with requests waiting for SQLite's writer lock while the holder waits
      for a thread to finish in (a route that commits at the end of its unit of work);
    - the body-size limit (``BodySizeLimit``) and the input guard (``InputGuard``).

    A JSON or URL-encoded body is read whole here anyway (to look for NUL), so its size
    is checked while it is read and the app gets it in one message.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int, is_upload: IsUpload,
                 limit: int) -> None:
        self.app = app
        self.guard = InputGuard(app, is_upload)
        self.body_limit = BodySizeLimit(app, max_bytes, max_upload_bytes, is_upload)
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.is_upload = is_upload
        self.limit = limit
        self._semaphore: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                message["headers"] = headers + [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            await send(message)

        headers = dict(scope.get("headers") or [])
        if scope["method"] in UNSAFE_METHODS:
            refusal = _cross_site(headers)
            if refusal is not None:
                await _send_json(with_headers, 403, {"error": "forbidden", "detail": refusal})
                return
        if self._semaphore is None:
            import anyio
            import anyio.to_thread

            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(limiter.total_tokens, self.limit + 8)
            self._semaphore = anyio.Semaphore(self.limit)
        async with self._semaphore:
            await self._checked(scope, receive, with_headers, headers)

    async def _checked(self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]) -> None:
        upload = self.is_upload(scope["path"])
        limit = self.max_upload_bytes if upload else self.max_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _send_json(send, 413, _too_large(limit))
            return
        where = _nul_in_url(scope)
        if where is not None:
            await self.guard._refuse(scope, receive, send, 422, _invalid(_NUL_MESSAGE.format(where=where)))
            return
        ctype = _content_type(scope)
        if ctype == b"multipart/form-data" and not upload:
            await self.guard._refuse(scope, receive, send, 415, _MULTIPART_REFUSED)
            return
        check = _nul_check(ctype)
        if check is None:
            await self.body_limit(scope, receive, send)  # counts a streamed body as it goes
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _send_json(send, 413, _too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if check(body):
            await self.guard._refuse(scope, receive, send, 422, _invalid(_NUL_MESSAGE.format(where="the body")))
            return
        await self.app(scope, _replaying(body, receive), send)


def _cross_site(headers: dict[bytes, bytes]) -> str | None:
    """Why a state-changing request is refused as cross-site (CrossSiteGuard), or None."""
    site = headers.get(b"sec-fetch-site", b"").decode().lower()
    origin = headers.get(b"origin", b"").decode()
    host = headers.get(b"host", b"").decode()
    if site == "cross-site" or (origin and origin != "null" and urlsplit(origin).netloc != host):
        return "Cross-site requests are not allowed."
    if origin == "null":
        return "Requests from an opaque origin are not allowed."
    return None
