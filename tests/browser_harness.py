"""Debian's Chromium through Playwright, for the console's browser tests: the browser, a
live server of the test's app, and a page logged in as a user."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from agent_console.config import ConsoleConfig
from tests.conftest import IN_CI, PASSWORD
from tests.live_server import serve

CHROMIUM = "/usr/bin/chromium"
ON_SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
"""For the browser tests: the pages are under test, not the database (every route they
call is tested on PostgreSQL and SQLite by the API tests), and a page's test is among the
slowest of the suite."""
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EXPECT_TIMEOUT_MS = 15_000
"""How long an assertion on a page waits. Playwright's 5 s is short for a 2-core machine
running three test workers beside a browser: a log-in's token request took longer in CI.
A passing assertion returns as soon as it holds, so this costs only failing tests."""
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("Chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def base_url(app: Any, browser: Browser) -> Iterator[str]:
    # The wall's day figures are rebuilt on every push here, so a test sees them move at once.
    app.state.console_config = ConsoleConfig(wall_slow_seconds=0, wall_min_interval_seconds=0.1)
    with serve(app) as address:
        yield f"http://{address}"
    for context in browser.contexts:
        context.close()


def login_page(
    browser: Browser,
    base_url: str,
    username: str,
    viewport: dict[str, int],
    *,
    timezone_id: str | None = None,
) -> tuple[Page, list[str]]:
    """A new browser context at ``viewport`` (in ``timezone_id``, else the machine's zone),
    logged in to the console as ``username``; with the messages of any dialog the page
    opened and of any script error."""
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        locale="zh-CN",
        timezone_id=timezone_id,
    )
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # A script error is a defect even when the page still looks right.
    page.on("pageerror", lambda error: dialogs.append(f"script error: {error}"))
    page.goto(f"{base_url}/console")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    try:
        expect(page.locator("body")).to_have_attribute("data-console", "ready")
    except AssertionError as failure:
        raise AssertionError(f"the console did not get ready: {dialogs}") from failure
    return page, dialogs


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
