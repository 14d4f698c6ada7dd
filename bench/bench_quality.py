"""Quality page latency at 10,000 and 1,000,000 judgements.

    .venv/bin/python bench/bench_quality.py                       # SQLite file, 10k and 1M
    .venv/bin/python bench/bench_quality.py --db postgres         # PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/bench_quality.py --sizes 10000 --kind ranking

For each size a fresh database gets a pairwise (or 4-way ranking) project: 20 simulated
labelers of different accuracy, position bias and speed, overlap 3 (so size/3 items),
2 % gold items, judgements spread over 60 days — inserted in bulk (executemany / COPY,
bench/bench_export.py's loader). Then it prints:

- the first count of every judgement (what `POST …/quality:refresh` does once, a few
  hundred judgements per transaction);
- the quality page (GET /api/v1/projects/{id}/quality through the app, auth included)
  when nothing is new: median and slowest of 7 calls;
- the page right after 1,000 more judgements arrived (it counts 300 of them, answers,
  and counts the rest after answering).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_export import PG_ADMIN, Loader, _pid, _settings  # noqa: E402

T0 = datetime(2026, 9, 1, tzinfo=UTC)
LABELERS = 20
OVERLAP = 3
MARGINS = ["significantly_better", "better", "slightly_better", "negligibly_better"]


class World:
    """What the bench built: ids to continue from, and the admin's token."""

    def __init__(self, project_id: int, public_id: str, users: list[int], k: int, token: str) -> None:
        self.project_id, self.public_id, self.users, self.k, self.token = project_id, public_id, users, k, token
        self.next_prompt = self.next_completion = self.next_item = self.next_judgement = 1


def _labeler_traits(rng: random.Random) -> list[tuple[float, float, float]]:
    """(accuracy, chance of just picking the first shown, median seconds) per labeler."""
    traits = []
    for i in range(LABELERS):
        accuracy = rng.uniform(0.65, 0.95)
        position = 0.7 if i == 3 else 0.0
        seconds = 1.0 if i == 7 else rng.uniform(15, 45)
        traits.append((accuracy, position, seconds))
    return traits


def _prefers(
    rng: random.Random, utility: list[float], shown: list[int], accuracy: float, position: float, x: int, y: int
) -> bool:
    """Whether a simulated labeler prefers completion x to y."""
    if rng.random() < position:
        return shown.index(x) < shown.index(y)
    truth = utility[x] > utility[y]
    return truth if rng.random() < accuracy else not truth


def setup(url: str, data_dir: Path, kind: str) -> World:
    from app.auth import service as auth
    from app.db import make_engine, make_session_factory, unit_of_work
    from app.migrate import upgrade
    from app.models import Project, ProjectMember, Role, TaskKind, User

    engine = make_engine(_settings(url, data_dir))
    upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as db:
        project = Project(slug="bench", name="Bench", task_kind=TaskKind(kind), overlap=OVERLAP)
        db.add(project)
        users = [User(email=f"q{i}@example.org", display_name=f"Labeler {i}", password_hash="!") for i in range(LABELERS)]
        admin = User(email="admin@example.org", display_name="Admin", password_hash="!", role=Role.admin)
        db.add_all([*users, admin])
        db.flush()
        db.add_all(ProjectMember(project_id=project.id, user_id=u.id) for u in users)
        _, token = auth.create_api_token(db, admin, "bench")
        world = World(project.id, project.public_id, [u.id for u in users], 2 if kind == "pairwise" else 4, token)
    engine.dispose()
    return world


