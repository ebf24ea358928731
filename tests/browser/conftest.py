"""Headless Chromium (Debian's package) driven by Playwright, for tests that need a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture
def page(live_server, monkeypatch) -> Iterator[object]:
    """A fresh headless Chromium page. It depends on the live server (and so the database) so that Playwright,
    whose sync API keeps an event loop running in this thread, is gone before the database is flushed."""
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
