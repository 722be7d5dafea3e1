"""The viewer's "Compare parties" (`/compare`) and "Which party stands closest to me?" (`/match`)
pages in a real browser (tests/viewer_browser.py). Every number the pages should show is what
GET /v1/compare or POST /v1/match answers for the same question; the pages use nothing else.
"""

import json
import math
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import STANCEMAP, Server, running_server, server_env
from tests.viewer_browser import Viewer, api, watch

# The seed issues in the API's order, each with a reader's answer: skips and doubles come later.
ANSWERS = {
    "cede-donbas": "oppose",
    "crimea": "oppose",
    "nato-membership": "support",
    "security-guarantees": "support",
    "sanctions-on-russia": "support",
    "non-aggression-europe": "neutral",
    "us-russia-trade": "oppose",
    "who-ends-the-war": "neutral",
    "alaska-resources": "support",
}


def percent(value: float, digits: int = 0) -> str:
    """The pages' rounding (halves up), on the same double the browser computes."""
    scale = 10**digits
    return f"{math.floor(value * 100 * scale + 0.5) / scale:.{digits}f} %"


def number(value: float) -> str:
    return f"{value:g}"


def issues_text(count: int) -> str:
    return f"{count} issue" if count == 1 else f"{count} issues"


def all_slugs(server: Server, path: str) -> list[str]:
    return [item["slug"] for item in api(server, path, limit="200")["items"]]


def compare(server: Server, parties: list[str], **params: str) -> dict[str, Any]:
    return api(server, "/v1/compare", parties=",".join(parties), **params)


def match(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.base}/v1/match", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def match_body(answers: dict[str, str], doubled: set[str] = frozenset(), as_of: str | None = None) -> dict[str, Any]:
    """What the page sends: the answers in the issues' order, weight 2 where an answered (not
    skipped) issue counts double."""
    body: dict[str, Any] = {"answers": answers}
    weights = {slug: 2 for slug in answers if slug in doubled and answers[slug] != "skip"}
    if weights:
        body["weights"] = weights
    if as_of:
        body["as_of"] = as_of
    return body


# --- compare ---------------------------------------------------------------------------------------


def pair_buttons(viewer: Viewer) -> list[dict[str, str]]:
    return viewer.page.eval_on_selector_all(
        "#agreement button.pair",
        """buttons => buttons.map(b => ({...b.dataset, value: b.querySelector('.pair-value').textContent,
            count: b.querySelector('.pair-count').textContent, label: b.getAttribute('aria-label'),
            background: getComputedStyle(b).backgroundColor}))""",
    )


def pair_button(viewer: Viewer, a: str, b: str) -> Any:
    return viewer.page.locator(f'#agreement button.pair[data-a="{a}"][data-b="{b}"]')


def assert_grid(viewer: Viewer, comparison: dict[str, Any]) -> None:
    """Every ordered pair of different parties has a button showing the API's agreement as text."""
    by_pair = {}
    for pair in comparison["pairs"]:
        a, b = pair["parties"]
        by_pair[(a, b)] = by_pair[(b, a)] = pair
    shown = pair_buttons(viewer)
    count = len(comparison["parties"])
    assert len(shown) == count * (count - 1)
    assert {(button["a"], button["b"]) for button in shown} == set(by_pair)
    for button in shown:
        pair = by_pair[(button["a"], button["b"])]
        if pair["agreement"] is None:
            assert button["value"] == "n/a" and button["agreement"] == ""
        else:
            assert button["value"] == percent(pair["agreement"]), button
            assert float(button["agreement"]) == pair["agreement"]
            assert button["value"] in button["label"]
        assert button["count"] == issues_text(pair["issues_compared"])
    names = [party["name"] for party in comparison["parties"]]
    page = viewer.page
    assert page.locator("#agreement thead th[scope=col][data-party]").all_inner_texts() == names
    assert page.locator("#agreement tbody th[scope=row]").all_inner_texts() == names
    assert page.locator("#agreement td.self").count() == count