def fill(
    url: str, world: World, judgements: int, rng: random.Random, *, made_from: datetime = T0, days: float = 60
) -> float:
    """Add ``judgements`` judgements on ``judgements / 3`` new items, made from ``made_from``
    over ``days``; returns seconds."""
    start = time.perf_counter()
    traits = _labeler_traits(random.Random(0))
    ld = Loader(url)
    items = judgements // OVERLAP
    first_item, first_prompt, first_completion = world.next_item, world.next_prompt, world.next_completion
    k = world.k
    utilities = {i: [rng.gauss(0, 1) for _ in range(k)] for i in range(items)}
    lengths = {i: [rng.randint(40, 600) for _ in range(k)] for i in range(items)}
    span = days * 86400 / max(1, judgements)

    def when(n: int) -> Any:
        return ld.ts(made_from + timedelta(seconds=n * span))

    ld.load("prompts", ["id", "public_id", "created_at", "project_id", "external_id", "messages", "category",
                        "source", "held_out"],
            ((first_prompt + i, _pid("q", first_prompt + i), when(i), world.project_id, f"x{first_prompt + i}",
              json.dumps([{"role": "user", "content": f"Question {first_prompt + i}?"}]), "open_qa",
              "gold" if i % 50 == 0 else "import", ld.boolean(False)) for i in range(items)))

    def cid(i: int, j: int) -> int:
        return first_completion + i * k + j

    ld.load("completions", ["id", "public_id", "created_at", "prompt_id", "external_id", "content", "model_name",
                            "sampling"],
            ((cid(i, j), _pid("c", cid(i, j)), when(i), first_prompt + i, f"c{j}", "x" * lengths[i][j], "m", "{}")
             for i in range(items) for j in range(k)))

    def gold(i: int) -> Any:
        if i % 50:
            return None
        best = max(range(k), key=lambda j: utilities[i][j])
        worst = min(range(k), key=lambda j: utilities[i][j])
        above = [[_pid("c", cid(i, best)), _pid("c", cid(i, worst))]]
        return json.dumps({"above": above, "margins": None, "screening": False, "note": None, "order": None})

    ld.load("work_items", ["id", "public_id", "created_at", "project_id", "prompt_id", "required", "taken", "done",
                           "is_open", "is_gold", "gold"],
            ((first_item + i, _pid("w", first_item + i), when(i), world.project_id, first_prompt + i,
              OVERLAP, OVERLAP, OVERLAP, ld.boolean(False), ld.boolean(i % 50 == 0), gold(i)) for i in range(items)))
    ld.load("item_completions", ["item_id", "position", "completion_id"],
            ((first_item + i, j, cid(i, j)) for i in range(items) for j in range(k)))

    def votes() -> Iterator[tuple[int, int, list[int], list[int], float, int]]:
        n = 0
        for i in range(items):
            for user in rng.sample(range(LABELERS), OVERLAP):
                accuracy, position, seconds = traits[user]
                shown = list(range(k))
                rng.shuffle(shown)

                order = list(shown)
                for a in range(1, k):
                    b = a
                    while b > 0 and _prefers(rng, utilities[i], shown, accuracy, position, order[b], order[b - 1]):
                        order[b], order[b - 1] = order[b - 1], order[b]
                        b -= 1
                yield n, i, order, shown, rng.lognormvariate(0, 0.3) * seconds, world.users[user]
                n += 1

    common = ["id", "public_id", "created_at", "idempotency_key", "seconds", "shown_order", "item_id", "user_id",
              "project_id"]
    rows = list(votes())
    first = world.next_judgement

    def head(n: int, i: int, shown: list[int], seconds: float, user: int) -> tuple[Any, ...]:
        jid = first + n
        return (jid, _pid("j", jid), when(n), f"k{jid}", seconds, json.dumps([_pid("c", cid(i, j)) for j in shown]),
                first_item + i, user, world.project_id)

    labeled = rows
    if k == 2:
        ld.load("pairwise_judgements", [*common, "winner", "margin_label"],
                ((*head(n, i, shown, s, u), "a" if order[0] == 0 else "b", rng.choice(MARGINS))
                 for n, i, order, shown, s, u in labeled))
    else:
        ld.load("rankings", [*common, "verdict"],
                ((*head(n, i, shown, s, u), "ranked") for n, i, order, shown, s, u in labeled))
        ld.load("ranking_entries", ["ranking_id", "completion_id", "tie_group", "rating", "flags"],
                ((first + n, cid(i, j), place, None, "[]")
                 for n, i, order, _, _, _ in labeled for place, j in enumerate(order)))
    ld.commit()
    world.next_item += items
    world.next_prompt += items
    world.next_completion += items * k
    world.next_judgement += len(rows)
    return time.perf_counter() - start


