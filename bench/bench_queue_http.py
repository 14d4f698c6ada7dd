"""HTTP load: server CPU per judgement of Rankwise against a bare floor app, in one run.

    .venv/bin/python bench/bench_queue_http.py [--db sqlite postgres] [--labelers 1 50]
        [--modes combined separate] [--duration 10] [--workers 1] [--clients 2]

For each database and each number of labelers it runs, one after the other on fresh
databases, a real uvicorn serving

- the floor (bench/floor_app.py: FastAPI on the same uvicorn, one row inserted and
  committed per POST, SQLite WAL + synchronous=FULL, or PostgreSQL);
- Rankwise, ``combined``: one ``submit?next=true`` per judgement (4-way ranking);
- Rankwise, ``separate``: ``next`` then ``submit``.

The headline is the **server's CPU milliseconds per judgement** (user + system time of
the uvicorn process and its children, read from /proc before and after the measured
window), printed beside the floor's and as a ratio: it does not depend on how loaded
the machine is. Judgements/s and p50/p99 latency are printed too, but on a shared
machine they measure the neighbours as much as the server.

The load generator is cheap: ``--clients`` processes, each running its share of the
labelers as threads on keep-alive ``http.client`` connections (its own CPU per call is
printed, to show it is not the bottleneck). The run also measures the fsync ceiling of
the data directory's disk (single-row commits per second with synchronous=FULL), which
bounds any design that commits once per judgement, and checks afterwards that no item
got more judgements than its overlap and no labeler judged an item twice.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_next_scaling import PG_ADMIN, SECRET, database, p99, seed_ranking_project  # noqa: E402

from app.db import make_engine  # noqa: E402

HOST = "127.0.0.1"


# --- servers -------------------------------------------------------------------------------


def start_server(app: str, env: dict[str, str], port: int, workers: int, profile: str | None = None) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", HOST, "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "120", "--workers", str(workers),
    ]
    if profile:
        # Sampled stacks of the server (py-spy, a dev tool: pip install py-spy), raw format.
        spy = str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "--format", "raw", "--rate", "200", "--threads", "--gil", "-o", profile, "--", *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 90
    ready = "/ready" if "floor_app" in app else "/api/v1/auth/me"
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", ready)
            conn.getresponse().read()
            conn.close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    children = psutil.Process(proc.pid).children()
    if Path(str(proc.args[0])).name == "py-spy" and children:
        # py-spy writes its profile once the server it runs has exited.
        for child in children:
            child.terminate()
        psutil.wait_procs(children, timeout=30)
    else:
        proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by the server process and its children."""
    root = psutil.Process(proc.pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rankwise_env(url: str, data_dir: Path, pool: int) -> dict[str, str]:
    return {
        "RANKWISE_ENV": "test",
        "RANKWISE_DATABASE_URL": url,
        "RANKWISE_DATA_DIR": str(data_dir),
        "RANKWISE_SECRET_KEY": SECRET,
        "RANKWISE_START_WORKER": "false",
        "RANKWISE_SUBMIT_RATE_PER_MINUTE": "1000000",
        "RANKWISE_POOL_SIZE": str(pool),
    }


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Tally:
    judgements: int = 0
    calls: int = 0
    first_ms: list[float] = field(default_factory=list)  # next (separate) or floor POST
    submit_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class Client:
    """One keep-alive connection; JSON in, JSON out."""

    def __init__(self, port: int, token: str | None) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: Any = None) -> tuple[int, Any, float]:
        raw = json.dumps(body).encode() if body is not None else b""
        t0 = time.perf_counter()
        self.conn.request("POST", path, body=raw, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        ms = (time.perf_counter() - t0) * 1000
        return response.status, (json.loads(data) if data else None), ms


def _ranking_body(task: dict[str, Any], key: str) -> dict[str, Any]:
    ids = [c["id"] for c in task["completions"]]
    return {
        "idempotency_key": key,
        "seconds": 3.0,
        "verdict": "ranked",
        "ranking": [[ids[0]], [ids[1]], ids[2:]],
        "ratings": {ids[0]: 6},
    }


def labeler_loop(kind: str, port: int, token: str | None, project: str, n: int,
                 measure_from: float, stop_at: float, tally: Tally, lock: threading.Lock) -> None:
    """Judge until ``stop_at`` (wall clock); only calls started after ``measure_from`` and
    finished before ``stop_at`` count (the window the server's CPU is read over)."""
    client = Client(port, token)
    done = 0
    task: dict[str, Any] | None = None
    mine = Tally()
    while time.time() < stop_at:
        started = time.time()
        key = f"bench-{uuid.uuid4().hex}"
        if kind == "floor":
            status, _, ms = client.post("/judge", {**_FLOOR_BODY, "idempotency_key": key, "n": n})
            if measure_from <= started and time.time() < stop_at:
                mine.calls += 1
                mine.first_ms.append(ms)
                if status == 201:
                    mine.judgements += 1
                else:
                    mine.failures.append(f"floor {status}")
            continue
        if task is None:
            status, answer, ms = client.post(f"/api/v1/projects/{project}/next")
            if measure_from <= started and time.time() < stop_at:
                mine.calls += 1
                mine.first_ms.append(ms)
            if status == 204:
                break
            if status != 200:
                mine.failures.append(f"next {status} {str(answer)[:200]}")
                continue
            task = answer
        assert task is not None
        query = "?next=true" if kind == "combined" else ""
        started = time.time()
        status, answer, ms = client.post(f"/api/v1/assignments/{task['assignment_id']}/submit{query}",
                                         _ranking_body(task, key))
        counted = measure_from <= started and time.time() < stop_at
        task = None
        if counted:
            mine.calls += 1
            mine.submit_ms.append(ms)
        if status != 201:
            if counted:
                mine.failures.append(f"submit {status} {str(answer)[:200]}")
            continue
        done += 1
        if counted:
            mine.judgements += 1
        if kind == "combined":
            task = answer["next"]
            if task is None:
                break
    with lock:
        tally.judgements += mine.judgements
        tally.calls += mine.calls
        tally.first_ms += mine.first_ms
        tally.submit_ms += mine.submit_ms
        tally.failures += mine.failures


_FLOOR_BODY = {"seconds": 3.0, "verdict": "ranked", "ranking": [["c1"], ["c2"], ["c3", "c4"]], "ratings": {"c1": 6}}


def client_process(kind: str, port: int, tokens: list[str | None], project: str, first: int,
                   measure_from: float, stop_at: float, out: Any) -> None:
    tally = Tally()
    lock = threading.Lock()
    cpu0 = time.process_time()
    threads = [
        threading.Thread(target=labeler_loop, args=(kind, port, t, project, first + i, measure_from, stop_at, tally, lock))
        for i, t in enumerate(tokens)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send((tally, time.process_time() - cpu0))
    out.close()


@dataclass
class Result:
    label: str
    labelers: int
    seconds: float
    judgements: int
    cpu_s: float
    client_cpu_s: float
    calls: int
    first_ms: list[float]
    submit_ms: list[float]
    failures: list[str]

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / self.judgements if self.judgements else float("nan")

    @property
    def rate(self) -> float:
        return self.judgements / self.seconds


def drive(kind: str, proc: subprocess.Popen[bytes], port: int, tokens: list[str | None], project: str,
          clients: int, warmup: float, duration: float, label: str) -> Result:
    ctx = mp.get_context("fork")
    start = time.time()
    measure_from = start + warmup
    stop_at = measure_from + duration
    shares = [tokens[i::clients] for i in range(clients) if tokens[i::clients]]
    pipes, procs = [], []
    first = 0
    for share in shares:
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=client_process, args=(kind, port, share, project, first, measure_from, stop_at, send))
        p.start()
        pipes.append(recv)
        procs.append(p)
        first += len(share)
    time.sleep(max(0.0, measure_from - time.time()))
    cpu0, t0 = server_cpu(proc), time.time()
    time.sleep(max(0.0, stop_at - time.time()))
    cpu1, t1 = server_cpu(proc), time.time()
    total = Tally()
    client_cpu = 0.0
    for recv in pipes:
        tally, cpu = recv.recv()
        client_cpu += cpu
        total.judgements += tally.judgements
        total.calls += tally.calls
        total.first_ms += tally.first_ms
        total.submit_ms += tally.submit_ms
        total.failures += tally.failures
    for p in procs:
        p.join()
    return Result(label, len(tokens), t1 - t0, total.judgements, cpu1 - cpu0, client_cpu, total.calls,
                  total.first_ms, total.submit_ms, total.failures)


# --- databases -------------------------------------------------------------------------------


def fsync_ceiling(directory: Path, commits: int = 200) -> tuple[float, float]:
    """Single-row commits per second on this disk with WAL + synchronous=FULL, and the
    median commit in ms: what one commit per judgement can reach at most."""
    path = directory / "fsync-probe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for i in range(commits):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t0)
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return len(times) / sum(times), statistics.median(times) * 1000


def floor_url(db: str, tmp: Path) -> tuple[str, str | None]:
    if db == "sqlite":
        return f"sqlite:///{tmp / 'floor.db'}", None
    name = f"rankwise_floor_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rpartition("/")[0] + f"/{name}", name


def drop_pg(name: str | None) -> None:
    if name:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_floor(db: str, labelers: int, args: argparse.Namespace) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="rankwise-floor-"))
    url, name = floor_url(db, tmp)
    try:
        proc = start_server("bench.floor_app:create_app", {"FLOOR_DATABASE_URL": url}, args.port, args.workers)
        try:
            return drive("floor", proc, args.port, [None] * labelers, "", args.clients, args.warmup, args.duration, "floor")
        finally:
            stop_server(proc)
    finally:
        drop_pg(name)


