"""A real server and a real browser for the end-to-end tests.

uvicorn serves the app from an SQLite file in a subprocess; the tests arrange
rows straight in that file and drive Debian's Chromium through Playwright.
Without /usr/bin/chromium these tests fail (CI must not pass without them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_session_factory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SHOTS = Path("/tmp/rankwise-shots")
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
TABLET: ViewportSize = {"width": 820, "height": 1180}
SECRET = "e2e-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


@dataclass
class Server:
    url: str
    sessions: sessionmaker[Session]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{data / 'rankwise.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "RANKWISE_ENV": "test",
        "RANKWISE_DATA_DIR": str(data),
        "RANKWISE_DATABASE_URL": url,
        "RANKWISE_SECRET_KEY": SECRET,
        "RANKWISE_START_WORKER": "false",
        "RANKWISE_LOGIN_RATE_PER_MINUTE": "1000",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.2)
    engine = make_engine(
        Settings.model_validate({"env": "test", "data_dir": data, "database_url": url, "secret_key": SECRET})
    )
    try:
        yield Server(base, make_session_factory(engine))
    finally:
        engine.dispose()
        proc.terminate()
        proc.wait(timeout=10)


# Package scope, not session: Playwright's sync API keeps an event loop running
# in the main thread while it is open, which breaks later tests that call asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def db(server: Server) -> Iterator[Session]:
    session = server.sessions()
    yield session
    session.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield pg
    context.close()
    assert not errors, f"the page raised errors: {errors}"


def shot(page: Page, name: str) -> None:
    """Screenshots at laptop and tablet width, for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or LAPTOP
    for label, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=False)
    page.set_viewport_size(size)


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda u: "/login" not in u)
