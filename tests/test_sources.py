"""Sources: stored documents whose text is kept exactly as given and never changes."""

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

import pytest

from tests.helpers import ARTICLE, assert_problem, create_source, table_counts

# Curly quotes, an em dash, a non-BMP character, CRLF and LF line ends, trailing spaces and no final newline.
EXACT_TEXT = "He said: “We stay.”  \r\nShe replied — no. 🇺🇦\n\nLast line with trailing spaces   "


def source_body(**fields: Any) -> dict[str, Any]:
    return {"title": "Minister on the north", "published_at": "2025-08-18", "text": ARTICLE, **fields}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seeded_source_id(client) -> int:
    items = client.get("/v1/sources").json()["items"]
    assert len(items) == 1
    return items[0]["id"]


# --- create and read ---------------------------------------------------------------------------


def test_create_returns_201_with_location_and_the_stored_source(client):
    response = client.post(
        "/v1/sources",
        json=source_body(
            publisher="Northland Times", url="https://example.com/news/1", kind="transcript", language="de"
        ),
    )
    assert response.status_code == 201, response.text
    source = response.json()
    assert response.headers["location"] == f"/v1/sources/{source['id']}"
    assert source["title"] == "Minister on the north"
    assert source["publisher"] == "Northland Times"
    assert source["url"] == "https://example.com/news/1"
    assert source["kind"] == "transcript"
    assert source["language"] == "de"
    assert source["title_is_editorial"] is False
    assert source["supersedes"] is None
    assert client.get(response.headers["location"]).json() == source


def test_defaults_for_optional_fields(client):
    source = create_source(client)
    assert source["kind"] == "article"
    assert source["language"] == "en"
    assert source["publisher"] is None
    assert source["url"] is None


@pytest.mark.parametrize(
    ("given", "served"),
    [
        ("2025-08-18", "2025-08-18T00:00:00Z"),
        ("2025-08-18T14:30:00+02:00", "2025-08-18T12:30:00Z"),
        ("2025-08-18T23:30:00-05:00", "2025-08-19T04:30:00Z"),
        ("2025-08-18T14:30:00", "2025-08-18T14:30:00Z"),
        ("2025-08-18T14:30:00Z", "2025-08-18T14:30:00Z"),
    ],
    ids=["bare-date", "plus-two", "minus-five-next-day", "no-offset", "zulu"],
)
def test_published_at_is_served_in_utc(client, given, served):
    source = create_source(client, published_at=given)
    assert source["published_at"] == served
    assert client.get(f"/v1/sources/{source['id']}").json()["published_at"] == served


def test_text_is_stored_exactly_with_its_hash_and_length(client):
    source = create_source(client, text=EXACT_TEXT)
    assert source["text"] == EXACT_TEXT
    assert source["sha256"] == hashlib.sha256(EXACT_TEXT.encode("utf-8")).hexdigest()
    assert source["text_length"] == len(EXACT_TEXT)
    fetched = client.get(f"/v1/sources/{source['id']}").json()
    assert fetched["text"] == EXACT_TEXT
    assert fetched["sha256"] == source["sha256"]


def test_text_endpoint_serves_the_exact_text_as_plain_text_with_repr_digest(client):
    source = create_source(client, text=EXACT_TEXT)
    response = client.get(f"/v1/sources/{source['id']}/text")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.content == EXACT_TEXT.encode("utf-8")
    digest = base64.b64encode(hashlib.sha256(EXACT_TEXT.encode("utf-8")).digest()).decode()
    assert response.headers["repr-digest"] == f"sha-256=:{digest}:"


def test_text_of_an_unknown_source_is_a_404_problem(client):
    assert_problem(client.get("/v1/sources/424242/text"), 404, "not-found")


def test_list_omits_the_text_but_gives_its_length_and_hash(client):
    first = create_source(client)
    second = create_source(client, text=EXACT_TEXT)
    response = client.get("/v1/sources")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [first["id"], second["id"]]
    for item, created in zip(items, (first, second), strict=True):
        assert "text" not in item
        assert item["text_length"] == created["text_length"]
        assert item["sha256"] == created["sha256"]


