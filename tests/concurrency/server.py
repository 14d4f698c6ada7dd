"""A real uvicorn process serving the app, for tests that kill and restart it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, database_url: str, data_dir: Path, secret: str, threads: int = 40) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RANKWISE_ENV": "test",
            "RANKWISE_DATABASE_URL": database_url,
            "RANKWISE_DATA_DIR": str(data_dir),
            "RANKWISE_SECRET_KEY": secret,
            "RANKWISE_START_WORKER": "false",
            "RANKWISE_SUBMIT_RATE_PER_MINUTE": "100000",
            "RANKWISE_POOL_SIZE": str(threads),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = data_dir / "server.log"

    def start(self, timeout: float = 60.0) -> None:
        cmd = [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
        ]
        log = self._log.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self._log.read_text()[-2000:]}")
            try:
                httpx.get(f"{self.url}/api/v1/auth/me", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush — what a power cut looks like to the app."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
