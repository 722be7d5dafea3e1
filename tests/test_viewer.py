"""The viewer at `/`, in a real browser (tests/viewer_browser.py): the matrix, its cells' quotes,
time travel and diffs. Every expectation about the data is read from the public API (or the seeds),
and the page must use nothing else.
"""

import json
import re

import httpx

from tests.conftest import SEED_DIR
from tests.servers import create_token, running_server, server_env
from tests.viewer_browser import VIEWER_DIR, Viewer, api, watch

ARTICLE = (SEED_DIR / "sources" / "2025-08-18-white-house-ukraine-talks.txt").read_text(encoding="utf-8")
SEED_STATEMENTS = json.loads((SEED_DIR / "statements.json").read_text(encoding="utf-8"))
CHANGED = {"new", "withdrawn", "shifted", "reversed"}


def stances(matrix: dict) -> dict[tuple[str, str], str]:
    return {(cell["party"], cell["issue"]): cell["stance"] or "none" for cell in matrix["cells"]}


def shown(viewer: Viewer) -> dict[tuple[str, str], str]:
    return {(cell["party"], cell["issue"]): cell["stance"] for cell in viewer.cells()}


def latest_seeded_stance(party: str, issue: str, as_of: str) -> str:
    """The as-of rule on the seed file: the latest statement stated on or before the date (same
    day: the later-recorded, i.e. later in the file)."""
    standing = [s for s in SEED_STATEMENTS if (s["party"], s["issue"]) == (party, issue) and s["stated_on"] <= as_of]
    return max(standing, key=lambda s: s["stated_on"])["stance"] if standing else "none"


# --- served as files, outside the API ------------------------------------------------------------