def first_count(url: str, data_dir: Path, world: World) -> tuple[float, int]:
    from sqlalchemy import func, select

    from app.db import make_engine, make_session_factory, unit_of_work
    from app.models import QualityBin
    from app.quality import service

    engine = make_engine(_settings(url, data_dir))
    start = time.perf_counter()
    service.count_backlog(make_session_factory(engine), world.project_id)
    seconds = time.perf_counter() - start
    with unit_of_work(make_session_factory(engine)) as db:
        bins = int(db.scalar(select(func.count()).select_from(QualityBin)) or 0)
    engine.dispose()
    return seconds, bins


class Page:
    """The app in-process with a client, warmed up by one call (first-request costs are
    the server's start, not the page's)."""

    def __init__(self, url: str, data_dir: Path, world: World) -> None:
        from fastapi.testclient import TestClient

        from app.main import create_app

        self.app = create_app(_settings(url, data_dir), migrate=False)
        self.client = TestClient(self.app)
        self.path = f"/api/v1/projects/{world.public_id}/quality"
        self.headers = {"Authorization": f"Bearer {world.token}"}
        self.first, _ = self.get()

    def get(self) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        r = self.client.get(self.path, headers=self.headers)
        elapsed = time.perf_counter() - start
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return elapsed, body

    def close(self) -> None:
        self.client.close()
        self.app.state.engine.dispose()


def database(kind: str, tmp: Path, n: int) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'quality{n}.db'}", None
    from sqlalchemy import create_engine, text

    admin_url = os.environ.get("RANKWISE_BENCH_PG", PG_ADMIN)
    name = f"rankwise_qbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--sizes", default="10000,1000000", help="judgement counts, comma separated")
    parser.add_argument("--kind", choices=("pairwise", "ranking"), default="pairwise")
    parser.add_argument("--calls", type=int, default=7)
    args = parser.parse_args()
    print(f"# quality page, {args.db}, {args.kind}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url, drop = database(args.db, Path(tmp), size)
            try:
                rng = random.Random(size)
                world = setup(url, Path(tmp), args.kind)
                built = fill(url, world, size, rng)
                counted, bins = first_count(url, Path(tmp), world)
                page = Page(url, Path(tmp), world)
                calls = [page.get() for _ in range(args.calls)]
                times, body = [t for t, _ in calls], calls[-1][1]
                # Made in the last minute, as new submits are (the count trails the clock).
                fill(url, world, 1_000, rng, made_from=datetime.now(UTC) - timedelta(minutes=1), days=0.0005)
                after, fresh = page.get()
                settled, _ = page.get()  # the rest was counted after the previous answer
                page.close()
                flagged = sum(1 for row in body["labelers"] if row["flags"])
                print(
                    f"{size:>9,} judgements  build {built:6.1f} s  first count {counted:6.1f} s  {bins:,} bins\n"
                    f"{'':>9}  page: first {page.first * 1000:6.1f} ms, then median "
                    f"{statistics.median(times) * 1000:6.1f} ms, slowest {max(times) * 1000:6.1f} ms\n"
                    f"{'':>9}  after 1,000 new judgements: {after * 1000:6.1f} ms ({fresh['pending']} left to count "
                    f"after it), the next view {settled * 1000:6.1f} ms\n"
                    f"{'':>9}  agreement {body['figures']['agreement']['value']:.3f}, alpha "
                    f"{body['figures']['alpha']['value']:.3f}, {flagged} of {len(body['labelers'])} labelers flagged"
                )
            finally:
                if drop is not None:
                    drop()


if __name__ == "__main__":
    main()
