"""Headless Chromium (Debian's package) driven by Playwright, for tests that need a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@contextmanager
def _chromium_page(monkeypatch) -> Iterator[object]:
    path = chromium_path()
    if path is None:
        pytest.fail(
            "Chromium is not installed, so the browser tests cannot run. `make test` installs it when run as root "
            "(apt-get install -y chromium); otherwise install Debian's chromium package, or set CHROMIUM_PATH.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # The test's own ORM calls stay synchronous while Playwright's loop runs.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def page(live_server, monkeypatch) -> Iterator[object]:
    """A fresh headless Chromium page. It depends on the live server (and so the database) so that Playwright,
    whose sync API keeps an event loop running in this thread, is gone before the database is flushed."""
    with _chromium_page(monkeypatch) as new_page:
        yield new_page


# --- a real ASGI server (websockets), for the support console test ----------------------------------------------


def _test_database_env() -> dict[str, str]:
    """The environment for a server process that works on this test run's database (as conftest._celery_env)."""
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connection

    env = dict(os.environ)
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(name)
    else:
        env["DATABASE_URL"] = urlunsplit(urlsplit(env["DATABASE_URL"])._replace(path=f"/{name}"))
    return env


@pytest.fixture
def asgi_server(transactional_db, tmp_path) -> Iterator[str]:
    """``uvicorn engipay.asgi:application`` (HTTP and websockets, Channels over the test Redis) on a free port and
    the test database; pytest-django's ``live_server`` is WSGI only. Tests using it must be transactional so the
    server sees their data. Stopped before the database is flushed."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "uvicorn.log"
    cmd = [sys.executable, "-m", "uvicorn", "engipay.asgi:application", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=_test_database_env(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health/", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not come up:\n{log.read_text()}", pytrace=False)
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.returncode not in (0, -15):
            sys.stderr.write(log.read_text())


@pytest.fixture
def asgi_page(asgi_server, monkeypatch) -> Iterator[object]:
    """A fresh headless Chromium page for ``asgi_server`` (closed before the server stops)."""
    with _chromium_page(monkeypatch) as new_page:
        yield new_page
