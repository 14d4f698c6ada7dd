"""`rankwise serve` (and `rankwise demo`, which serves the same way) with its local
worker, as real processes: however serve stops — SIGTERM, SIGINT, or SIGKILL that
leaves it no chance to clean up — no worker is left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET

STARTUP_SECONDS = 60
GONE_SECONDS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_state(pid: int) -> str | None:
    """The state letter from /proc (R, S, Z, ...), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def gone(pid: int) -> bool:
    return process_state(pid) in (None, "Z")  # a zombie has exited; only its entry is left


def worker_children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"worker" in cmdline:
            found.append(int(entry.name))
    return found


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


class Serve:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.worker = 0

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def started(command: str, database_url: str, tmp_path: Path) -> Iterator[Serve]:
    """`rankwise serve` (or `demo`) on a loopback port, up and answering, with its worker
    polling; whatever is left of them is killed afterwards."""
    env = {**os.environ, "RANKWISE_DATABASE_URL": database_url, "RANKWISE_DATA_DIR": str(tmp_path),
           "RANKWISE_ENV": "test", "RANKWISE_SECRET_KEY": TEST_SECRET,
           "RANKWISE_START_WORKER": "true"}
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", command, "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    running = Serve(proc, port, log)
    try:
        assert wait_until(running.answers, STARTUP_SECONDS), running.output()
        assert wait_until(lambda: "rankwise worker" in running.output(), STARTUP_SECONDS), running.output()
        (running.worker,) = worker_children(proc.pid)
        yield running
    finally:
        for pid in (proc.pid, *worker_children(proc.pid)):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Serve]:
    with started("serve", database_url, tmp_path) as running:
        yield running


class TestStoppingServe:
    def test_sigterm_stops_serve_and_its_worker(self, serve: Serve) -> None:
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(30) == 128 + signal.SIGTERM, serve.output()
        assert wait_until(lambda: gone(serve.worker), GONE_SECONDS), serve.output()
        assert not serve.answers()

    def test_sigint_stops_serve_and_its_worker(self, serve: Serve) -> None:
        serve.proc.send_signal(signal.SIGINT)
        assert serve.proc.wait(30) == 128 + signal.SIGINT, serve.output()
        assert wait_until(lambda: gone(serve.worker), GONE_SECONDS), serve.output()

    def test_a_worker_whose_serve_was_killed_exits_by_itself(self, serve: Serve) -> None:
        serve.proc.send_signal(signal.SIGKILL)
        serve.proc.wait(10)
        assert process_state(serve.worker) not in (None, "Z")  # it was not killed with serve
        assert wait_until(lambda: gone(serve.worker), GONE_SECONDS), serve.output()

    def test_sigterm_stops_the_demo_and_its_worker(self, database_url: str, tmp_path: Path) -> None:
        with started("demo", database_url, tmp_path) as demo:
            assert "admin@example.com" in demo.output()  # it seeded, then served
            demo.proc.send_signal(signal.SIGTERM)
            assert demo.proc.wait(30) == 128 + signal.SIGTERM, demo.output()
            assert wait_until(lambda: gone(demo.worker), GONE_SECONDS), demo.output()
