"""`sort` on every list: documented keys, `-` for descending, ties broken by id in the same
direction, and cursors that keep their place under a sort; `speaker` on statements."""

import base64
import json
from datetime import date, datetime
from typing import Any

import pytest

from tests.helpers import assert_problem, create_party, create_source, every_item
from tests.test_source_revisions import revise, seed_text, supersede

# Every list, its sort keys (each the name of a field of its items) and a field that identifies an item.
LISTS: dict[str, tuple[list[str], str]] = {
    "/v1/parties": (["slug", "name", "kind", "created_at", "updated_at"], "slug"),
    "/v1/issues": (["slug", "title", "created_at", "updated_at"], "slug"),
    "/v1/sources": (["id", "published_at", "title", "created_at", "updated_at"], "id"),
    "/v1/statements": (["id", "stated_on", "created_at", "recorded_at", "party", "issue", "source"], "id"),
    "/v1/anchoring": (["created_at", "source", "statement"], "statement"),
    "/v1/audit": (["id", "at", "actor", "entity"], "id"),
}


@pytest.fixture
def varied(client, seeded) -> None:
    """The seed data, plus names that sort differently by case and accent, values that tie, and
    re-anchoring outcomes (the seed article superseded)."""
    for slug, name in [("zeta", "zeta"), ("alpha-bloc", "Alpha"), ("oesterreich", "Österreich"), ("beta", "Beta")]:
        create_party(client, slug, name=name, kind="bloc")
    for title in ("Zebra crossing", "apple harvest", "Apple harvest"):
        create_source(client, text=f"A text about {title}.", title=title, published_at="2025-08-18")
    supersede(client, revise(seed_text(client)))
    # Another writer in the audit trail.
    client.patch("/v1/parties/beta", json={"description": "A bloc."}).raise_for_status()


def comparable(value: Any) -> Any:
    """A field's value as the server orders it: timestamps and dates by time, text by code point."""
    if isinstance(value, str):
        for parse in (datetime.fromisoformat, date.fromisoformat):
            try:
                return parse(value.replace("Z", "+00:00"))
            except ValueError:
                pass
    return value


@pytest.mark.parametrize("path", LISTS)
def test_every_list_sorts_by_each_key_both_ways_across_pages(client, varied, path):
    keys, identity = LISTS[path]
    params = {"state": "all"} if path == "/v1/anchoring" else {}
    # In the default order, by id: an item's place there is its id, also where items show none.
    by_id = every_item(client, path, limit=2, **params)
    rank = {item[identity]: place for place, item in enumerate(by_id)}
    assert len(rank) == len(by_id) > 4

    for key in keys:
        for descending in (False, True):
            sort = ("-" if descending else "") + key
            listed = every_item(client, path, limit=2, sort=sort, **params)
            expected = sorted(by_id, key=lambda item: (comparable(item[key]), rank[item[identity]]), reverse=descending)
            assert [item[identity] for item in listed] == [item[identity] for item in expected], sort


def test_text_sorts_by_code_point_and_ties_break_by_id(client, varied):
    names = [party["name"] for party in every_item(client, "/v1/parties", limit=2, sort="name")]
    assert names.index("Alpha") < names.index("Beta") < names.index("zeta") < names.index("Österreich")
    titles = [source["title"] for source in every_item(client, "/v1/sources", limit=2, sort="-published_at")]
    # Same publication time: the later stored first, as descending ids.
    assert titles.index("Apple harvest") < titles.index("apple harvest") < titles.index("Zebra crossing")


def test_an_unknown_sort_key_is_a_422_listing_the_valid_ones(client, seeded):
    for path, (keys, _) in LISTS.items():
        problem = assert_problem(client.get(path, params={"sort": "-popularity"}), 422, "validation-error")
        assert problem["errors"][0]["field"] == "query.sort"
        for key in keys:
            assert f"`{key}`" in problem["detail"]
    assert client.get("/v1/parties", params={"sort": ""}).status_code == 422
    for path in ("/v1/parties", "/v1/issues", "/v1/anchoring"):  # their items show no id
        assert client.get(path, params={"sort": "id"}).status_code == 422


def test_a_cursor_keeps_its_place_when_rows_are_written_between_pages(client, seeded):
    first = client.get("/v1/parties", params={"sort": "name", "limit": 2}).json()
    seen = [party["name"] for party in first["items"]]
    create_party(client, "aardvark", name="Aardvark")  # sorts before the page read
    create_party(client, "zzz", name="Zzz")  # and after it
    rest = every_item(client, "/v1/parties", limit=2, sort="name", cursor=first["next_cursor"])
    names = seen + [party["name"] for party in rest]
    assert "Aardvark" not in names and names[-1] == "Zzz"
    assert names == sorted(names) and len(set(names)) == len(names) == 6


def test_a_cursor_is_refused_with_another_sort(client, seeded):
    page = client.get("/v1/statements", params={"sort": "-stated_on", "limit": 2}).json()
    problem = assert_problem(
        client.get("/v1/statements", params={"sort": "stated_on", "cursor": page["next_cursor"]}), 400, "invalid-cursor"
    )
    assert "sort=-stated_on" in problem["detail"]
    assert_problem(client.get("/v1/statements", params={"cursor": page["next_cursor"]}), 400, "invalid-cursor")
    # The Link header carries the sort along with the cursor.
    linked = client.get("/v1/statements", params={"sort": "-stated_on", "limit": 2}).headers["link"]
    assert "sort=-stated_on" in linked and f"cursor={page['next_cursor']}" in linked


def test_a_cursor_issued_before_sorting_existed_still_works(client, seeded):
    cursor = base64.urlsafe_b64encode(json.dumps({"after": 2}).encode()).decode().rstrip("=")
    page = client.get("/v1/parties", params={"cursor": cursor}).json()
    assert [party["slug"] for party in page["items"]] == ["russia", "european-allies", "alaska-governor"]


def test_a_forged_sort_key_value_in_a_cursor_is_refused(client, seeded):
    for key in (12, None, "not a date"):
        forged = {"after": 1, "sort": "stated_on", "key": key}
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        response = client.get("/v1/statements", params={"sort": "stated_on", "cursor": cursor})
        assert_problem(response, 400, "invalid-cursor")


def test_a_long_title_sorts_across_pages(client):
    # A cursor carries the last title whole: the longest one must still fit in a cursor.
    for letter in "abc":
        create_source(client, text=f"Text {letter}.", title=letter + "é" * 499)
    titles = [source["title"] for source in every_item(client, "/v1/sources", limit=1, sort="-title")]
    assert [title[0] for title in titles] == ["c", "b", "a"]


def test_statements_filter_by_speaker(client, seeded):
    everything = every_item(client, "/v1/statements", limit=3)
    speakers = {item["speaker"] for item in everything if item["speaker"]}
    assert len(speakers) > 1
    for speaker in speakers:
        listed = every_item(client, "/v1/statements", limit=3, speaker=speaker)
        assert listed == [item for item in everything if item["speaker"] == speaker]
    assert every_item(client, "/v1/statements", speaker="Nobody Who Spoke") == []
    # Exactly as recorded: another case is another speaker.
    assert every_item(client, "/v1/statements", speaker=sorted(speakers)[0].upper()) == []
