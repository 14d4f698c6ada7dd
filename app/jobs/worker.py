"""``rankwise worker``: claim queued jobs and run each in a child process.

The worker knows no kind of job: it is given the table kind → runner
(app/job_kinds.py builds it; ``rankwise worker`` passes it in), claims only the
kinds in that table, and hands the child the runner function itself.

Why a child process per job: a crash, an out-of-memory kill or a cancel ends
the child, never the worker; torch and CUDA state never leak from one job into
the next; and the web process, which only enqueues, never imports torch. The
child is started with the ``spawn`` method (a fresh interpreter, no inherited
database connections or threads).

While the child runs, the worker (this process) is the only writer of the job
row: it forwards the child's progress and metrics in short transactions,
refreshes the heartbeat, reads ``cancel_requested``, and tails the child's log
file into ``Job.log_tail``. On cancel it sets the child's stop event (the
trainer checks it after every step, saves a checkpoint and returns); a child
that has not stopped ``cancel_grace`` seconds later is killed. A child whose
worker disappears notices that its parent changed and exits, so a SIGKILLed
worker leaves no orphan training on the GPU; a worker started with
``--parent-pid`` (``rankwise serve`` does) does the same for its own parent.

The worker's own bookkeeping never leaves a job ``running``: an error while
recording a job's progress or result stops the child and fails the job with
that error, and an error in the loop itself (the database away) is logged and
the loop carries on at the next poll.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.jobs import service
from app.jobs.context import JobCancelled, JobContext, JobSpec, Runner
from app.models import utcnow

LOG_TAIL_BYTES = 16_000


@dataclass
class WorkerOptions:
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}"[:200])
    kinds: Sequence[str] | None = None
    poll_seconds: float = 1.0
    heartbeat_seconds: float = 2.0
    stale_after_seconds: float = 60.0
    cancel_grace_seconds: float = 15.0
    max_jobs: int | None = None  # stop after this many jobs (tests, one-shot runs)


def job_dir(settings: Settings, public_id: str) -> Path:
    return settings.data_dir / "jobs" / public_id


def read_log_tail(path: Path, limit: int = LOG_TAIL_BYTES) -> str:
    """The end of the child's log, with progress-bar redraws (``\\r``) collapsed."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            raw = fh.read()
    except FileNotFoundError:
        return ""
    lines = raw.decode("utf-8", "replace").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


# ---------------------------------------------------------------- the child


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)  # the worker died: do not keep a GPU busy for nobody
        time.sleep(0.5)


def _child_main(
    spec: JobSpec, settings: Settings, out: Any, stop: Any, parent_pid: int, log_path: str,
    run: Runner,
) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl-c goes to the worker, which decides
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()

    ctx = JobContext(spec, settings, Path(log_path).parent, out, stop)
    try:
        result = run(ctx)
        out.put(("done", result))
    except JobCancelled as exc:
        out.put(("cancelled", exc.result))
    except Exception as exc:
        traceback.print_exc()
        out.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        ctx.close()
        out.close()
        out.join_thread()


# ---------------------------------------------------------------- the worker


@dataclass
class _Outcome:
    kind: str | None = None  # done | cancelled | error
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    partial: dict[str, Any] = field(default_factory=dict)
    bookkeeping: str | None = None  # why the worker could not record the job's reports