def test_the_pages_are_served_outside_the_openapi_document(viewer_server):
    for path, script in (("compare", "compare.js"), ("match", "match.js")):
        page = httpx.get(f"{viewer_server.base}/{path}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert f'src="viewer/{script}"' in page.text and 'href="viewer/viewer.css"' in page.text
        assert httpx.head(f"{viewer_server.base}/{path}").status_code == 200
    paths = api(viewer_server, "/openapi.json")["paths"]
    assert "/compare" not in paths and "/match" not in paths


def test_the_grid_shows_every_pairs_agreement_as_the_api_computes_it(viewer):
    parties = all_slugs(viewer.server, "/v1/parties")
    assert len(parties) == 5  # few enough that all are compared by default
    viewer.open("compare")
    comparison = compare(viewer.server, parties)
    viewer.wait_for(f'#agreement[data-as-of="{comparison["as_of"]}"][data-parties="{",".join(parties)}"]')
    assert len({pair["agreement"] for pair in comparison["pairs"]}) > 3  # numbers that tell pairs apart
    assert_grid(viewer, comparison)

    # Colour-coded, in bands the legend names; closer pairs are darker.
    shown = {(button["a"], button["b"]): button for button in pair_buttons(viewer)}
    scored = sorted((pair["agreement"], tuple(pair["parties"])) for pair in comparison["pairs"] if pair["agreement"])
    lowest, highest = shown[scored[0][1]], shown[scored[-1][1]]
    assert lowest["background"] != highest["background"]
    legend = viewer.page.locator("#agreement-legend li").all_inner_texts()
    assert legend[:5] == ["0–19 %", "20–39 %", "40–59 %", "60–79 %", "80–100 %"]
    caption = viewer.page.locator("#agreement caption").inner_text()
    assert caption == f"Agreement between parties as of {comparison['as_of']}, over {len(comparison['issues'])} issues"
    assert viewer.page.locator("#error").is_hidden()
    viewer.assert_clean()


def test_choosing_parties_and_a_date_redraws_the_grid(viewer):
    parties = all_slugs(viewer.server, "/v1/parties")
    four = parties[:-1]
    viewer.open("compare")
    viewer.page.uncheck(f'#party-options input[value="{parties[-1]}"]')
    viewer.wait_for(f'#agreement[data-parties="{",".join(four)}"]')
    assert_grid(viewer, compare(viewer.server, four))

    viewer.page.fill("#as-of", "2025-08-14")
    viewer.wait_for('#agreement[data-as-of="2025-08-14"]')
    then = compare(viewer.server, four, as_of="2025-08-14")
    assert then["pairs"] != compare(viewer.server, four)["pairs"]  # the date matters
    assert_grid(viewer, then)
    link = viewer.page.url
    assert "as_of=2025-08-14" in link and f"parties={','.join(four)}" in link

    viewer.open(link.removeprefix(viewer.server.base + "/"))  # the link opens the same view
    viewer.wait_for(f'#agreement[data-as-of="2025-08-14"][data-parties="{",".join(four)}"]')
    assert viewer.page.input_value("#as-of") == "2025-08-14"
    assert_grid(viewer, then)

    viewer.page.click("#parties-none")
    viewer.page.wait_for_selector("body[data-state=ready] #agreement:not([data-as-of])")
    assert pair_buttons(viewer) == []
    assert viewer.page.locator("#status").inner_text() == "Choose at least two parties to compare."
    viewer.page.click("#parties-all")
    viewer.wait_for(f'#agreement[data-parties="{",".join(parties)}"]')
    viewer.assert_clean()


def test_a_pair_shows_where_the_two_differ_with_both_quotes_side_by_side(viewer):
    parties = all_slugs(viewer.server, "/v1/parties")
    comparison = compare(viewer.server, parties)
    pair = next(pair for pair in comparison["pairs"] if pair["parties"] == ["ukraine", "russia"])
    cells = {(cell["party"], cell["issue"]): cell for cell in comparison["cells"]}
    # Per issue its agreement and, where that is null, the parties whose cell has no position.
    items = [
        {
            "issue": issue["slug"],
            "agreement": agreement,
            "no_position": [
                party for party in pair["parties"] if cells[party, issue["slug"]]["stance"] in (None, "unclear")
            ],
        }
        for issue, agreement in zip(comparison["issues"], pair["agreements"], strict=True)
    ]
    differ = [item for item in items if item["agreement"] is not None and item["agreement"] < 1]
    one_sided = [item for item in items if item["agreement"] is None and len(item["no_position"]) == 1]
    neither = [item["issue"] for item in items if item["agreement"] is None and len(item["no_position"]) == 2]
    same = [item for item in items if item["agreement"] == 1]
    assert differ and one_sided and neither  # the seed data has all three

    viewer.open("compare")
    page = viewer.page
    # Keyboard: the pair is a button; Enter opens it and moves the focus to the quotes.
    pair_button(viewer, "ukraine", "russia").focus()
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    assert detail.is_visible() and viewer.focused()["id"] == "detail"
    assert page.locator("#detail-title").inner_text() == "Ukraine and Russia"
    assert page.locator("#detail .pair-summary").inner_text().startswith(f"Agreement {percent(pair['agreement'], 1)}")
    assert "pair=ukraine,russia" in page.url

    shown = page.eval_on_selector_all(
        "#detail [data-group=differ] .pair-issue",
        "items => items.map(i => [i.dataset.issue, Number(i.dataset.agreement)])",
    )
    # Furthest apart first, then in issue order.
    expected = sorted(differ, key=lambda item: item["agreement"])
    assert shown == [[item["issue"], item["agreement"]] for item in expected]
    for item in differ:
        block = page.locator(f'#detail [data-group=differ] .pair-issue[data-issue="{item["issue"]}"]')
        for party in ("ukraine", "russia"):
            side = block.locator(f'.side[data-party="{party}"]')
            cell = cells[(party, item["issue"])]
            assert side.locator(".cell-detail").get_attribute("data-stance") == cell["stance"]
            assert side.locator(".quote-text").inner_text() == cell["quote"]
            assert side.locator(".speaker").inner_text() == (cell["speaker"] or "not named")
            assert side.locator(".stated-on").inner_text() == cell["stated_on"]
            assert side.locator(".source-title").inner_text() == cell["source"]["title"]
        left, right = block.locator(".side").evaluate_all("sides => sides.map(s => s.getBoundingClientRect().toJSON())")
        assert abs(left["top"] - right["top"]) < 2 and left["right"] <= right["left"]  # side by side
        assert block.locator(".side").evaluate_all("sides => sides.map(s => s.dataset.party)") == ["ukraine", "russia"]

    no_position = page.eval_on_selector_all(
        "#detail [data-group=no-position] .pair-issue", "items => items.map(i => i.dataset.issue)"
    )
    assert no_position == [item["issue"] for item in one_sided]
    for item in one_sided:
        block = page.locator(f'#detail [data-group=no-position] .pair-issue[data-issue="{item["issue"]}"]')
        (missing,) = item["no_position"]
        assert f"no position: {missing.title()}" in block.inner_text()
        for party in ("ukraine", "russia"):
            cell = cells[(party, item["issue"])]
            side = block.locator(f'.side[data-party="{party}"]')
            if cell["stance"] is None:
                assert "No standing statement of" in side.locator(".no-position").inner_text()
            else:
                assert side.locator(".quote-text").inner_text() == cell["quote"]
    shown_neither = page.eval_on_selector_all("#detail .neither-issue", "items => items.map(i => i.dataset.issue)")
    assert shown_neither == neither
    agreed = page.eval_on_selector_all(
        "#detail [data-group=agree] .same-stance", "items => items.map(i => i.dataset.issue)"
    )
    assert agreed == [item["issue"] for item in same]

    # Escape closes it and gives the focus back to the pair.
    page.keyboard.press("Escape")
    assert detail.is_hidden()
    assert (viewer.focused()["a"], viewer.focused()["b"]) == ("ukraine", "russia")
    assert focus_outlined(viewer)
    assert "pair=" not in page.url

    # The other half of the grid: the same pair, the row's party on the left; arrows move between pairs.
    page.keyboard.press("ArrowDown")  # column russia: the row below ukraine is russia itself, skipped
    assert (viewer.focused()["a"], viewer.focused()["b"]) == ("european-allies", "russia")
    pair_button(viewer, "russia", "ukraine").click()
    first = page.locator("#detail [data-group=differ] .pair-issue").first.locator(".side")
    assert first.evaluate_all("sides => sides.map(s => s.dataset.party)") == ["russia", "ukraine"]
    viewer.assert_clean()


@pytest.fixture(scope="module")
def wahlomat_server(make_database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`stancemap serve` on the Wahl-O-Mat 2017 (32 parties), loaded by `stancemap seed --wahlomat`."""
    workdir = tmp_path_factory.mktemp("viewer-wahlomat")
    env = server_env(make_database("sqlite"))
    seeded = subprocess.run(
        [STANCEMAP, "seed", "--wahlomat"], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    assert seeded.returncode == 0, seeded.stderr
    with running_server(env, workdir, "viewer-wahlomat", workers=1) as running:
        yield running


def test_with_many_parties_the_grid_starts_with_the_first_twelve(browser, wahlomat_server):
    parties = all_slugs(wahlomat_server, "/v1/parties")
    assert len(parties) == 32
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, reduced_motion="reduce")
    try:
        viewer = Viewer(context.new_page(), wahlomat_server)
        watch(viewer.page, viewer)
        viewer.open("compare")
        viewer.wait_for(f'#agreement[data-parties="{",".join(parties[:12])}"]')
        checked = viewer.page.eval_on_selector_all("#party-options input:checked", "inputs => inputs.map(i => i.value)")
        assert checked == parties[:12]
        comparison = compare(wahlomat_server, parties[:12])
        assert_grid(viewer, comparison)
        # Its sources have URLs: each quote links to its original, written as a link, not as text.
        pair = comparison["pairs"][0]
        a, b = pair["parties"]
        pair_button(viewer, a, b).click()
        detail = viewer.page.locator("#detail")
        assert detail.locator("a.source-url").count() > 0 and "[object" not in detail.inner_text()
        # Where the two agree fully, the stance both take, read from the row party's cell.
        cells = {(cell["party"], cell["issue"]): cell for cell in comparison["cells"]}
        same = [
            issue["slug"]
            for issue, agreement in zip(comparison["issues"], pair["agreements"], strict=True)
            if agreement == 1
        ]
        assert same
        chips = viewer.page.eval_on_selector_all(
            "#detail [data-group=agree] .same-stance",
            "items => items.map(i => [i.dataset.issue, i.querySelector('.stance-chip').className])",
        )
        assert chips == [[slug, f"stance-chip stance-{cells[a, slug]['stance']}"] for slug in same]
        viewer.page.click("#parties-all")
        viewer.wait_for(f'#agreement[data-parties="{",".join(parties)}"]')
        assert len(pair_buttons(viewer)) == 32 * 31
        viewer.assert_clean()
    finally:
        context.close()


# --- match -----------------------------------------------------------------------------------------


def tab_to(viewer: Viewer, selector: str, limit: int = 30) -> None:
    """Presses Tab until the focus is on the element: reachable in the tab order, as a reader would."""
    for _ in range(limit):
        if viewer.page.evaluate("selector => document.activeElement.matches(selector)", selector):
            return
        viewer.page.keyboard.press("Tab")
    raise AssertionError(f"{selector} not reached with Tab; the focus is on {viewer.focused()}")


def focus_outlined(viewer: Viewer) -> bool:
    """Whether the focused element shows the focus ring (`:focus-visible`)."""
    return viewer.page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"


def answer_by_keyboard(viewer: Viewer, answers: dict[str, str], doubled: set[str]) -> None:
    """From the start screen, every proposition in turn: Space on "counts double" where wanted, then
    Enter (or Space, every other one) on the answer, which moves on; the last one shows the ranking."""
    page = viewer.page
    tab_to(viewer, "#start")
    page.keyboard.press("Enter")
    for index, (slug, answer) in enumerate(answers.items()):
        page.wait_for_selector(f'#question[data-issue="{slug}"]:not([hidden])')
        assert viewer.focused()["id"] == "question-title"
        if (slug in doubled) != page.is_checked("#double"):
            tab_to(viewer, "#double")
            page.keyboard.press("Space")
        tab_to(viewer, f'button.answer[data-answer="{answer}"]')
        assert focus_outlined(viewer)
        page.keyboard.press("Enter" if index % 2 else "Space")
    viewer.wait_for("#ranking li.result")


def assert_ranking(viewer: Viewer, result: dict[str, Any]) -> None:
    shown = viewer.page.eval_on_selector_all(
        "#ranking li.result",
        """items => items.map(li => [li.dataset.party, li.querySelector('.rank').textContent,
            li.querySelector('.party-name').textContent, li.querySelector('.score').textContent,
            li.querySelector('.points').textContent])""",
    )
    assert shown == [
        [
            entry["party"]["slug"],
            f"{entry['rank']}.",
            entry["party"]["name"],
            f"{entry['score']:.1f} %",
            f"{number(entry['points'])} of {number(entry['max_points'])} points · a position on "
            f"{entry['issues_with_position']} of {len(entry['issues'])} propositions you answered",
        ]
        for entry in result["results"]
    ]


def posted(viewer: Viewer) -> list[Any]:
    return [json.loads(request.body) for request in viewer.requests if request.method == "POST"]


def test_the_match_page_answered_by_keyboard_ranks_as_the_api_does(viewer):
    issues = all_slugs(viewer.server, "/v1/issues")
    assert issues == list(ANSWERS)  # one answer per seed issue, in the page's order
    answers = {**ANSWERS, "crimea": "skip"}
    doubled = {"cede-donbas", "security-guarantees", "crimea"}  # a skipped one counts for nothing, doubled or not
    viewer.open("match")
    answer_by_keyboard(viewer, answers, doubled)

    body = match_body(answers, doubled)
    assert body["weights"] == {"cede-donbas": 2, "security-guarantees": 2}
    assert posted(viewer) == [body]
    result = match(viewer.server, body)
    assert len({entry["score"] for entry in result["results"]}) > 2
    assert_ranking(viewer, result)
    assert viewer.focused()["id"] == "results-title"
    summary = viewer.page.locator("#results-summary").inner_text()
    assert summary.startswith(f"{result['answered']} propositions answered, {result['skipped']} skipped")

    # The closest party's breakdown, by keyboard: per issue the answer, the stance, the points and the quote.
    top = result["results"][0]
    tab_to(viewer, f'li.result[data-party="{top["party"]["slug"]}"] button.breakdown-toggle')
    viewer.page.keyboard.press("Enter")
    table = viewer.page.locator(f'li.result[data-party="{top["party"]["slug"]}"] .breakdown')
    assert table.is_visible()
    rows = table.locator("tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.issue)") == [item["issue"] for item in top["issues"]]
    assert "crimea" not in [item["issue"] for item in top["issues"]]
    for index, item in enumerate(top["issues"]):
        row = rows.nth(index)
        assert row.locator(".points-cell").inner_text() == f"{number(item['points'])} of {number(item['max_points'])}"
        assert ("counts ×2" in row.locator(".answer-cell").inner_text()) == (item["weight"] == 2)
        assert row.get_attribute("data-stance") == (item["stance"] or "none")
        if item["cell"]["quote"]:
            assert row.locator(".quote-text").inner_text() == item["cell"]["quote"]
            assert row.locator(".source-title").inner_text() == item["cell"]["source"]["title"]
            assert row.locator(".speaker").inner_text() == (item["cell"]["speaker"] or "speaker not named")
        else:
            assert "No quote" in row.locator(".quote-cell").inner_text()
    assert sum(item["points"] for item in top["issues"]) == top["points"]

    # Nothing the reader answered left the page but that one POST body: no query string, no storage.
    for request in viewer.requests:
        url = httpx.URL(request.url)
        if request.method == "POST":
            assert url.path == "/v1/match" and not url.query
        else:
            assert request.method == "GET" and request.body is None
            assert url.path in {"/match", "/v1/issues"} or url.path.startswith("/viewer/"), request.url
            assert not any(answer in url.query.decode() for answer in ("support", "oppose", "neutral", "skip"))
    assert viewer.page.url == f"{viewer.server.base}/match"
    kept = viewer.page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
    assert kept == [0, 0, ""]
    viewer.assert_clean()


def test_skip_and_counts_double_change_the_ranking_as_the_api_says(viewer):
    page = viewer.page
    viewer.open("match")
    answer_by_keyboard(viewer, ANSWERS, set())
    plain = match(viewer.server, match_body(ANSWERS))
    assert_ranking(viewer, plain)

    # Back to a proposition: it counts double now.
    page.click("#change-answers")
    while page.get_attribute("#question", "data-issue") != "cede-donbas":
        page.click("#back")
    assert page.get_attribute('button.answer[data-answer="oppose"]', "aria-pressed") == "true"
    page.check("#double")
    page.click("#finish")
    viewer.wait_for("#ranking li.result")
    doubled = match(viewer.server, match_body(ANSWERS, {"cede-donbas"}))
    assert [entry["score"] for entry in doubled["results"]] != [entry["score"] for entry in plain["results"]]
    assert_ranking(viewer, doubled)

    # And skipped: it counts for nothing, doubled or not.
    page.click("#change-answers")
    page.click('button.answer[data-answer="skip"]')  # moves on to the next proposition
    page.click("#finish")
    viewer.wait_for("#ranking li.result")
    skipped_answers = {**ANSWERS, "cede-donbas": "skip"}
    skipped = match(viewer.server, match_body(skipped_answers, {"cede-donbas"}))
    assert skipped["skipped"] == 1 and skipped["max_points"] == plain["max_points"] - 2
    assert [entry["score"] for entry in skipped["results"]] != [entry["score"] for entry in plain["results"]]
    assert_ranking(viewer, skipped)
    assert posted(viewer) == [match_body(ANSWERS), match_body(ANSWERS, {"cede-donbas"}), match_body(skipped_answers)]

    # Positions as of an earlier date: the same answers, another ranking.
    page.fill("#as-of", "2025-08-14")
    viewer.wait_for('#ranking[data-as-of="2025-08-14"]')
    earlier = match(viewer.server, match_body(skipped_answers, as_of="2025-08-14"))
    assert earlier["results"] != skipped["results"]
    assert_ranking(viewer, earlier)
    viewer.assert_clean()


def test_a_problem_from_the_match_api_is_shown_with_its_detail(viewer):
    page = viewer.page
    viewer.open("match")
    answer_by_keyboard(viewer, ANSWERS, set())
    problem = httpx.post(f"{viewer.server.base}/v1/match", json=match_body(ANSWERS, as_of="0999-12-31")).json()
    page.fill("#as-of", "0999-12-31")
    page.wait_for_selector("body[data-state=error]")
    error = page.locator("#error")
    assert error.is_visible() and error.get_attribute("role") == "alert"
    assert problem["detail"] in error.inner_text()
    assert page.locator("#ranking li.result").count() == 0
    page.click("#as-of-today")
    viewer.wait_for("#ranking li.result")
    assert error.is_hidden()
