"""The viewer follows the change feed: a write through the API changes the cell on an open page in
place, without a reload, keeping the keyboard focus; a matrix of a past date stays as it was."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import Server, create_token, running_server, server_env, source_text
from tests.viewer_browser import Viewer, api, watch


@pytest.fixture(scope="module")
def writable(make_database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server of their own (the tests write, each to another cell), polling for events often, and a
    write token."""
    env = {**server_env(make_database("sqlite")), "STANCEMAP_SSE_POLL_S": "0.1"}
    workdir = tmp_path_factory.mktemp("viewer-live")
    token = create_token(env, workdir, name="editor", scope="write")
    with running_server(env, workdir, "viewer-live", workers=1) as server:
        yield server, token


@pytest.fixture
def page_of(browser, writable) -> Iterator[Viewer]:
    server, _ = writable
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, reduced_motion="reduce")
    page = context.new_page()
    viewer = Viewer(page, server)
    watch(page, viewer)
    yield viewer
    context.close()


def state(server: Server, token: str, party: str, issue: str, stance: str) -> dict[str, Any]:
    """A statement quoting the seed article's first line, stated after every seed statement."""
    quote = source_text(server.base).splitlines()[0].strip()
    body = {"party": party, "issue": issue, "source": 1, "quote": quote, "stance": stance, "stated_on": "2025-09-01"}
    response = httpx.post(
        f"{server.base}/v1/statements", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 201, response.text
    return response.json()


def other_stance(cell: dict[str, Any]) -> str:
    return "neutral" if cell["stance"] != "neutral" else "support"


def test_a_write_changes_the_cell_on_an_open_page_in_place(page_of, writable):
    server, token = writable
    viewer, page = page_of, page_of.page
    before = next(
        cell for cell in api(server, "/v1/matrix")["cells"] if (cell["party"], cell["issue"]) == ("russia", "crimea")
    )
    stance = other_stance(before)
    viewer.open()
    page.wait_for_selector("body[data-live=open]")
    cell = viewer.cell("russia", "crimea")
    cell.click()  # the detail panel is open on it, and the focus is on it
    cell.focus()
    page.evaluate("window.notReloaded = true")

    statement = state(server, token, "russia", "crimea", stance)

    page.wait_for_selector(f'button.cell[data-party="russia"][data-issue="crimea"][data-stance="{stance}"].updated')
    assert page.evaluate("window.notReloaded") is True
    assert viewer.focused()["party"] == "russia" and viewer.focused()["issue"] == "crimea"
    assert cell.get_attribute("aria-current") == "true"
    assert f": {stance.replace('_', ' ')}" in cell.get_attribute("aria-label")
    title = api(server, "/v1/issues/crimea")["title"]
    change = api(server, "/v1/changes", party="russia", issue="crimea", limit="200")["items"][-1]["change"]
    announced = f"Russia on {title}: now {stance.replace('_', ' ')} ({change})."
    assert page.locator("#live-status").inner_text() == announced
    # The open detail shows the new position's statement.
    assert statement["quote"][:40] in page.locator("#detail-body").inner_text()
    # Every other cell is as the API serves it, and so is this one now.
    shown = {(c["party"], c["issue"]): c["stance"] for c in viewer.cells()}
    served = {(c["party"], c["issue"]): c["stance"] or "none" for c in api(server, "/v1/matrix")["cells"]}
    assert shown == served
    viewer.assert_clean()


def test_a_past_matrix_does_not_follow_the_feed(page_of, writable):
    server, token = writable
    viewer, page = page_of, page_of.page
    viewer.open("?as_of=2025-08-14")
    shown = viewer.cells()
    assert page.evaluate("document.body.dataset.live") is None
    before = next(
        cell for cell in api(server, "/v1/matrix")["cells"] if (cell["party"], cell["issue"]) == ("ukraine", "crimea")
    )
    state(server, token, "ukraine", "crimea", other_stance(before))
    page.wait_for_timeout(500)  # many times the feed's poll interval: an update would have come
    assert viewer.cells() == shown
    assert not any("/v1/changes" in request.url for request in viewer.requests)
    viewer.assert_clean()