class Worker:
    def __init__(self, settings: Settings, runners: Mapping[str, Runner],
                 options: WorkerOptions | None = None,
                 factory: sessionmaker[Session] | None = None) -> None:
        self.settings = settings
        self.options = options or WorkerOptions()
        unknown = sorted(set(self.options.kinds or ()) - set(runners))
        if unknown:
            raise ValueError(f"No runner for the job kinds {unknown}; this worker runs: "
                             f"{', '.join(sorted(runners))}.")
        self.runners = dict(runners)
        # Only kinds this worker can run are claimed; others wait for a worker that can.
        self.kinds = list(self.options.kinds or self.runners)
        self._engine = None
        if factory is None:
            self._engine = make_engine(settings)
            factory = make_session_factory(self._engine)
        self.factory = factory
        self.stopping = threading.Event()
        self.jobs_run = 0

    def reap(self) -> int:
        with unit_of_work(self.factory) as db:
            stale = timedelta(seconds=self.options.stale_after_seconds)
            return len(service.reap_stale(db, stale))

    def claim(self) -> JobSpec | None:
        with unit_of_work(self.factory) as db:
            job = service.claim(db, self.options.name, self.kinds)
            if job is None:
                return None
            return JobSpec(job.id, job.public_id, job.kind, dict(job.params), job.project_id,
                           job.created_by)

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            if self.options.max_jobs is not None and self.jobs_run >= self.options.max_jobs:
                break
            try:
                self.reap()
                spec = self.claim()
            except Exception:
                # The database is away or refused a write: nothing was claimed; try again.
                traceback.print_exc()
                self.stopping.wait(self.options.poll_seconds)
                continue
            if spec is None:
                self.stopping.wait(self.options.poll_seconds)
                continue
            try:
                self.run_job(spec)
            except Exception as exc:
                traceback.print_exc()
                self._fail_safely(spec, f"The worker failed while running the job: "
                                        f"{type(exc).__name__}: {exc}")
            self.jobs_run += 1
        if self._engine is not None:
            self._engine.dispose()

    def run_job(self, spec: JobSpec) -> None:
        folder = job_dir(self.settings, spec.public_id)
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / "job.log"
        mpc = mp.get_context("spawn")
        out = mpc.Queue()
        stop = mpc.Event()
        child = mpc.Process(
            target=_child_main,
            args=(spec, self.settings, out, stop, os.getpid(), str(log_path),
                  self.runners[spec.kind]),
            name=f"rankwise-job-{spec.public_id}",
        )
        child.start()
        outcome = _Outcome()
        progress: dict[str, Any] | None = None
        pending: list[tuple[int, dict[str, float]]] = []
        last_beat = 0.0
        kill_at: float | None = None
        owned, cancel_seen = True, False
        while True:
            alive = child.is_alive()
            drained = self._drain(out, outcome, pending, alive)
            if drained is not None:
                progress = drained
            now = time.monotonic()
            if outcome.bookkeeping is None and (
                now - last_beat >= self.options.heartbeat_seconds
                or (pending and now - last_beat > 0.5)
            ):
                beat = self._beat(spec, progress, pending, log_path, outcome)
                last_beat = now
                if beat is not None:  # recorded (or failed for good): these are done
                    pending.clear()
                    owned, cancel = beat
                    cancel_seen = cancel_seen or cancel
            stopping = (cancel_seen or not owned or self.stopping.is_set()
                        or outcome.bookkeeping is not None)
            if stopping and not stop.is_set():
                stop.set()
                kill_at = now + self.options.cancel_grace_seconds
            if kill_at is not None and now > kill_at and child.is_alive():
                child.kill()
            if not alive:
                break
        child.join()
        self._drain(out, outcome, pending, alive=False)
        if outcome.bookkeeping is not None:
            # What could not be recorded once would fail again: record only the verdict.
            progress, pending = None, []
        self._finish(spec, child.exitcode, outcome, progress, pending, log_path,
                     cancelled=cancel_seen, shutdown=self.stopping.is_set())

    def _drain(self, out: Any, outcome: _Outcome, pending: list[tuple[int, dict[str, float]]],
               alive: bool) -> dict[str, Any] | None:
        latest: dict[str, Any] | None = None
        timeout = 0.2 if alive else 0.0
        while True:
            try:
                kind, payload = out.get(timeout=timeout) if timeout else out.get_nowait()
            except (queue_mod.Empty, EOFError, OSError):
                return latest
            timeout = 0.0
            if kind == "progress":
                metrics = payload.pop("metrics", {})
                if metrics:
                    pending.append((int(payload["step"]), metrics))
                latest = {**payload, "updated_at": utcnow().isoformat(timespec="seconds")}
            elif kind == "partial":
                outcome.partial.update(payload)
            elif kind == "done":
                outcome.kind, outcome.result = "done", dict(payload or {})
            elif kind == "cancelled":
                outcome.kind, outcome.result = "cancelled", dict(payload or {})
            elif kind == "error":
                outcome.kind, outcome.error = "error", str(payload)

    def _beat(self, spec: JobSpec, progress: dict[str, Any] | None,
              pending: list[tuple[int, dict[str, float]]], log_path: Path,
              outcome: _Outcome) -> tuple[bool, bool] | None:
        """Heartbeat and forward progress → (still ours, cancel requested). A lost
        connection → None: the same reports are sent again at the next beat (the reaper
        covers a long outage). Any other error means the job's reports cannot be stored:
        it is noted in ``outcome`` and the job is stopped."""
        try:
            with unit_of_work(self.factory) as db:
                owned, cancel = service.heartbeat(db, spec.id, self.options.name)
                if owned:
                    service.record_progress(db, spec.id, self.options.name, progress=progress,
                                            metrics=list(pending),
                                            log_tail=read_log_tail(log_path))
            return owned, cancel
        except (OperationalError, InterfaceError):
            traceback.print_exc()
            return None
        except Exception as exc:
            traceback.print_exc()
            outcome.bookkeeping = (f"The worker could not record the job's progress "
                                   f"({type(exc).__name__}: {exc}); the job was stopped.")
            return True, False

    def _finish(self, spec: JobSpec, exitcode: int | None, outcome: _Outcome,
                progress: dict[str, Any] | None, pending: list[tuple[int, dict[str, float]]],
                log_path: Path, *, cancelled: bool, shutdown: bool) -> None:
        tail = read_log_tail(log_path)
        name = self.options.name
        result = {**outcome.partial, **outcome.result}
        try:
            with unit_of_work(self.factory) as db:
                if pending or progress is not None:
                    service.record_progress(db, spec.id, name, progress=progress,
                                            metrics=list(pending))
                if outcome.bookkeeping is not None:
                    service.fail(db, spec.id, name, outcome.bookkeeping, log_tail=tail)
                elif outcome.kind == "done":
                    service.succeed(db, spec.id, name, result, log_tail=tail)
                elif cancelled:
                    service.mark_cancelled(db, spec.id, name, result, log_tail=tail)
                elif shutdown:
                    service.fail(db, spec.id, name, "The worker was shut down while the job "
                                 "ran; start the job again to resume from its last checkpoint.",
                                 result, log_tail=tail)
                elif outcome.kind == "error":
                    service.fail(db, spec.id, name, outcome.error or "failed", result,
                                 log_tail=tail)
                else:
                    service.fail(db, spec.id, name, _exit_reason(exitcode), result,
                                 log_tail=tail)
        except Exception as exc:
            traceback.print_exc()
            self._fail_safely(spec, f"The job ended but the worker could not record how "
                                    f"({type(exc).__name__}: {exc}).", tail)

    def _fail_safely(self, spec: JobSpec, reason: str, log_tail: str | None = None) -> None:
        """Fail the job with ``reason`` alone, in a fresh transaction; if even that
        cannot be written, the reaper fails the job once its heartbeat is stale."""
        try:
            with unit_of_work(self.factory) as db:
                service.fail(db, spec.id, self.options.name, reason, log_tail=log_tail)
        except Exception:
            traceback.print_exc()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode).name
        except ValueError:
            sig = str(-exitcode)
        hint = " (SIGKILL is usually the out-of-memory killer)" if sig == "SIGKILL" else ""
        return f"The job process was killed by {sig}{hint}; see the log tail."
    return f"The job process exited with code {exitcode} without a result; see the log tail."


