"""What a runner sees inside the job's child process.

A *runner* is a module-level function ``(JobContext) -> dict`` that does one kind
of job and returns its result (a JSON object). Each domain writes the runners of
its own kinds; app/job_kinds.py hands the table of them to the worker, which
passes the function to the child by reference (the child imports its module).

The child talks to its worker through a multiprocessing queue (progress,
metrics, the outcome) and an event (stop). It never touches the job row
itself: the worker owns the row, so a child that hangs or dies cannot leave it
half-written. Runners that need the database (sampling, exports, registering a
trained model) open their own short units of work through :meth:`session`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_session_factory, unit_of_work


class JobCancelled(Exception):
    """Raised by a runner that stopped because the job was cancelled."""

    def __init__(self, result: dict[str, Any] | None = None) -> None:
        super().__init__("cancelled")
        self.result = result or {}


@dataclass(frozen=True)
class JobSpec:
    """The claimed job as its child sees it (plain values; no database row)."""

    id: int
    public_id: str
    kind: str
    params: dict[str, Any]
    project_id: int | None
    created_by: int | None


@dataclass
class JobContext:
    spec: JobSpec
    settings: Settings
    job_dir: Path
    _queue: Any  # multiprocessing.Queue of (event, payload)
    _stop: Any  # multiprocessing.Event
    _engine: Engine | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic)

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.params

    def should_stop(self) -> bool:
        return bool(self._stop.is_set())

    def check_stop(self, result: dict[str, Any] | None = None) -> None:
        if self.should_stop():
            raise JobCancelled(result)

    def progress(
        self,
        step: int,
        total: int,
        *,
        metrics: dict[str, float] | None = None,
        stage: str | None = None,
        eta_seconds: float | None = None,
        message: str | None = None,
    ) -> None:
        if eta_seconds is None and step > 0 and total > step:
            eta_seconds = (time.monotonic() - self._started) / step * (total - step)
        self._queue.put(("progress", {
            "step": step,
            "total": total,
            "stage": stage or self.spec.kind,
            "eta_seconds": None if eta_seconds is None else round(eta_seconds, 1),
            "message": message,
            "metrics": metrics or {},
        }))

    def record(self, key: str, value: Any) -> None:
        """A partial result (e.g. the command line) kept even if the job fails later."""
        self._queue.put(("partial", {key: value}))

    def log(self, message: str) -> None:
        print(message, flush=True)

    def session_factory(self) -> sessionmaker[Session]:
        if self._engine is None:
            self._engine = make_engine(self.settings.model_copy(update={"pool_size": 2}))
        return make_session_factory(self._engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short unit of work (committed on success)."""
        with unit_of_work(self.session_factory()) as db:
            yield db

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        sys.stdout.flush()


Runner = Callable[[JobContext], dict[str, Any]]
