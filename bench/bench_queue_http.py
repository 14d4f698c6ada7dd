"""HTTP load: N concurrent labelers doing next + submit of a 4-way ranking.

    .venv/bin/python bench/bench_queue_http.py [--db sqlite|postgres] [--labelers 50]
        [--duration 20] [--workers 1] [--mode combined|separate]

Mode ``combined`` (default) is one call per judgement, ``submit?next=true`` (the answer
carries the next task; one write transaction); ``separate`` is ``next`` then ``submit``.

Starts a real uvicorn on a fresh database (an SQLite file by default), seeds a
ranking project, and runs the labelers (asyncio + httpx, bearer tokens so no argon2
per request) for a fixed time. Prints judgements/s and p50/p99 latency of next and
submit, and checks afterwards that no item got more judgements than its overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_next_scaling import SECRET, database, p99, seed_ranking_project  # noqa: E402

from app.db import make_engine  # noqa: E402


def start_server(
    settings_url: str, data_dir: Path, port: int, workers: int, pool: int, profile: str | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RANKWISE_ENV": "test",
        "RANKWISE_DATABASE_URL": settings_url,
        "RANKWISE_DATA_DIR": str(data_dir),
        "RANKWISE_SECRET_KEY": SECRET,
        "RANKWISE_START_WORKER": "false",
        "RANKWISE_SUBMIT_RATE_PER_MINUTE": "1000000",
        "RANKWISE_POOL_SIZE": str(pool),
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "120", "--workers", str(workers),
    ]
    if profile:
        # Sampled stacks of the server (py-spy, a dev tool: pip install py-spy), collapsed format.
        spy = str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "--format", "raw", "--rate", "200", "--threads", "-o", profile, "--", *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/me", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def labeler(
    client: httpx.AsyncClient, token: str, project: str, stop_at: float,
    next_ms: list[float], submit_ms: list[float], failures: list[str], n: int, combined: bool,
) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    task = None
    while time.monotonic() < stop_at:
        if task is None:
            t0 = time.perf_counter()
            r = await client.post(f"/api/v1/projects/{project}/next", headers=headers)
            next_ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code == 204:
                return done
            if r.status_code != 200:
                failures.append(f"next {r.status_code} {r.text[:200]}")
                continue
            task = r.json()
        body = {
            "idempotency_key": f"bench-{n}-{done:07d}",
            "seconds": 3.0,
            "verdict": "ranked",
            "ranking": [[c["id"]] for c in task["completions"][:2]] + [[c["id"] for c in task["completions"][2:]]],
            "ratings": {task["completions"][0]["id"]: 6},
        }
        t0 = time.perf_counter()
        query = "?next=true" if combined else ""
        r = await client.post(f"/api/v1/assignments/{task['assignment_id']}/submit{query}", json=body, headers=headers)
        submit_ms.append((time.perf_counter() - t0) * 1000)
        task = None
        if r.status_code != 201:
            failures.append(f"submit {r.status_code} {r.text[:200]}")
            continue
        done += 1
        if combined:
            task = r.json()["next"]
            if task is None:
                return done
    return done


async def run(
    url: str, tokens: list[str], project: str, duration: float, warmup: float, combined: bool
) -> tuple[int, list[float], list[float], list[str], float]:
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens) + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        # Warm-up: connections, statement caches, the SQLite page cache.
        await asyncio.gather(*(labeler(client, t, project, time.monotonic() + warmup, [], [], [], -i - 1, combined) for i, t in enumerate(tokens)))
        next_ms: list[float] = []
        submit_ms: list[float] = []
        failures: list[str] = []
        t0 = time.monotonic()
        counts = await asyncio.gather(
            *(labeler(client, t, project, t0 + duration, next_ms, submit_ms, failures, i, combined) for i, t in enumerate(tokens))
        )
        elapsed = time.monotonic() - t0
    return sum(counts), next_ms, submit_ms, failures, elapsed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--labelers", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--items", type=int, default=30_000)
    ap.add_argument("--overlap", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--profile", help="write the server's py-spy profile (collapsed stacks) here")
    ap.add_argument("--mode", choices=["combined", "separate"], default="combined",
                    help="combined: submit?next=true (one call per judgement); separate: next, then submit")
    ap.add_argument("--pool", type=int, default=60, help="RANKWISE_POOL_SIZE: connections and in-flight requests")
    args = ap.parse_args(argv)
    with database(args.db) as settings:
        engine = make_engine(settings)
        project, _, tokens = seed_ranking_project(engine, args.items, overlap=args.overlap, labelers=args.labelers)
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        proc = start_server(settings.database_url, settings.data_dir, args.port, args.workers, args.pool, args.profile)
        try:
            judged, next_ms, submit_ms, failures, elapsed = asyncio.run(
                run(f"http://127.0.0.1:{args.port}", tokens, project, args.duration, args.warmup, args.mode == "combined")
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        with engine.connect() as conn:
            worst = conn.execute(text("SELECT coalesce(max(done), 0), coalesce(max(taken), 0) FROM work_items")).one()
            doubles = conn.execute(text(
                "SELECT count(*) FROM (SELECT item_id, user_id FROM rankings GROUP BY item_id, user_id HAVING count(*) > 1) d"
            )).scalar_one()
        engine.dispose()
    print(f"{args.db}, {args.mode}, {args.labelers} labelers, {args.workers} worker(s), {elapsed:.1f} s, cpus={os.cpu_count()}, load={os.getloadavg()[0]:.1f}")
    print(f"  judgements/s: {judged / elapsed:.1f}  ({judged} judgements, {len(failures)} failures)")
    if next_ms:
        print(f"  {'next':<12} p50 {statistics.median(next_ms):7.1f} ms   p99 {p99(next_ms):7.1f} ms   ({len(next_ms)} calls)")
    if submit_ms:
        what = "submit?next" if args.mode == "combined" else "submit"
        print(f"  {what:<12} p50 {statistics.median(submit_ms):7.1f} ms   p99 {p99(submit_ms):7.1f} ms   ({len(submit_ms)} calls)")
    print(f"  invariants: max done per item {worst[0]}, max taken {worst[1]} (overlap {args.overlap}); doubled judgements {doubles}")
    for f in failures[:5]:
        print("  failure:", f)


if __name__ == "__main__":
    main()