def test_the_viewer_is_served_at_the_root_and_stays_out_of_the_openapi_document(viewer_server):
    server = viewer_server
    page = httpx.get(f"{server.base}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="viewer/viewer.js"' in page.text and 'href="viewer/viewer.css"' in page.text
    media_types = {".js": "javascript", ".css": "text/css", ".html": "text/html"}
    for file in sorted(VIEWER_DIR.iterdir()):
        response = httpx.get(f"{server.base}/viewer/{file.name}")
        assert response.status_code == 200 and media_types[file.suffix] in response.headers["content-type"]
        assert response.headers["cache-control"] == "no-cache" and response.headers["etag"]
        assert response.text == file.read_text(encoding="utf-8")
        again = httpx.get(f"{server.base}/viewer/{file.name}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    missing = httpx.get(f"{server.base}/viewer/missing.js")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{server.base}/viewer/..%2Fapi%2Froutes%2Fviewer.py").status_code == 404

    paths = api(server, "/openapi.json")["paths"]
    assert "/" not in paths and not [path for path in paths if path.startswith("/viewer")]
    # Nothing from elsewhere: no CDN, no remote font; CI has no network.
    for file in VIEWER_DIR.iterdir():
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", file.read_text(encoding="utf-8")), file.name


# --- in the browser --------------------------------------------------------------------------------


def test_the_grid_shows_every_party_by_every_issue_with_its_stance(viewer):
    viewer.open()
    matrix = api(viewer.server, "/v1/matrix")
    assert len(matrix["parties"]) == 5 and len(matrix["issues"]) == 9

    assert len(viewer.cells()) == 45
    assert shown(viewer) == stances(matrix)
    assert viewer.cell("russia", "security-guarantees").get_attribute("data-stance") == "lean_support"
    assert latest_seeded_stance("russia", "security-guarantees", matrix["as_of"]) == "lean_support"
    # Readable without colour: the stance is written in the cell.
    assert "lean support" in viewer.cell("russia", "security-guarantees").inner_text()
    assert viewer.cell("alaska-governor", "crimea").inner_text().strip() == "—"

    page = viewer.page
    assert page.locator("#matrix thead th[scope=col][data-issue]").all_inner_texts() == [
        i["title"] for i in matrix["issues"]
    ]
    propositions = page.eval_on_selector_all("#matrix thead th[data-issue]", "ths => ths.map(th => th.title)")
    assert propositions == [issue["proposition"] for issue in matrix["issues"]]
    assert page.locator("#matrix tbody th[scope=row]").all_inner_texts() == [p["name"] for p in matrix["parties"]]
    assert page.locator("#matrix caption").inner_text() == f"Positions as of {matrix['as_of']}"
    legend = page.locator("#stance-legend li").all_inner_texts()
    assert [text.replace("—", "").strip() for text in legend] == [
        "support", "lean support", "neutral", "lean oppose", "oppose", "unclear", "no position",
    ]  # fmt: skip
    assert page.locator("#error").is_hidden()
    viewer.assert_clean()


def test_a_cell_shows_its_quote_speaker_date_evidence_and_source(viewer):
    viewer.open()
    expected = next(
        cell for cell in api(viewer.server, "/v1/matrix")["cells"]
        if (cell["party"], cell["issue"]) == ("russia", "security-guarantees")
    )  # fmt: skip
    viewer.cell("russia", "security-guarantees").click()
    detail = viewer.page.locator("#detail")
    assert detail.is_visible()
    assert viewer.page.locator("#detail-title").inner_text() == "Russia on Security guarantees for Ukraine"

    quote = detail.locator(".quote-text").inner_text()
    assert quote == expected["quote"] and quote in ARTICLE
    assert detail.locator("blockquote.quote").inner_text() == f"«{quote}»"
    assert detail.locator(".speaker").inner_text() == expected["speaker"] == "Steve Witkoff"
    assert detail.locator(".stated-on").inner_text() == expected["stated_on"] == "2025-08-15"
    assert detail.locator(".summary").inner_text() == expected["summary"]
    # The two lean_support statements of 2025-08-15, not the oppose one they reversed.
    assert expected["evidence_count"] == 2 and expected["evidence_since"] == "2025-08-15"
    assert detail.locator(".evidence-count").inner_text() == "2 statements in a row with this stance since 2025-08-15"
    assert detail.locator(".source-title").inner_text() == expected["source"]["title"]
    assert "2025-08-18" in detail.locator(".source-published").inner_text()
    link = detail.locator("a.source-text-link")
    assert link.get_attribute("href") == f"v1/sources/{expected['source']['id']}/text"
    assert httpx.get(f"{viewer.server.base}/{link.get_attribute('href')}").text == ARTICLE
    assert viewer.cell("russia", "security-guarantees").get_attribute("aria-current") == "true"

    # Keyboard: cells are buttons; arrows move between them, Enter opens, Escape closes.
    viewer.cell("russia", "security-guarantees").focus()
    viewer.page.keyboard.press("ArrowDown")
    focused = viewer.page.evaluate("({...document.activeElement.dataset})")
    assert (focused["party"], focused["issue"]) == ("european-allies", "security-guarantees")
    viewer.page.keyboard.press("Enter")
    assert viewer.page.locator("#detail-title").inner_text() == "European allies on Security guarantees for Ukraine"
    assert "No standing statement" in detail.inner_text()
    viewer.page.keyboard.press("Escape")
    assert detail.is_hidden()
    assert viewer.page.evaluate("document.activeElement.dataset.party") == "european-allies"
    viewer.assert_clean()


def test_the_as_of_date_reloads_the_matrix_as_it_stood_then(viewer):
    viewer.open()
    viewer.page.fill("#as-of", "2025-08-14")
    viewer.wait_for('#matrix[data-as-of="2025-08-14"]')
    assert viewer.cell("russia", "security-guarantees").get_attribute("data-stance") == "oppose"
    assert latest_seeded_stance("russia", "security-guarantees", "2025-08-14") == "oppose"
    assert shown(viewer) == stances(api(viewer.server, "/v1/matrix", as_of="2025-08-14"))
    assert "as_of=2025-08-14" in viewer.page.url  # a link to what is on screen

    # The detail panel follows the date.
    viewer.cell("russia", "security-guarantees").click()
    assert viewer.page.locator("#detail .quote-text").inner_text() == "an arrangement previously thought off the table"

    today = api(viewer.server, "/v1/matrix")
    viewer.page.click("#as-of-today")
    viewer.wait_for(f'#matrix[data-as-of="{today["as_of"]}"]')
    assert viewer.cell("russia", "security-guarantees").get_attribute("data-stance") == "lean_support"
    assert viewer.page.locator("#detail .quote-text").inner_text() in ARTICLE

    viewer.open("?as_of=2025-08-14")  # and the link opens that view
    viewer.wait_for('#matrix[data-as-of="2025-08-14"]')
    assert viewer.page.input_value("#as-of") == "2025-08-14"
    viewer.assert_clean()


def test_diff_mode_marks_exactly_the_cells_that_changed(viewer, tmp_path):
    viewer.open()
    page = viewer.page
    page.fill("#as-of", "2025-08-18")
    viewer.wait_for('#matrix[data-as-of="2025-08-18"]')
    page.check("#diff-toggle")
    page.select_option("#from-moment", "date")
    page.fill("#from-date", "2025-08-14")
    viewer.wait_for('#matrix[data-mode=diff][data-from="2025-08-14"][data-as-of="2025-08-18"]')

    diff = api(viewer.server, "/v1/diff", **{"from": "2025-08-14", "to": "2025-08-18"})
    expected = {(c["party"], c["issue"]): c["change"] for c in diff["changes"] if c["change"] in CHANGED}
    assert expected[("russia", "security-guarantees")] in {"reversed", "shifted"}
    assert expected[("united-states", "sanctions-on-russia")] in {"reversed", "shifted"}

    cells = viewer.cells()
    assert len(cells) == 45 and all("change" in cell for cell in cells)
    marked = {(c["party"], c["issue"]): c["change"] for c in cells if c["change"] != "unchanged"}
    assert marked == expected
    # The grid itself is the matrix as of the "to" date.
    assert shown(viewer) == stances(api(viewer.server, "/v1/matrix", as_of="2025-08-18"))
    for (party, issue), change in expected.items():
        assert viewer.cell(party, issue).locator(".badge").inner_text().lower() == change
    dimmed = viewer.cell("ukraine", "cede-donbas")  # oppose on both dates
    assert dimmed.get_attribute("data-change") == "unchanged" and dimmed.locator(".badge").count() == 0
    opacity = "el => Number(getComputedStyle(el).opacity)"
    assert dimmed.evaluate(opacity) < 0.5
    assert viewer.cell("russia", "security-guarantees").evaluate(opacity) == 1
    status = page.locator("#status").inner_text()
    assert f"{diff['summary']['reversed']} reversed" in status and f"{diff['summary']['new']} new" in status

    # A changed cell: before and after, side by side.
    change = next(c for c in diff["changes"] if (c["party"], c["issue"]) == ("russia", "security-guarantees"))
    viewer.cell("russia", "security-guarantees").click()
    before, after = page.locator("#detail .side.before"), page.locator("#detail .side.after")
    assert before.locator(".quote-text").inner_text() == change["before"]["quote"]
    assert after.locator(".quote-text").inner_text() == change["after"]["quote"]
    assert (
        before.locator(".quote-text").inner_text() in ARTICLE and after.locator(".quote-text").inner_text() in ARTICLE
    )
    assert before.locator(".cell-detail").get_attribute("data-stance") == "oppose"
    assert after.locator(".cell-detail").get_attribute("data-stance") == "lean_support"
    # Side by side: both measured at once, as the panel may still be scrolling into view.
    before_box, after_box = page.evaluate(
        "['before', 'after'].map(side => document.querySelector(`#detail .side.${side}`).getBoundingClientRect().toJSON())"
    )
    assert abs(before_box["top"] - after_box["top"]) < 2 and before_box["right"] <= after_box["left"]

    page.screenshot(path=str(tmp_path / "viewer-diff.png"), full_page=True)
    assert (tmp_path / "viewer-diff.png").stat().st_size > 10_000

    page.uncheck("#diff-toggle")
    viewer.wait_for("#matrix[data-mode=matrix]")
    assert not [cell for cell in viewer.cells() if "change" in cell]
    viewer.assert_clean()


def test_diff_mode_compares_with_a_source_by_default(viewer):
    sources = api(viewer.server, "/v1/sources")["items"]
    viewer.open()
    options = viewer.page.eval_on_selector_all("#from-moment option", "options => options.map(o => o.value)")
    assert options == ["date", *[f"source:{source['id']}" for source in sources]]
    viewer.page.check("#diff-toggle")
    viewer.wait_for("#matrix[data-mode=diff]")
    assert viewer.page.input_value("#from-moment") == f"source:{sources[0]['id']}"

    diff = api(viewer.server, "/v1/diff", **{"from": f"source:{sources[0]['id']}"})
    expected = {(c["party"], c["issue"]): c["change"] for c in diff["changes"] if c["change"] in CHANGED}
    marked = {(c["party"], c["issue"]): c["change"] for c in viewer.cells() if c["change"] != "unchanged"}
    assert marked == expected
    assert sources[0]["title"] in viewer.page.locator("#matrix caption").inner_text()
    assert (
        f"from=source%3A{sources[0]['id']}" in viewer.page.url or f"from=source:{sources[0]['id']}" in viewer.page.url
    )
    viewer.assert_clean()


def test_a_problem_from_the_api_is_shown_with_its_detail(viewer):
    problem = httpx.get(f"{viewer.server.base}/v1/diff", params={"from": "source:999"}).json()
    viewer.open("?from=source:999", state="error")
    error = viewer.page.locator("#error")
    assert error.is_visible() and error.get_attribute("role") == "alert"
    assert problem["detail"] in error.inner_text() and "No source has the id 999" in problem["detail"]
    assert len(viewer.cells()) == 45  # the matrix itself still shows

    problem = httpx.get(f"{viewer.server.base}/v1/matrix", params={"as_of": "0999-12-31"}).json()
    viewer.page.fill("#as-of", "0999-12-31")
    viewer.page.wait_for_selector("body[data-state=error]")
    assert problem["detail"] in error.inner_text()
    assert problem["errors"][0]["message"] in error.inner_text()  # each field's problem too

    viewer.page.fill("#as-of", "2025-08-14")
    viewer.page.uncheck("#diff-toggle")
    viewer.wait_for('#matrix[data-as-of="2025-08-14"]')
    assert error.is_hidden()


def test_a_quote_lost_in_a_newer_version_of_its_source_is_flagged(browser, make_database, tmp_path):
    """Its own server: storing a revised article changes the data the other tests read."""
    env = server_env(make_database("sqlite"))
    with running_server(env, tmp_path, "viewer-flags", workers=1) as server:
        secret = create_token(env, tmp_path, name="editor", scope="write")
        quote = "the Kremlin’s demand includes even those areas currently under Ukrainian control"
        revised = ARTICLE.replace("areas currently under", "areas still under")
        stored = httpx.post(
            f"{server.base}/v1/sources",
            json={
                "title": "White House talks (updated)",
                "published_at": "2025-08-19",
                "text": revised,
                "supersedes": 1,
            },
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        assert stored.status_code == 201, stored.text
        flagged = [cell for cell in api(server, "/v1/matrix")["cells"] if cell["flag"]]
        assert [(cell["party"], cell["issue"], cell["quote"]) for cell in flagged] == [("russia", "cede-donbas", quote)]

        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        try:
            page = context.new_page()
            viewer = Viewer(page, server)
            watch(page, viewer)
            viewer.open()
            assert page.locator("button.cell .cell-flag").count() == 1
            cell = viewer.cell("russia", "cede-donbas")
            assert cell.locator(".cell-flag").count() == 1
            assert "quote drifted in a newer version of its source" in cell.get_attribute("aria-label")
            cell.click()
            note = page.locator("#detail .quote-flag").inner_text()
            assert f"source {stored.json()['id']}" in note and "close variant" in note
            viewer.assert_clean()
        finally:
            context.close()