def run_rankwise(db: str, labelers: int, args: argparse.Namespace) -> list[Result]:
    results = []
    with database(db) as settings:
        engine = make_engine(settings)
        project, _, tokens = seed_ranking_project(engine, args.items, overlap=args.overlap, labelers=labelers)
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        env = rankwise_env(settings.database_url, settings.data_dir, args.pool)
        proc = start_server("app.main:create_app", env, args.port, args.workers, args.profile)
        try:
            for mode in args.modes:
                results.append(drive(mode, proc, args.port, list(tokens), project, args.clients,
                                     args.warmup, args.duration, f"rankwise {mode}"))
        finally:
            stop_server(proc)
        with engine.connect() as conn:
            worst = conn.execute(text("SELECT coalesce(max(done), 0), coalesce(max(taken), 0) FROM work_items")).one()
            doubles = conn.execute(text(
                "SELECT count(*) FROM (SELECT item_id, user_id FROM rankings GROUP BY item_id, user_id HAVING count(*) > 1) d"
            )).scalar_one()
        engine.dispose()
    ok = worst[0] <= args.overlap and worst[1] <= args.overlap and doubles == 0
    print(f"    invariants {'ok' if ok else 'BROKEN'}: max done per item {worst[0]}, max taken {worst[1]} "
          f"(overlap {args.overlap}); doubled judgements {doubles}", flush=True)
    return results


