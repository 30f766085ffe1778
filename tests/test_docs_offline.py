"""The API docs as a newcomer opens them on a machine without internet: every request that
would leave 127.0.0.1 is refused, and /docs must still render the API under its own strict
content security policy, and Swagger UI's Authorize must log in."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from orders.enums import Role
from orders.models import User
from tests.browser_harness import ON_SQLITE
from tests.conftest import PASSWORD

pytest_plugins = ["tests.browser_harness"]
pytestmark = ON_SQLITE


def offline_page(browser: Browser) -> tuple[Page, list[str], list[str]]:
    """A page whose network ends at 127.0.0.1; with the requests refused for going further,
    and the script errors and policy violations the page reported."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    refused: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return page, refused, problems


def test_the_api_docs_render_and_log_in_without_internet(
    browser: Browser,
    base_url: str,
    make_user: Callable[..., User],
) -> None:
    agent = make_user(Role.AGENT)
    page, refused, problems = offline_page(browser)

    response = page.goto(f"{base_url}/docs")

    assert response is not None and response.ok
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "connect-src 'self'" in policy
    assert "unsafe" not in policy
    token_route = page.locator(".opblock-summary-path", has_text="/api/auth/token")
    # The first request for the OpenAPI document builds it: seconds on a busy machine.
    expect(token_route).to_be_visible(timeout=30_000)
    # Authorize as the README tells a newcomer to, then call an operation with the token.
    page.click("button.authorize")
    page.fill("#oauth_username", agent.username)
    page.fill("#oauth_password", PASSWORD)
    page.click(".auth-btn-wrapper button.authorize")
    expect(page.locator(".auth-container", has_text="Logout")).to_be_visible()
    page.click(".auth-btn-wrapper button.btn-done")
    me = page.locator(".opblock-get", has=page.locator(".opblock-summary-path", has_text="/api/me"))
    me.first.locator(".opblock-summary").click()
    me.first.locator("button.try-out__btn").click()
    me.first.locator("button.execute").click()
    answer = me.first.locator(".live-responses-table tbody tr.response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text(
        f'"username": "{agent.username}"'
    )
    assert refused == []
    assert problems == []