def test_list_pages_with_a_cursor(client):
    ids = [create_source(client, title=f"Source {i}")["id"] for i in range(3)]
    first = client.get("/v1/sources", params={"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == ids[:2]
    rest = client.get("/v1/sources", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [item["id"] for item in rest["items"]] == ids[2:]
    assert rest["next_cursor"] is None


def test_unknown_source_is_a_404_problem(client):
    assert_problem(client.get("/v1/sources/424242"), 404, "not-found")


# --- update ------------------------------------------------------------------------------------


def test_patch_corrects_metadata_and_keeps_the_text(client):
    source = create_source(client, publisher="Northland Times", url="https://example.com/a")
    response = client.patch(
        f"/v1/sources/{source['id']}",
        json={"title": "Corrected title", "publisher": None, "url": "https://example.org/b"},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "Corrected title"
    assert updated["publisher"] is None
    assert updated["url"] == "https://example.org/b"
    for field in ("text", "sha256", "text_length", "published_at", "created_at", "kind", "language"):
        assert updated[field] == source[field], field
    assert parse_time(updated["updated_at"]) > parse_time(source["updated_at"])
    assert client.get(f"/v1/sources/{source['id']}").json() == updated


def test_patch_url_to_null_clears_it(client):
    source = create_source(client, url="https://example.com/a")
    response = client.patch(f"/v1/sources/{source['id']}", json={"url": None})
    assert response.status_code == 200, response.text
    assert client.get(f"/v1/sources/{source['id']}").json()["url"] is None


def test_patch_published_at_accepts_a_bare_date(client):
    source = create_source(client)
    response = client.patch(f"/v1/sources/{source['id']}", json={"published_at": "2024-02-29"})
    assert response.status_code == 200, response.text
    assert response.json()["published_at"] == "2024-02-29T00:00:00Z"


def test_patch_with_text_is_a_422_problem_and_the_text_is_unchanged(client):
    source = create_source(client)
    response = client.patch(f"/v1/sources/{source['id']}", json={"text": "A different text."})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.text"
    assert client.get(f"/v1/sources/{source['id']}").json() == source
    assert client.get(f"/v1/sources/{source['id']}/text").text == ARTICLE


@pytest.mark.parametrize("field", ["title", "published_at", "kind", "language", "title_is_editorial"])
def test_patch_with_null_for_a_required_field_is_a_422_problem(client, field):
    source = create_source(client)
    assert_problem(client.patch(f"/v1/sources/{source['id']}", json={field: None}), 422, "validation-error")
    assert client.get(f"/v1/sources/{source['id']}").json() == source


def test_patch_of_an_unknown_source_is_a_404_problem(client):
    assert_problem(client.patch("/v1/sources/424242", json={"title": "X"}), 404, "not-found")


# --- versions ----------------------------------------------------------------------------------


def test_supersedes_an_existing_source_is_served_as_supersedes(client):
    original = create_source(client)
    newer = create_source(client, text=ARTICLE + " Update: talks ended.", supersedes=original["id"])
    assert newer["supersedes"] == original["id"]
    assert client.get(f"/v1/sources/{newer['id']}").json()["supersedes"] == original["id"]
    listed = {item["id"]: item for item in client.get("/v1/sources").json()["items"]}
    assert listed[newer["id"]]["supersedes"] == original["id"]
    assert listed[original["id"]]["supersedes"] is None


def test_supersedes_a_missing_source_is_a_422_problem_naming_the_field(client):
    create_source(client)
    before = table_counts(client)
    response = client.post("/v1/sources", json=source_body(supersedes=424242))
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] == "body.supersedes"
    assert table_counts(client) == before


@pytest.mark.parametrize("supersedes", [0, -1, 2_147_483_648, "abc"])
def test_supersedes_out_of_range_is_a_422_problem(client, supersedes):
    before = table_counts(client)
    response = client.post("/v1/sources", json=source_body(supersedes=supersedes))
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.supersedes"
    assert table_counts(client) == before


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["not a url", "ftp://x", "javascript:alert(1)", "https://", "https://example.com/" + "a" * 2100],
    ids=["words", "ftp", "javascript", "no-host", "too-long"],
)
def test_invalid_url_is_a_422_problem_and_writes_nothing(client, url):
    before = table_counts(client)
    response = client.post("/v1/sources", json=source_body(url=url))
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.url"
    assert table_counts(client) == before


def test_invalid_url_in_patch_is_a_422_problem_and_changes_nothing(client):
    source = create_source(client, url="https://example.com/a")
    assert_problem(client.patch(f"/v1/sources/{source['id']}", json={"url": "ftp://x"}), 422, "validation-error")
    assert client.get(f"/v1/sources/{source['id']}").json() == source


@pytest.mark.parametrize(
    "published_at",
    ["2025-13-45", "yesterday", "2025-02-30", "18.08.2025", "", "0999-12-31", "2025-08-18T25:00:00Z"],
)
def test_malformed_published_at_is_a_422_problem_and_writes_nothing(client, published_at):
    before = table_counts(client)
    response = client.post("/v1/sources", json=source_body(published_at=published_at))
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.published_at"
    assert table_counts(client) == before


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_published_at_past_year_9999_in_utc_is_a_422_problem_not_a_500(client, method):
    source = create_source(client)
    before = table_counts(client)
    late = "9999-12-31T23:30:00-05:00"  # 10000-01-01T04:30:00Z: past what the UTC conversion can hold
    if method == "POST":
        response = client.post("/v1/sources", json=source_body(published_at=late))
    else:
        response = client.patch(f"/v1/sources/{source['id']}", json={"published_at": late})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.published_at"
    assert table_counts(client) == before
    assert client.get(f"/v1/sources/{source['id']}").json() == source


def test_missing_published_at_is_a_422_problem(client):
    body = source_body()
    del body["published_at"]
    assert assert_problem(client.post("/v1/sources", json=body), 422)["errors"][0]["field"] == "body.published_at"


@pytest.mark.parametrize("text", ["", "nul \x00 inside", "lone \ud800 surrogate"], ids=["empty", "nul", "surrogate"])
def test_unstorable_text_is_a_422_problem_and_writes_nothing(client, text):
    before = table_counts(client)
    # Serialised with ASCII escapes by hand: a lone surrogate cannot be encoded as UTF-8.
    response = client.post(
        "/v1/sources",
        content=json.dumps(source_body(text=text), ensure_ascii=True),
        headers={"content-type": "application/json"},
    )
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.text"
    assert table_counts(client) == before


def test_unknown_field_is_a_422_problem(client):
    before = table_counts(client)
    response = client.post("/v1/sources", json=source_body(author="Someone"))
    assert assert_problem(response, 422, "validation-error")["errors"][0]["field"] == "body.author"
    assert table_counts(client) == before


@pytest.mark.parametrize("source_id", ["99999999999999999999", "2147483648", "0", "-1", "abc"])
def test_id_out_of_range_is_a_client_error_problem_never_a_500(client, source_id):
    create_source(client)
    before = table_counts(client)
    for method, path, kwargs in [
        ("GET", f"/v1/sources/{source_id}", {}),
        ("GET", f"/v1/sources/{source_id}/text", {}),
        ("PATCH", f"/v1/sources/{source_id}", {"json": {"title": "X"}}),
        ("DELETE", f"/v1/sources/{source_id}", {}),
    ]:
        response = client.request(method, path, **kwargs)
        assert response.status_code in (404, 422), (method, path, response.text)
        assert_problem(response, response.status_code)
    assert table_counts(client) == before


# --- delete ------------------------------------------------------------------------------------


def test_delete_of_an_unquoted_source_is_204_and_then_404(client):
    kept = create_source(client, title="Kept")
    source = create_source(client)
    response = client.delete(f"/v1/sources/{source['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/v1/sources/{source['id']}"), 404, "not-found")
    assert_problem(client.delete(f"/v1/sources/{source['id']}"), 404, "not-found")
    assert client.get(f"/v1/sources/{kept['id']}").json() == kept


def test_delete_of_a_quoted_source_is_a_409_problem_and_keeps_it(client, seeded):
    source_id = seeded_source_id(client)
    source = client.get(f"/v1/sources/{source_id}").json()
    before = table_counts(client)
    assert_problem(client.delete(f"/v1/sources/{source_id}"), 409, "conflict")
    assert client.get(f"/v1/sources/{source_id}").json() == source
    assert table_counts(client) == before


def test_delete_of_a_superseded_source_is_a_409_problem_until_the_newer_one_is_gone(client):
    original = create_source(client)
    newer = create_source(client, text=ARTICLE + " Update.", supersedes=original["id"])
    before = table_counts(client)
    assert_problem(client.delete(f"/v1/sources/{original['id']}"), 409, "conflict")
    assert client.get(f"/v1/sources/{original['id']}").json() == original
    assert table_counts(client) == before

    assert client.delete(f"/v1/sources/{newer['id']}").status_code == 204
    assert client.delete(f"/v1/sources/{original['id']}").status_code == 204
