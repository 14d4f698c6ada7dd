"""Export benchmark: fill a database with judgements, export it, print time and memory.

    .venv/bin/python bench/bench_export.py --db sqlite [--scale 0.1]
    .venv/bin/python bench/bench_export.py --db postgres [--scale 0.1]

At scale 1: 100,000 prompts with 9 completions each, 100,000 nine-way rankings
(one labeler each, ratings on every completion, a few ties) and 1,000,000
pairwise judgements. Rows go in with executemany in large batches (SQLite) or
COPY (PostgreSQL). The export runs in a child process so its peak RSS is the
export's alone, not the fill's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
MARGINS = ["significantly_better", "better", "slightly_better", "negligibly_better"]


def _settings(url: str, data_dir: Path) -> Any:
    from app.config import Settings

    return Settings(env="test", database_url=url, data_dir=data_dir, secret_key=SECRET,  # type: ignore[call-arg]
                    start_worker=False, pool_size=2)


def _pid(prefix: str, n: int) -> str:
    return f"{prefix}{n:0{16 - len(prefix)}d}"


class Loader:
    """Bulk insert of plain tuples: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgresql")
        if self.pg:
            import psycopg

            self.conn: Any = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("PRAGMA foreign_keys=OFF")
            # Index pages of randomly ordered keys (completion ids of pairs) must stay cached.
            self.conn.execute("PRAGMA cache_size=-262144")

    def ts(self, value: datetime) -> Any:
        return value if self.pg else value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def boolean(self, value: bool) -> Any:
        return value if self.pg else int(value)

    def load(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        n = 0
        if self.pg:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
                    n += 1
            return n
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 50_000:
                self.conn.executemany(sql, batch)
                n += len(batch)
                batch.clear()
        if batch:
            self.conn.executemany(sql, batch)
            n += len(batch)
        return n

    def commit(self) -> None:
        self.conn.commit()
        if self.pg:
            with self.conn.cursor() as cur:
                for t in ("prompts", "completions", "work_items", "rankings", "pairwise_judgements"):
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
                cur.execute("ANALYZE")
            self.conn.commit()
        self.conn.close()


def fill(url: str, data_dir: Path, scale: float, seed: int = 0) -> dict[str, Any]:
    from app.db import make_engine, make_session_factory, unit_of_work
    from app.migrate import upgrade
    from app.models import Project, TaskKind, User

    engine = make_engine(_settings(url, data_dir))
    upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as db:
        project = Project(slug="bench", name="Bench", task_kind=TaskKind.ranking)
        db.add(project)
        users = [User(email=f"bench{i}@example.org", display_name=f"Bench {i}", password_hash="!")
                 for i in range(20)]
        db.add_all(users)
        db.flush()
        project_id, user_ids = project.id, [u.id for u in users]
    engine.dispose()

    rng = random.Random(seed)
    n_rank = max(1, int(100_000 * scale))
    n_pair = max(1, int(1_000_000 * scale))
    k = 9
    ld = Loader(url)
    json_text = json.dumps
    counts: dict[str, int] = {}
    start = time.perf_counter()

    def when(i: int) -> Any:
        return ld.ts(T0 + timedelta(seconds=i))

    counts["prompts"] = ld.load(
        "prompts", ["id", "public_id", "created_at", "project_id", "external_id", "messages", "category",
                    "source", "held_out"],
        ((i, _pid("q", i), when(i), project_id, f"x{i}",
          json_text([{"role": "user", "content": f"Explain idea number {i} to a new developer, briefly."}]),
          "open_qa", "import", ld.boolean(False)) for i in range(1, n_rank + 1)),
    )

    def cid(prompt: int, j: int) -> int:
        return (prompt - 1) * k + j + 1

    counts["completions"] = ld.load(
        "completions", ["id", "public_id", "created_at", "prompt_id", "external_id", "content",
                        "model_name", "sampling"],
        ((cid(p, j), _pid("c", cid(p, j)), when(p), p, f"c{j}",
          f"Answer {j} to prompt {p}: " + "a fairly ordinary sentence of model output. " * 4,
          "sft-v1" if j % 2 else "ppo-v2", "{}")
         for p in range(1, n_rank + 1) for j in range(k)),
    )
    # Items 1..n_rank rank the prompt's 9 completions; the rest compare two of them.
    counts["work_items"] = ld.load(
        "work_items", ["id", "public_id", "created_at", "project_id", "prompt_id", "required", "taken",
                       "done", "is_open", "is_gold"],
        ((i, _pid("w", i), when(i), project_id, i if i <= n_rank else (i - n_rank - 1) % n_rank + 1,
          1, 1, 1, ld.boolean(False), ld.boolean(False)) for i in range(1, n_rank + n_pair + 1)),
    )

    def pair_of(i: int) -> tuple[int, int, int]:
        p = (i - n_rank - 1) % n_rank + 1
        a = (i * 7) % k
        return p, cid(p, a), cid(p, (a + 1 + i % (k - 1)) % k)

    def item_completions() -> Iterator[tuple[int, int, int]]:
        for i in range(1, n_rank + 1):
            for j in range(k):
                yield i, j, cid(i, j)
        for i in range(n_rank + 1, n_rank + n_pair + 1):
            _, a, b = pair_of(i)
            yield i, 0, a
            yield i, 1, b

    counts["item_completions"] = ld.load("item_completions", ["item_id", "position", "completion_id"],
                                         item_completions())
    common = ["id", "public_id", "created_at", "idempotency_key", "seconds", "shown_order", "item_id",
              "user_id", "project_id"]
    counts["rankings"] = ld.load(
        "rankings", [*common, "verdict"],
        ((i, _pid("r", i), when(i), f"k{i}", 30.0 + i % 60,
          json_text([_pid("c", cid(i, j)) for j in range(k)]), i, user_ids[i % 20], project_id,
          "ranked") for i in range(1, n_rank + 1)),
    )

    def entries() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n_rank + 1):
            order = list(range(k))
            rng.shuffle(order)
            group, groups = 0, []
            for _ in range(k):
                groups.append(group)
                if rng.random() > 0.15:  # about one tie in seven places
                    group += 1
            for place, j in enumerate(order):
                yield i, cid(i, j), groups[place], 1 + (k - place) * 6 // k, "[]"

    counts["ranking_entries"] = ld.load(
        "ranking_entries", ["ranking_id", "completion_id", "tie_group", "rating", "flags"], entries())
    counts["pairwise_judgements"] = ld.load(
        "pairwise_judgements", [*common, "winner", "margin_label"],
        ((i, _pid("p", i), when(i), f"k{i}", 20.0 + i % 40, "[]", n_rank + i, user_ids[i % 20],
          project_id, "a" if i % 3 else "b", MARGINS[i % 4]) for i in range(1, n_pair + 1)),
    )
    ld.commit()
    return {"fill_seconds": round(time.perf_counter() - start, 1), "rows": counts}


