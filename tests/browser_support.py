"""Real Chromium (Debian's package, driven by Playwright) against pytest-django's live server.

Should the SQLite test database be in memory, Django's LiveServerThread shares the test's one
connection across its request threads; two requests at once (the screen sends a judgment while it
leases the next pair) would then interleave their transactions on that one connection. In that
case the server handles one request at a time and the test takes the same lock to read the
database. With a file (the project's settings) or PostgreSQL every request thread has its own
connection and nothing is serialised. Either way the server counts requests in flight, and a test
ends only once none is left (the flush between tests must not race one).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

import pytest
from django.test import Client

CHROMIUM = os.environ.get("PAIRWISE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]


class _Tracked:
    """WSGI wrapper: counts requests in flight; on a shared SQLite connection, one at a time."""

    def __init__(self, app, *, serialise: bool) -> None:
        self.app = app
        self.lock = threading.Lock() if serialise else contextlib.nullcontext()
        self.in_flight = 0
        self._count = threading.Lock()

    def __call__(self, environ, start_response):
        with self._count:
            self.in_flight += 1
        try:
            with self.lock:
                result = self.app(environ, start_response)
                try:
                    body = b"".join(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            return [body]
        finally:
            with self._count:
                self.in_flight -= 1


class Server:
    def __init__(self, live_server) -> None:
        self.url = live_server.url
        httpd = live_server.thread.httpd
        if not isinstance(httpd.get_app(), _Tracked):
            httpd.set_app(_Tracked(httpd.get_app(), serialise=bool(live_server.thread.connections_override)))
        self._app: _Tracked = httpd.get_app()

    @contextlib.contextmanager
    def db(self) -> Iterator[None]:
        """Use the database from the test while the browser may be talking to the server."""
        with self._app.lock:
            yield

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Until no request is being handled (the database flush after a test must not race one)."""
        deadline = time.monotonic() + timeout
        while self._app.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def server(live_server) -> Server:
    return Server(live_server)


def require_chromium() -> None:
    """Skip the browser tests when Chromium is missing; under CI=true, fail them instead (a CI run
    that skipped every browser test would otherwise pass without having run them)."""
    if os.path.exists(CHROMIUM):
        return
    missing = f"no Chromium at {CHROMIUM} (scripts/test.sh installs Debian's chromium)"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}:
        pytest.fail(f"{missing}; CI=true, so the browser tests must run, not be skipped", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="session")
def browser(django_db_setup):
    require_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop marked running in this thread while the browser
    # lives; the ORM calls tests make between browser steps (and the flush after each test) are
    # ordinary synchronous code, so Django's guard against async contexts is lifted meanwhile.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(10_000)
    yield context
    context.close()
    server.wait_idle()  # a request the closed page left running must finish before the flush


def log_in(context, server: Server, user) -> None:
    """Set the session cookie of a logged-in user (the login form has its own test)."""
    with server.db():
        client = Client()
        client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}]
    )