def describe(r: Result, floor: Result | None) -> str:
    ratio = f"{r.cpu_ms / floor.cpu_ms:5.2f}x floor" if floor is not None and r is not floor else " " * 13
    lat = []
    if r.first_ms:
        name = "post" if r.label == "floor" else "next"
        lat.append(f"{name} p50 {statistics.median(r.first_ms):6.1f} p99 {p99(r.first_ms):7.1f} ms")
    if r.submit_ms:
        name = "submit?next" if "combined" in r.label else "submit"
        lat.append(f"{name} p50 {statistics.median(r.submit_ms):6.1f} p99 {p99(r.submit_ms):7.1f} ms")
    client = r.client_cpu_s * 1000 / r.calls if r.calls else float("nan")
    return (f"  {r.label:<18} {r.cpu_ms:6.2f} CPU ms/judgement  {ratio}  {r.rate:7.1f} judgements/s  "
            f"{'  '.join(lat)}  (client {client:.2f} CPU ms/call, {len(r.failures)} failures)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    ap.add_argument("--labelers", type=int, nargs="+", default=[1, 50])
    ap.add_argument("--modes", nargs="+", choices=["combined", "separate"], default=["combined", "separate"])
    ap.add_argument("--no-floor", action="store_true", help="run Rankwise only")
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--overlap", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--clients", type=int, default=2, help="load-generator processes")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--profile", help="write the Rankwise server's py-spy profile here")
    ap.add_argument("--pool", type=int, default=60, help="RANKWISE_POOL_SIZE")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="rankwise-fsync-"))
    per_s, median_ms = fsync_ceiling(tmp)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f} workers={args.workers}; the machine may be shared: "
          "CPU ms/judgement is robust to that, judgements/s and latencies are not", flush=True)
    print(f"fsync ceiling (SQLite WAL, synchronous=FULL, one row per commit, this disk): "
          f"{per_s:.0f} commits/s, median commit {median_ms:.2f} ms", flush=True)
    for db in args.db:
        for n in args.labelers:
            print(f"{db}, {n} labeler(s), {args.duration:.0f} s each:", flush=True)
            floor = None if args.no_floor else run_floor(db, n, args)
            if floor is not None:
                print(describe(floor, None), flush=True)
            for r in run_rankwise(db, n, args):
                print(describe(r, floor), flush=True)
                for f in r.failures[:3]:
                    print("    failure:", f)


if __name__ == "__main__":
    main()
