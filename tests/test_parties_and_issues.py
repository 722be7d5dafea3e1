"""Parties and issues: the two slug-addressed catalogs share one lifecycle, so most tests run on both."""

import re
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session

from app.models.issue import Issue
from app.models.party import Party
from tests.helpers import assert_problem, create_party, table_counts

PARTIES = {
    "path": "/v1/parties",
    "name_field": "name",
    "name_max": 200,
    "list_field": "aliases",
    "list_max": 20,
}
ISSUES = {
    "path": "/v1/issues",
    "name_field": "title",
    "name_max": 500,
    "list_field": "keywords",
    "list_max": 30,
}


@pytest.fixture(params=[PARTIES, ISSUES], ids=["parties", "issues"])
def collection(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.param


def body_for(collection: dict[str, Any], slug: str, **fields: Any) -> dict[str, Any]:
    if collection is PARTIES:
        body = {
            "slug": slug,
            "name": "Northland",
            "kind": "country",
            "description": "A country in the north.",
            "aliases": ["the North", "Northlanders"],
        }
    else:
        body = {
            "slug": slug,
            "title": "Ceding the north",
            "proposition": "Northland cedes the north",
            "description": "Whether the north changes hands.",
            "keywords": ["north", "cession"],
        }
    return {**body, **fields}


def create(client, collection: dict[str, Any], slug: str, **fields: Any) -> dict[str, Any]:
    response = client.post(collection["path"], json=body_for(collection, slug, **fields))
    assert response.status_code == 201, response.text
    return response.json()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- create and read ---------------------------------------------------------------------------


def test_create_returns_201_with_location_and_every_field(client, collection):
    body = body_for(collection, "northland")
    response = client.post(collection["path"], json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{collection['path']}/northland"
    created = response.json()
    for name, value in body.items():
        assert created[name] == value
    assert parse_time(created["created_at"]).utcoffset().total_seconds() == 0
    assert created["updated_at"]
    assert "id" not in created


def test_created_entry_is_served_at_its_location(client, collection):
    created = client.post(collection["path"], json=body_for(collection, "northland"))
    fetched = client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


def test_list_field_defaults_to_empty_and_names_are_trimmed(client, collection):
    body = body_for(collection, "northland", **{collection["name_field"]: "  Northland  "})
    del body[collection["list_field"]]
    created = client.post(collection["path"], json=body)
    assert created.status_code == 201, created.text
    assert created.json()[collection["list_field"]] == []
    assert created.json()[collection["name_field"]] == "Northland"


def test_unknown_slug_is_a_404_problem(client, collection):
    body = assert_problem(client.get(f"{collection['path']}/no-such-slug"), 404, "not-found")
    assert body["instance"] == f"{collection['path']}/no-such-slug"


def test_duplicate_slug_is_a_409_problem_and_writes_nothing(client, collection):
    first = create(client, collection, "northland")
    before = table_counts(client)
    response = client.post(
        collection["path"], json=body_for(collection, "northland", **{collection["name_field"]: "Other"})
    )
    assert_problem(response, 409, "conflict")
    assert table_counts(client) == before
    assert client.get(f"{collection['path']}/northland").json() == first


# --- update ------------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields_and_bumps_updated_at(client, collection):
    original = create(client, collection, "northland")
    name_field = collection["name_field"]
    response = client.patch(f"{collection['path']}/northland", json={name_field: "Renamed"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated[name_field] == "Renamed"
    for field, value in original.items():
        if field not in (name_field, "updated_at"):
            assert updated[field] == value, field
    assert parse_time(updated["updated_at"]) > parse_time(original["updated_at"])
    assert client.get(f"{collection['path']}/northland").json() == updated


def test_patch_replaces_the_list_field(client, collection):
    create(client, collection, "northland")
    list_field = collection["list_field"]
    response = client.patch(f"{collection['path']}/northland", json={list_field: ["only this"]})
    assert response.status_code == 200, response.text
    assert client.get(f"{collection['path']}/northland").json()[list_field] == ["only this"]


def test_patch_with_empty_body_changes_nothing(client, collection):
    original = create(client, collection, "northland")
    response = client.patch(f"{collection['path']}/northland", json={})
    assert response.status_code == 200, response.text
    assert response.json() == original
    assert client.get(f"{collection['path']}/northland").json() == original


def test_patch_slug_moves_the_entry_to_the_new_slug(client, collection):
    create(client, collection, "northland")
    response = client.patch(f"{collection['path']}/northland", json={"slug": "north-land"})
    assert response.status_code == 200, response.text
    assert response.json()["slug"] == "north-land"
    assert client.get(f"{collection['path']}/north-land").status_code == 200
    # The old slug answers with where the entry is now (tests/test_slugs.py has the rest).
    moved = client.get(f"{collection['path']}/northland", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, f"{collection['path']}/north-land")


def test_patch_rename_to_a_taken_slug_is_a_409_problem_and_changes_nothing(client, collection):
    first = create(client, collection, "northland")
    second = create(client, collection, "southland")
    response = client.patch(f"{collection['path']}/southland", json={"slug": "northland"})
    assert_problem(response, 409, "conflict")
    assert client.get(f"{collection['path']}/northland").json() == first
    assert client.get(f"{collection['path']}/southland").json() == second


@pytest.mark.parametrize("field", ["slug", "name_field", "list_field"])
def test_patch_with_explicit_null_for_a_required_field_is_a_422_problem_and_changes_nothing(client, collection, field):
    original = create(client, collection, "northland")
    name = collection.get(field, field)
    response = client.patch(f"{collection['path']}/northland", json={name: None})
    body = assert_problem(response, 422, "validation-error")
    assert name in body["detail"] or any(name in error["message"] for error in body["errors"])
    assert client.get(f"{collection['path']}/northland").json() == original


def test_patch_of_unknown_slug_is_a_404_problem(client, collection):
    response = client.patch(f"{collection['path']}/no-such-slug", json={collection["name_field"]: "X"})
    assert_problem(response, 404, "not-found")


# --- validation --------------------------------------------------------------------------------


def test_unknown_json_field_is_a_422_problem_on_create_and_patch(client, collection):
    before = table_counts(client)
    body = assert_problem(
        client.post(collection["path"], json=body_for(collection, "northland", colour="red")), 422, "validation-error"
    )
    assert body["errors"][0]["field"] == "body.colour"
    assert table_counts(client) == before

    original = create(client, collection, "northland")
    response = client.patch(f"{collection['path']}/northland", json={"colour": "red"})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.colour"
    assert client.get(f"{collection['path']}/northland").json() == original


@pytest.mark.parametrize(
    "slug",
    ["Has Space", "UPPER", "a--b", "trailing-", "under_score", "a" * 65],
    ids=["space", "upper", "double-hyphen", "trailing-hyphen", "underscore", "65-chars"],
)
def test_invalid_slug_is_a_422_problem_and_writes_nothing(client, collection, slug):
    before = table_counts(client)
    body = assert_problem(client.post(collection["path"], json=body_for(collection, slug)), 422, "validation-error")
    assert body["errors"][0]["field"] == "body.slug"
    assert table_counts(client) == before


def test_invalid_slug_in_patch_is_a_422_problem(client, collection):
    original = create(client, collection, "northland")
    response = client.patch(f"{collection['path']}/northland", json={"slug": "Has Space"})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.slug"
    assert client.get(f"{collection['path']}/northland").json() == original


def test_longest_slug_is_accepted(client, collection):
    slug = "a" * 64
    create(client, collection, slug)
    assert client.get(f"{collection['path']}/{slug}").status_code == 200


def test_list_field_at_its_limit_is_accepted_and_one_more_is_a_422_problem(client, collection):
    list_field, limit = collection["list_field"], collection["list_max"]
    items = [f"name {i}" for i in range(limit + 1)]
    before = table_counts(client)
    response = client.post(collection["path"], json=body_for(collection, "too-many", **{list_field: items}))
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == f"body.{list_field}"
    assert table_counts(client) == before

    created = create(client, collection, "just-enough", **{list_field: items[:limit]})
    assert created[list_field] == items[:limit]
    response = client.patch(f"{collection['path']}/just-enough", json={list_field: items})
    assert_problem(response, 422, "validation-error")
    assert client.get(f"{collection['path']}/just-enough").json()[list_field] == items[:limit]


def test_over_long_name_is_a_422_problem_and_the_longest_is_accepted(client, collection):
    name_field, limit = collection["name_field"], collection["name_max"]
    before = table_counts(client)
    response = client.post(collection["path"], json=body_for(collection, "long", **{name_field: "x" * (limit + 1)}))
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == f"body.{name_field}"
    assert table_counts(client) == before
    assert create(client, collection, "long", **{name_field: "x" * limit})[name_field] == "x" * limit


@pytest.mark.parametrize("where", ["name_field", "description", "list_field"])
def test_nul_character_in_a_string_is_a_422_problem_and_writes_nothing(client, collection, where):
    field = collection.get(where, where)
    value: Any = ["ok", "bad\x00alias"] if where == "list_field" else "bad\x00value"
    before = table_counts(client)
    response = client.post(collection["path"], json=body_for(collection, "northland", **{field: value}))
    errors = assert_problem(response, 422, "validation-error")["errors"]
    assert errors[0]["field"].startswith(f"body.{field}")
    assert table_counts(client) == before


def test_nul_character_in_a_patch_is_a_422_problem_and_changes_nothing(client, collection):
    original = create(client, collection, "northland")
    response = client.patch(f"{collection['path']}/northland", json={collection["name_field"]: "a\x00b"})
    assert_problem(response, 422, "validation-error")
    assert client.get(f"{collection['path']}/northland").json() == original


def test_blank_name_is_a_422_problem(client, collection):
    before = table_counts(client)
    response = client.post(collection["path"], json=body_for(collection, "blank", **{collection["name_field"]: "   "}))
    assert_problem(response, 422, "validation-error")
    assert table_counts(client) == before


@pytest.mark.parametrize("kind", ["planet", "Country", "", None])
def test_invalid_party_kind_is_a_422_problem(client, kind):
    before = table_counts(client)
    response = client.post("/v1/parties", json={"slug": "northland", "name": "Northland", "kind": kind})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.kind"
    assert table_counts(client) == before


def test_invalid_party_kind_in_patch_is_a_422_problem(client):
    original = create_party(client, "northland")
    assert_problem(client.patch("/v1/parties/northland", json={"kind": "planet"}), 422, "validation-error")
    assert client.get("/v1/parties/northland").json() == original


def test_party_kind_can_be_changed(client):
    create_party(client, "northland")
    response = client.patch("/v1/parties/northland", json={"kind": "bloc"})
    assert response.status_code == 200, response.text
    assert client.get("/v1/parties/northland").json()["kind"] == "bloc"


# --- delete ------------------------------------------------------------------------------------


def test_delete_of_an_unreferenced_entry_is_204_and_then_404(client, collection):
    create(client, collection, "northland")
    create(client, collection, "southland")
    response = client.delete(f"{collection['path']}/northland")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"{collection['path']}/northland"), 404, "not-found")
    assert_problem(client.delete(f"{collection['path']}/northland"), 404, "not-found")
    assert client.get(f"{collection['path']}/southland").status_code == 200


@pytest.mark.parametrize("path", ["/v1/parties/russia", "/v1/issues/cede-donbas"])
def test_delete_of_an_entry_referenced_by_a_statement_is_a_409_problem_and_keeps_it(client, seeded, path):
    entry = client.get(path).json()
    before = table_counts(client)
    assert_problem(client.delete(path), 409, "conflict")
    assert client.get(path).json() == entry
    assert table_counts(client) == before


# --- pagination --------------------------------------------------------------------------------

# Creation order on purpose not alphabetical, so an order by slug would show.
PAGE_SLUGS = ["echo", "alpha", "delta", "bravo", "charlie"]


def next_link(response) -> str | None:
    header = response.headers.get("link")
    if header is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', header)
    assert match, header
    return match.group(1)


def test_pages_follow_creation_order_with_cursor_and_link_header(client, collection):
    for slug in PAGE_SLUGS:
        create(client, collection, slug)

    first = client.get(collection["path"], params={"limit": 2})
    assert first.status_code == 200
    assert [item["slug"] for item in first.json()["items"]] == PAGE_SLUGS[:2]
    cursor = first.json()["next_cursor"]
    assert isinstance(cursor, str) and cursor
    link = next_link(first)
    assert link is not None

    by_cursor = client.get(collection["path"], params={"limit": 2, "cursor": cursor})
    by_link = client.get(link)
    assert by_link.status_code == 200
    assert by_link.json() == by_cursor.json()
    assert [item["slug"] for item in by_link.json()["items"]] == PAGE_SLUGS[2:4]

    last = client.get(next_link(by_link))
    assert last.status_code == 200
    assert [item["slug"] for item in last.json()["items"]] == PAGE_SLUGS[4:]
    assert last.json()["next_cursor"] is None
    assert "link" not in last.headers


def test_following_cursors_lists_every_entry_exactly_once(client, collection):
    for slug in PAGE_SLUGS:
        create(client, collection, slug)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        page = client.get(collection["path"], params=params).json()
        seen += [item["slug"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == PAGE_SLUGS


def test_a_single_page_has_no_cursor_and_no_link(client, collection):
    for slug in PAGE_SLUGS:
        create(client, collection, slug)
    response = client.get(collection["path"])
    assert [item["slug"] for item in response.json()["items"]] == PAGE_SLUGS
    assert response.json()["next_cursor"] is None
    assert "link" not in response.headers


def test_an_empty_collection_is_an_empty_page(client, collection):
    response = client.get(collection["path"])
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "eyJhZnRlciI6LTF9", "eyJhZnRlciI6IngifQ", "e30"],
    ids=["garbage", "after-minus-1", "after-string", "empty-object"],
)
def test_a_cursor_the_server_did_not_issue_is_a_400_invalid_cursor_problem(client, collection, cursor):
    create(client, collection, "northland")
    assert_problem(client.get(collection["path"], params={"cursor": cursor}), 400, "invalid-cursor")


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
def test_a_limit_below_one_or_not_a_number_is_a_422_problem(client, collection, limit):
    response = client.get(collection["path"], params={"limit": limit})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "query.limit"


def test_a_huge_limit_is_capped_at_200(client, engine, collection):
    model = Party if collection is PARTIES else Issue
    with Session(engine) as session:
        for i in range(201):
            if model is Party:
                session.add(Party(slug=f"bulk-{i}", name=f"Bulk {i}", kind="country"))
            else:
                session.add(Issue(slug=f"bulk-{i}", title=f"Bulk {i}", proposition="Bulk"))
        session.commit()
    response = client.get(collection["path"], params={"limit": 100000})
    assert response.status_code == 200
    page = response.json()
    assert len(page["items"]) == 200
    assert page["next_cursor"] is not None
    rest = client.get(next_link(response)).json()
    assert [item["slug"] for item in rest["items"]] == ["bulk-200"]
    assert rest["next_cursor"] is None


# --- renaming what the matrix shows ------------------------------------------------------------


def slugs_shown(document: dict[str, Any], role: str) -> list[str]:
    """The `role` ("party" or "issue") of every matrix cell, or of every diff change and its cells."""
    if "cells" in document:
        return [cell[role] for cell in document["cells"]]
    shown = []
    for change in document["changes"]:
        shown += [change[role], *(side[role] for side in (change["before"], change["after"]) if side is not None)]
    return shown


@pytest.mark.parametrize(
    ("path", "role", "old", "new"),
    [
        ("/v1/parties", "party", "russia", "russian-federation"),
        ("/v1/issues", "issue", "security-guarantees", "guarantees"),
    ],
)
def test_a_new_slug_is_shown_in_every_cell_of_the_matrix_and_of_diffs(client, seeded, path, role, old, new):
    views = [("/v1/matrix", {"as_of": "2025-08-18"}), ("/v1/diff", {"from": "2025-08-01", "to": "2025-08-18"})]
    before = [client.get(view, params=params).json() for view, params in views]
    response = client.patch(f"{path}/{old}", json={"slug": new})
    assert response.status_code == 200, response.text
    for (view, params), earlier in zip(views, before, strict=True):
        document = client.get(view, params=params).json()
        shown = slugs_shown(document, role)
        assert old not in shown, f"{view} still shows {old}"
        assert shown.count(new) == slugs_shown(earlier, role).count(old) > 0, view
        if view == "/v1/matrix":
            filled = [cell for cell in document["cells"] if cell[role] == new and cell["stance"] is not None]
            assert filled, "the renamed entry has stored cells"
