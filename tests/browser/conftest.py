"""Browser tests: Playwright (sync API) driving Debian's Chromium against the portal served by a live
server, on the demo data.

- Without /usr/bin/chromium these tests, and only these, are skipped at collection with the reason;
  `.ci/run` installs Chromium, so CI always runs them. We never run `playwright install`: the pip
  package drives the system browser through `executable_path`.
- The demo data is seeded once, committed, for all the browser tests (package scope). pytest-django's
  `live_server` fixture would make every test transactional and flush the database after each one
  (its `_live_server_helper`), so we start the same server class (pytest_django.live_server_helper.
  LiveServer) ourselves, keep the database unblocked for it, and flush the database at the end the
  way a transactional test does. The tests are marked `django_db` (each in a transaction rolled back
  at its end), which is also what tells pytest-django to create the test database.
- Each page is watched: console errors and uncaught exceptions, error responses, the host of every
  request, and every request that leaves the live server (aborted, so the tests really run offline).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
SKIP_REASON = f"{CHROMIUM} not installed; .ci/run installs it (apt-get install chromium)"
BROWSER_TESTS = Path(__file__).parent
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# Wide enough for the sidebar navigation to show (narrow screens fold it behind a menu button).
VIEWPORT = {"width": 1366, "height": 900}
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/browser/ `browser`, and skip them (only them) without Chromium."""
    for item in items:
        if BROWSER_TESTS in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="package")
def browser():
    """Chromium, launched once for all the browser tests."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API marks its event loop as running in this thread, which Django takes for an
    # async context: it refuses the ORM (the seeding, each test's database fixture) while the browser
    # is open. No query runs during a browser call, so the ORM is allowed then, for these tests only.
    with mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}), sync_playwright() as playwright:
        # Root (a CI container) cannot use Chromium's sandbox.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def portal(browser, django_db_setup, django_db_blocker):
    """The demo (one month of usage, last month closed) served by a live server; its base URL.

    Set up after `browser` on purpose: while Playwright's sync API is open its event loop counts as
    running in this thread, and Django's connections (asgiref's Local) are then a separate set from
    the thread's usual ones. The server must share the very connection the tests use (an in-memory
    SQLite database lives in one connection), so it is created once the browser is open."""
    from pytest_django.live_server_helper import LiveServer

    from prm.operations.demo import seed_demo

    with django_db_blocker.unblock():
        seed_demo(usage_months=1)
        server = LiveServer("localhost")
        # Stopping the server waits for its request threads (daemons by default): one still closing
        # its database connection after the server stopped sharing it would fail in that thread.
        server.thread.httpd.daemon_threads = False
        server._live_server_modified_settings.enable()  # ALLOWED_HOSTS += localhost, as live_server does
        try:
            yield server.url
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            for alias in connections:
                call_command("flush", database=alias, interactive=False, verbosity=0)


@dataclass
class PageWatch:
    """What a page did that a user would not want: console errors, script errors, requests elsewhere."""

    origin: str
    hosts: set[str] = field(default_factory=set)  # of every request the pages made
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    responses: list[tuple[int, str]] = field(default_factory=list)  # (status, url) of 4xx/5xx from our server

    def problems(self) -> list[str]:
        return (
            [f"console error: {message}" for message in self.console_errors]
            + [f"request to another host: {url}" for url in self.external_requests]
            + [f"HTTP {status}: {url}" for status, url in self.responses]
        )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


@pytest.fixture
def watch(portal) -> PageWatch:
    return PageWatch(origin=portal)


@pytest.fixture(scope="package")
def static_files() -> dict:
    """Static files as the live server first served them, by URL: see `page`."""
    return {}


@pytest.fixture
def page(browser, portal, watch, static_files):
    """A fresh browser context (no cookies) and page on the live server, watched by `watch`."""
    context = browser.new_context(base_url=portal, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    ours = _origin(portal)

    def route_request(route):
        url = route.request.url
        watch.hosts.add(urlsplit(url).netloc)
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and _origin(url) != ours:
            watch.external_requests.append(url)
            route.abort()  # offline, as the portal must work
        elif urlsplit(url).path.startswith("/static/") and route.request.method == "GET":
            # Routing turns the browser's HTTP cache off, and every test has a fresh context: without
            # this, each page would fetch plotly.min.js (megabytes) from the live server again, as a
            # first-time visitor does. The server serves each file once; later pages get that response.
            if url not in static_files:
                response = route.fetch()
                static_files[url] = {"status": response.status, "headers": response.headers, "body": response.body()}
            route.fulfill(**static_files[url])
        else:
            route.continue_()

    context.route("**/*", route_request)

    def console(message):
        if message.type == "error":
            watch.console_errors.append(message.text)

    def response(response):
        if response.status >= 400 and _origin(response.url) == ours:
            watch.responses.append((response.status, response.url))

    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", lambda error: watch.console_errors.append(f"uncaught: {error}"))
    page.on("response", response)
    yield page
    context.close()
