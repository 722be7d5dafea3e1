"""Fixtures of the viewer's browser tests (a pytest plugin, registered in tests/conftest.py): Debian's
chromium driven by Playwright against a real `stancemap serve` on the seeded database. What the
pages do does not depend on the engine, so they run on SQLite only.

Without the `playwright` package or chromium (STANCEMAP_TEST_CHROMIUM, default /usr/bin/chromium)
the browser tests are skipped locally and fail under CI=true.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import Server, running_server, server_env

CHROMIUM = Path(os.environ.get("STANCEMAP_TEST_CHROMIUM", "/usr/bin/chromium"))
VIEWER_DIR = Path(__file__).resolve().parent.parent / "app" / "viewer"
# What a page may fetch: the viewer's pages and files, and the public JSON API.
ALLOWED_PATHS = re.compile(
    r"^/(?:|compare|match|viewer/[a-z]+\.(?:js|css)"
    r"|v1/(?:matrix|diff|changes|compare|match|parties|issues|sources(?:/[0-9]+(?:/text)?)?))$"
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"The viewer's browser tests must run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def viewer_server(make_database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`stancemap serve` on an empty SQLite database: it migrates and loads the seeds. The tests
    sharing it only read; a test that writes starts a server of its own."""
    workdir = tmp_path_factory.mktemp("viewer")
    with running_server(server_env(make_database("sqlite")), workdir, "viewer", workers=1) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()


@dataclass
class Request:
    method: str
    url: str
    body: str | None


@dataclass
class Viewer:
    page: Any
    server: Server
    requests: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, query: str = "", state: str = "ready") -> None:
        """Goes to a page of the viewer (`""` the matrix, `"compare?…"`) and waits until it settled."""
        self.page.goto(f"{self.server.base}/{query}")
        self.page.wait_for_selector(f"body[data-state={state}]")

    def wait_for(self, selector: str) -> None:
        """The page re-rendered with the given element, and no load is pending."""
        self.page.wait_for_selector(f"body[data-state=ready] {selector}")

    def cells(self) -> list[dict[str, str]]:
        return self.page.eval_on_selector_all("button.cell", "buttons => buttons.map(b => ({...b.dataset}))")

    def cell(self, party: str, issue: str) -> Any:
        return self.page.locator(f'button.cell[data-party="{party}"][data-issue="{issue}"]')

    def focused(self) -> dict[str, str]:
        """The dataset of the element that has the focus, with its tag and id."""
        return self.page.evaluate(
            "({...document.activeElement.dataset, tag: document.activeElement.tagName.toLowerCase(),"
            " id: document.activeElement.id})"
        )

    def assert_clean(self) -> None:
        """No script error, and nothing fetched but the viewer's pages and files and the public JSON API."""
        assert self.errors == []
        for request in self.requests:
            assert request.url.startswith(self.server.base + "/"), request.url
            assert ALLOWED_PATHS.match(httpx.URL(request.url).path), request.url


def watch(page: Any, viewer: Viewer) -> None:
    page.set_default_timeout(15_000)
    page.on("request", lambda request: viewer.requests.append(Request(request.method, request.url, request.post_data)))
    page.on("pageerror", lambda error: viewer.errors.append(f"page error: {error}"))
    page.on("console", lambda message: viewer.errors.append(message.text) if message.type == "error" else None)


@pytest.fixture
def viewer(browser, viewer_server: Server) -> Iterator[Viewer]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, reduced_motion="reduce")
    page = context.new_page()
    viewer = Viewer(page, viewer_server)
    watch(page, viewer)
    yield viewer
    context.close()


def api(server: Server, path: str, **params: str) -> Any:
    response = httpx.get(f"{server.base}{path}", params=params, timeout=30)
    response.raise_for_status()
    return response.json()
