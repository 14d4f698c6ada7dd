"""CPU cost of the input guard (NUL refusal, app/security/middleware.py) per request.

    .venv/bin/python bench/bench_input_guard.py [--requests 20000]

Drives the ASGI middleware directly, in one thread, with a trivial inner app that
reads the body: once without the guard and once with it, for a typical judgement
(a 4-way ranking with ratings, ~0.6 KB), a 20 KB demonstration and a 1 MiB body. The
difference is what the guard adds to each request: buffering the body into one
message and two substring searches (the regex runs only when an escape is present).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from app.security.middleware import InputGuard, json_has_nul


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _bodies() -> dict[str, bytes]:
    ranking = {
        "idempotency_key": "k-0123456789abcdef", "seconds": 41.5, "verdict": "ranked",
        "ranking": [["a1b2c3d4e5f6g7h8"], ["b1b2c3d4e5f6g7h8", "c1b2c3d4e5f6g7h8"], ["d1b2c3d4e5f6g7h8"]],
        "ratings": {"a1b2c3d4e5f6g7h8": 6, "b1b2c3d4e5f6g7h8": 4, "c1b2c3d4e5f6g7h8": 4, "d1b2c3d4e5f6g7h8": 2},
        "flags": {"d1b2c3d4e5f6g7h8": ["hallucination", "harmful_advice"]},
    }
    demo = {"idempotency_key": "k-0123456789abcdef", "turns": [{"role": "assistant", "content": "word " * 4000}]}
    big = {"guidelines": "x" * (1024 * 1024 - 32)}
    return {name: json.dumps(body).encode() for name, body in
            (("ranking judgement", ranking), ("20 KB demonstration", demo), ("1 MiB body", big))}


async def _run(app: Any, body: bytes, n: int) -> float:
    scope = {"type": "http", "method": "POST", "path": "/api/v1/assignments/x/submit", "query_string": b"next=true",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}

    async def send(_message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        chunks = iter([{"type": "http.request", "body": body, "more_body": False}])

        async def receive(chunks: Any = chunks) -> dict[str, Any]:
            return next(chunks, {"type": "http.disconnect"})

        await app(scope, receive, send)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    guarded = InputGuard(_inner, is_upload=lambda _path: False)
    print(f"{'body':22} {'bytes':>9} {'without µs':>11} {'with µs':>9} {'added µs':>9} {'scan µs':>8}")
    for name, body in _bodies().items():
        n = args.requests if len(body) < 100_000 else max(200, args.requests // 100)
        bare = asyncio.run(_run(_inner, body, n))
        with_guard = asyncio.run(_run(guarded, body, n))
        started = time.perf_counter()
        for _ in range(n):
            json_has_nul(body)
        scan = (time.perf_counter() - started) / n * 1e6
        print(f"{name:22} {len(body):>9} {bare:>11.2f} {with_guard:>9.2f} {with_guard - bare:>9.2f} {scan:>8.2f}")


if __name__ == "__main__":
    main()