def _vm(field: str) -> float:
    """VmRSS / VmHWM of this process in MiB. (ru_maxrss would include the parent's peak:
    Linux carries it across exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def export_only(url: str, data_dir: Path, out: Path, trace: bool) -> dict[str, Any]:
    """Run in a child process: export the bench project; report time and peak memory."""
    import tracemalloc

    from app.db import make_engine, make_session_factory
    from app.exports import service
    from app.exports.schemas import ExportCreate

    settings = _settings(url, data_dir)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    rss_before = _vm("VmRSS")
    if trace:
        tracemalloc.start()
    with factory() as db:
        export_id = service.request_export(db, None, "bench", ExportCreate()).public_id
        db.commit()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 10:
            last[0] = now
            print(f"  {done:,}/{total:,} judgements", file=sys.stderr, flush=True)

    start = time.perf_counter()
    cpu0 = time.process_time()
    service.run_export(factory, settings, export_id, progress, out_dir=out)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    manifest = json.loads((out / "manifest.json").read_text())
    records = sum(f["records"] for f in manifest["files"].values())
    size = sum(p.stat().st_size for p in out.iterdir())
    engine.dispose()
    return {
        "export_seconds": round(wall, 1),
        "records": records,
        "records_per_second": round(records / wall),
        # The machine may be shared: CPU seconds say what the export itself cost.
        "export_cpu_seconds": round(cpu, 1),
        "records_per_cpu_second": round(records / cpu) if cpu else None,
        "judgements": manifest["counts"]["judgements"],
        "bytes_written": size,
        "peak_rss_mib": _vm("VmHWM"),
        "rss_before_export_mib": rss_before,
        "tracemalloc_peak_mib": round(traced_peak / 2**20, 1) if traced_peak is not None else None,
        "files": {n: f["records"] for n, f in manifest["files"].items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M pairwise + 100k rankings")
    ap.add_argument("--pg-admin", default=PG_ADMIN, help="URL of a PostgreSQL database to create the bench database from")
    ap.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    ap.add_argument("--keep", action="store_true", help="keep the database and the export")
    ap.add_argument("--export-only", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.export_only:
        result = export_only(args.export_only, Path(args.data_dir), Path(args.out), args.tracemalloc)
        print(json.dumps(result))
        return 0

    work = Path(tempfile.mkdtemp(prefix="rankwise-export-bench-"))
    pg_name = None
    if args.db == "sqlite":
        url = f"sqlite:///{work / 'bench.db'}"
    else:
        from sqlalchemy import create_engine, text

        pg_name = f"rankwise_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        admin.dispose()
        url = args.pg_admin.rsplit("/", 1)[0] + "/" + pg_name
    try:
        print(f"filling {args.db} at scale {args.scale} ...", file=sys.stderr, flush=True)
        filled = fill(url, work, args.scale)
        print(f"filled in {filled['fill_seconds']} s; exporting ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--export-only", url, "--data-dir", str(work),
               "--out", str(work / "export")]
        if args.tracemalloc:
            cmd.append("--tracemalloc")
        child = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
        sys.stderr.write(child.stderr)
        result = {"db": args.db, "scale": args.scale, **filled, **json.loads(child.stdout.strip().splitlines()[-1])}
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
            if pg_name:
                from sqlalchemy import create_engine, text

                admin = create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
