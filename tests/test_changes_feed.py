"""GET /v1/changes as JSON: every change of a cell's position, oldest first, filtered by party, issue
and class, paged by cursor or by the last id seen, without a miss or a repeat."""

from typing import Any

import pytest

from tests.helpers import assert_problem, create_issue, create_party, create_source, every_item
from tests.test_change_feed import retract, state

TEXT = " ".join(f"Sentence {n} was said." for n in range(60))


def changes(client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/changes", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def matrix_cell(client, party: str, issue: str) -> dict[str, Any]:
    matrix = client.get("/v1/matrix", params={"parties": party, "issues": issue}).json()
    return matrix["cells"][0]


@pytest.fixture
def source_id(client) -> int:
    for party in ("northland", "southland"):
        create_party(client, party)
    create_issue(client, "cede-north")
    create_issue(client, "open-border", title="Opening the border", proposition="The border opens")
    return create_source(client, text=TEXT)["id"]


def test_each_change_of_a_cell_is_listed_once_in_commit_order(client, source_id):
    first = state(client, source_id, 1, "oppose", "2025-08-01")
    second = state(client, source_id, 2, "lean_oppose", "2025-08-02")
    third = state(client, source_id, 3, "support", "2025-08-03")
    retract(client, third["id"], "2025-08-04")
    retract(client, second["id"], "2025-08-05")
    retract(client, first["id"], "2025-08-06")

    page = changes(client)
    items = page["items"]
    assert [(item["change"], item["party"], item["issue"]) for item in items] == [
        ("new", "northland", "cede-north"),
        ("shifted", "northland", "cede-north"),
        ("reversed", "northland", "cede-north"),
        ("reversed", "northland", "cede-north"),
        ("shifted", "northland", "cede-north"),
        ("withdrawn", "northland", "cede-north"),
    ]
    stances = [
        (item["before"] and item["before"]["stance"], item["after"] and item["after"]["stance"]) for item in items
    ]
    assert stances == [
        (None, "oppose"),
        ("oppose", "lean_oppose"),
        ("lean_oppose", "support"),
        ("support", "lean_oppose"),
        ("lean_oppose", "oppose"),
        ("oppose", None),
    ]
    ids = [item["id"] for item in items]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert page["next_cursor"] is None and page["last_id"] == ids[-1]
    assert items[0]["stated_on"] == "2025-08-01" and items[0]["after"]["statement"] == first["id"]
    assert items[0]["after"]["quote"] == "Sentence 1 was said."
    assert items[2]["caused_by"]["actor"] == "admin" and items[2]["caused_by"]["at"].endswith("Z")


def test_a_newer_statement_of_the_same_stance_is_a_restatement(client, source_id):
    first = state(client, source_id, 1, "support", "2025-08-01")
    second = state(client, source_id, 2, "support", "2025-08-02")
    restated = changes(client)["items"][-1]
    assert restated["change"] == "restated"
    assert (restated["before"]["statement"], restated["after"]["statement"]) == (first["id"], second["id"])
    assert restated["after"]["evidence_count"] == 2


def test_an_event_holds_the_cell_as_the_matrix_serves_it(client, source_id):
    state(client, source_id, 1, "oppose", "2025-08-01")
    state(client, source_id, 2, "neutral", "2025-08-02", party="southland", issue="open-border")
    events = changes(client)["items"]
    assert events[0]["after"] == matrix_cell(client, "northland", "cede-north")
    assert events[1]["after"] == matrix_cell(client, "southland", "open-border")


def test_writes_that_change_no_position_add_no_event(client, source_id):
    state(client, source_id, 1, "oppose", "2025-08-01")
    before = changes(client)
    assert client.patch("/v1/parties/northland", json={"name": "The Northland"}).status_code == 200
    create_party(client, "eastland")
    # An earlier statement leaves the latest position as it was.
    state(client, source_id, 2, "support", "2025-07-01")
    assert changes(client) == before


def test_filters_by_party_issue_and_class_with_comma_lists(client, source_id):
    state(client, source_id, 1, "oppose", "2025-08-01")
    state(client, source_id, 2, "support", "2025-08-01", issue="open-border")
    state(client, source_id, 3, "neutral", "2025-08-01", party="southland")
    state(client, source_id, 4, "lean_oppose", "2025-08-02")
    everything = changes(client)["items"]
    assert len(everything) == 4

    def cells(**params: str) -> list[tuple[str, str, str]]:
        return [(item["party"], item["issue"], item["change"]) for item in changes(client, **params)["items"]]

    assert cells(party="southland") == [("southland", "cede-north", "new")]
    assert cells(issue="open-border") == [("northland", "open-border", "new")]
    assert cells(change="shifted") == [("northland", "cede-north", "shifted")]
    assert cells(party="northland", issue="cede-north") == [
        ("northland", "cede-north", "new"),
        ("northland", "cede-north", "shifted"),
    ]
    assert len(cells(party="southland,northland", change="new, shifted")) == 4
    assert cells(party="northland", change="reversed,withdrawn") == []
    # Filtered or not, `last_id` is the newest id of the whole feed.
    assert changes(client, party="southland")["last_id"] == everything[-1]["id"]


def test_a_former_slug_still_filters_and_events_show_the_current_one(client, source_id):
    state(client, source_id, 1, "oppose", "2025-08-01")
    assert client.patch("/v1/parties/northland", json={"slug": "northia"}).status_code == 200
    assert client.patch("/v1/issues/cede-north", json={"slug": "north"}).status_code == 200
    state(client, source_id, 2, "support", "2025-08-02", party="northia", issue="north")
    items = changes(client, party="northland", issue="cede-north")["items"]
    assert [(item["party"], item["issue"], item["change"]) for item in items] == [
        ("northia", "north", "new"),
        ("northia", "north", "reversed"),
    ]


@pytest.mark.parametrize(
    ("params", "field", "named"),
    [
        ({"party": "northland,atlantis"}, "query.party", "atlantis"),
        ({"issue": "nowhere"}, "query.issue", "nowhere"),
        ({"change": "new,moved"}, "query.change", "moved"),
        ({"change": "unchanged"}, "query.change", "unchanged"),
        ({"party": " , "}, "query.party", "at least one slug"),
        ({"change": ","}, "query.change", "new, shifted, reversed, withdrawn, restated"),
    ],
)
def test_unknown_filters_are_422_problems_naming_them(client, source_id, params, field, named):
    body = assert_problem(client.get("/v1/changes", params=params), 422, "validation-error")
    assert body["errors"][0]["field"] == field
    assert named in body["detail"]


@pytest.mark.parametrize("params", [{"after": "-1"}, {"after": "x"}, {"limit": "0"}, {"after": "1", "afterwards": "2"}])
def test_malformed_parameters_are_422_problems(client, params):
    assert_problem(client.get("/v1/changes", params=params), 422)


def test_a_cursor_from_elsewhere_is_a_400_problem(client):
    assert_problem(client.get("/v1/changes", params={"cursor": "bm90LW91cnM"}), 400, "invalid-cursor")


def test_pages_and_after_continue_without_a_miss_or_a_repeat_while_writes_go_on(client, source_id):
    for n in range(1, 6):
        state(client, source_id, n, "support" if n % 2 else "oppose", f"2025-08-{n:02}")
    first = client.get("/v1/changes", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    assert 'rel="next"' in first.headers["link"] and page["next_cursor"] in first.headers["link"]

    # Writes between the pages: the cursor's next page and `after` the last id seen both go on from there.
    for n in range(6, 9):
        state(client, source_id, n, "support" if n % 2 else "oppose", f"2025-08-{n:02}", party="southland")
    seen = page["items"] + every_item(client, "/v1/changes", limit=2, cursor=page["next_cursor"])
    by_after: list[dict[str, Any]] = []
    last = 0
    while batch := changes(client, after=last, limit=3)["items"]:
        by_after += batch
        last = batch[-1]["id"]
    everything = changes(client, limit=200)["items"]
    assert len(everything) == 8
    assert [item["id"] for item in seen] == [item["id"] for item in by_after] == [item["id"] for item in everything]

    middle = everything[3]["id"]
    assert [item["id"] for item in changes(client, after=middle)["items"]] == [item["id"] for item in everything[4:]]
    assert changes(client, after=everything[-1]["id"]) == {"items": [], "next_cursor": None, "last_id": last}


def test_an_empty_feed(client):
    assert changes(client) == {"items": [], "next_cursor": None, "last_id": 0}


def test_a_stream_refuses_limit_and_a_malformed_last_event_id(client):
    stream = {"Accept": "text/event-stream"}
    body = assert_problem(client.get("/v1/changes", params={"limit": 5}, headers=stream), 422)
    assert body["errors"][0]["field"] == "query.limit"
    body = assert_problem(client.get("/v1/changes", headers={**stream, "Last-Event-ID": "seven"}), 422)
    assert body["errors"][0]["field"] == "header.Last-Event-ID"
    # Filters are checked before a stream starts.
    assert_problem(client.get("/v1/changes", params={"party": "atlantis"}, headers=stream), 422)


def test_json_stays_the_answer_unless_event_stream_is_preferred(client):
    for accept in ("application/json", "*/*", "text/*", "application/json, text/event-stream;q=0.5"):
        response = client.get("/v1/changes", headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json", accept