def run_worker(worker: Worker, parent_pid: int | None = None) -> None:
    """Run until SIGTERM/SIGINT (the job in hand is stopped gracefully) or, with
    ``parent_pid``, until that process is gone."""
    if parent_pid is not None:
        threading.Thread(target=_exit_with, args=(parent_pid, worker), daemon=True).start()

    def _graceful(signum: int, _frame: Any) -> None:
        worker.stopping.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):
                signal.signal(sig, _graceful)
    worker.run_forever()


PARENT_POLL_SECONDS = 0.5


def _exit_with(parent_pid: int, worker: Worker) -> None:
    """Stop when the process that started this worker is gone (killed, even by
    SIGKILL): this worker is then adopted by another process."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    worker.stopping.set()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process (the one that started the worker) ends")
    parser.add_argument("--kinds", help="comma-separated job kinds to take (default: all)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls when idle")
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds between heartbeats")
    parser.add_argument("--stale-after", type=float, default=60.0,
                        help="a running job whose heartbeat is older than this is failed")
    parser.add_argument("--cancel-grace", type=float, default=15.0,
                        help="seconds a cancelled job gets to checkpoint before it is killed")
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs")


def options_from(args: argparse.Namespace) -> WorkerOptions:
    return WorkerOptions(
        kinds=[k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None,
        poll_seconds=args.poll,
        heartbeat_seconds=args.heartbeat,
        stale_after_seconds=args.stale_after,
        cancel_grace_seconds=args.cancel_grace,
        max_jobs=args.max_jobs,
    )


def main(argv: Sequence[str] | None, runners: Mapping[str, Runner]) -> int:
    """``rankwise worker [options]`` with the given table of runners."""
    parser = argparse.ArgumentParser(prog="rankwise worker", description="Run background jobs.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    settings = get_settings()
    options = options_from(args)
    try:
        worker = Worker(settings, runners, options)
    except ValueError as exc:
        print(f"rankwise worker: {exc}", file=sys.stderr)
        return 2
    print(f"rankwise worker {options.name}: polling {settings.database_url.split('@')[-1]} "
          f"for {', '.join(sorted(worker.kinds))}", flush=True)
    run_worker(worker, parent_pid=args.parent_pid)
    return 0
