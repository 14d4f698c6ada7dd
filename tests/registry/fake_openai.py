"""A tiny OpenAI-compatible chat-completions server for tests, on 127.0.0.1.

The last user message steers it:

* ``slow:<seconds>``       answer after sleeping
* ``fail500:<n>:<tag>``    HTTP 500 for the first n requests carrying <tag>, then answer
* ``rate429:<n>:<tag>``    HTTP 429 (Retry-After: 0) likewise
* ``hang``                 sleep 1.5 s (longer than the client's timeout)
* anything else            answer at once

The server counts requests, remembers every Authorization header it saw and
the largest number of requests in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class FakeState:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    auth_headers: list[str] = field(default_factory=list)


class FakeOpenAI:
    def __init__(self) -> None:
        self.state = FakeState()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        s = self.state
        s.requests += 1
        s.auth_headers.append(headers.get("authorization", ""))
        s.in_flight += 1
        s.max_in_flight = max(s.max_in_flight, s.in_flight)
        try:
            status, payload, extra = await self._answer(scope["path"], json.loads(body or b"{}"))
        finally:
            s.in_flight -= 1
        raw = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *extra]})
        await send({"type": "http.response.body", "body": raw})

    async def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any, list[Any]]:
        if path != "/v1/chat/completions":
            return 404, {"error": "not found"}, []
        text = str(body["messages"][-1]["content"])
        command, _, rest = text.partition(":")
        if command == "slow":
            await asyncio.sleep(float(rest))
        elif command == "hang":
            await asyncio.sleep(1.5)
        elif command in ("fail500", "rate429"):
            n, _, tag = rest.partition(":")
            self.state.seen[tag] += 1
            if self.state.seen[tag] <= int(n):
                if command == "rate429":
                    return 429, {"error": "slow down"}, [(b"retry-after", b"0")]
                return 500, {"error": "boom"}, []
        elif command == "deny":
            return 401, {"error": "bad key"}, []
        reply = f"reply to {text} (t={body.get('temperature')})"
        return 200, {"id": "x", "object": "chat.completion", "model": body.get("model"),
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                  "finish_reason": "stop"}]}, []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fake_openai_server(app: FakeOpenAI | None = None) -> Iterator[tuple[str, FakeOpenAI]]:
    """Yields (base_url ending in /v1, the app with its counters); ``app`` replaces the
    default answers (a subclass overriding ``_answer``)."""
    app = app or FakeOpenAI()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake OpenAI server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
