"""Conditional GET on the derived views: strong ETags from the database's data version, 304s,
and invalidation by every write, whichever server process handles it; their gzip form, made
once per view and counted once in the cache."""

import asyncio
import gzip
import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

import app.api.routes.matrix as matrix_route
from app.api import caching
from app.main import create_app
from tests.helpers import assert_problem

STRONG_ETAG = re.compile(r'^"[\x21\x23-\x7e]+"$')  # RFC 9110 entity-tag without W/

MATRIX = "/v1/matrix?as_of=2025-08-18"
VIEWS = {
    "matrix": MATRIX,
    "diff": "/v1/diff?from=2025-08-14&to=2025-08-18",
    "timeline": "/v1/parties/russia/issues/security-guarantees/timeline",
}


def fetch(client: TestClient, url: str, etag: str | None = None, **headers: str):
    if etag is not None:
        headers["If-None-Match"] = etag
    return client.get(url, headers=headers)


def etag_of(client: TestClient, url: str, **headers: str) -> str:
    response = fetch(client, url, **headers)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def assert_not_modified(response, etag: str) -> None:
    assert response.status_code == 304, response.text
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers.get("cache-control")


@pytest.mark.parametrize("url", VIEWS.values(), ids=VIEWS.keys())
def test_views_carry_a_strong_etag_and_cache_control(client, seeded, url):
    response = fetch(client, url)
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    assert STRONG_ETAG.match(etag), etag
    assert not etag.startswith("W/")
    assert response.headers["cache-control"]
    repeated = fetch(client, url)
    assert repeated.headers["etag"] == etag and repeated.content == response.content


@pytest.mark.parametrize("url", VIEWS.values(), ids=VIEWS.keys())
def test_matching_if_none_match_gives_304_with_the_same_etag(client, seeded, url):
    full = fetch(client, url)
    etag = full.headers["etag"]
    for if_none_match in (etag, f'"x", {etag}', f'{etag},"y"', f"W/{etag}", f'W/"x" , W/{etag}', "*"):
        response = fetch(client, url, if_none_match)
        assert response.status_code == 304, if_none_match
        assert_not_modified(response, etag)
        assert response.headers["cache-control"] == full.headers["cache-control"]


@pytest.mark.parametrize("url", VIEWS.values(), ids=VIEWS.keys())
def test_non_matching_if_none_match_gives_the_full_response(client, seeded, url):
    plain = fetch(client, url)
    for other in ('"x"', '"x", "y"', 'W/"x"', "", plain.headers["etag"].strip('"')):
        response = fetch(client, url, other)
        assert response.status_code == 200, other
        assert response.content == plain.content and response.headers["etag"] == plain.headers["etag"]


def test_each_representation_has_its_own_etag(client, seeded):
    variants: dict[str, tuple[str, dict[str, str]]] = {
        "json": (MATRIX, {}),
        "earlier": ("/v1/matrix?as_of=2025-08-14", {}),
        "csv": (MATRIX + "&format=csv", {}),
        "csv-long": (MATRIX + "&format=csv&layout=long", {}),
        "evidence": (MATRIX + "&evidence=all", {}),
        "some-parties": (MATRIX + "&parties=russia", {}),
        "parties-reordered": (MATRIX + "&parties=ukraine,russia", {}),
        "parties-ordered": (MATRIX + "&parties=russia,ukraine", {}),
        "some-issues": (MATRIX + "&issues=crimea", {}),
        "by-source": (MATRIX + f"&source={_source_id(client)}", {}),
    }
    etags = {name: etag_of(client, url, **headers) for name, (url, headers) in variants.items()}
    assert len(set(etags.values())) == len(etags), etags
    # The JSON matrix's ETag does not validate the CSV one, nor the other way round.
    assert fetch(client, MATRIX + "&format=csv", etags["json"]).status_code == 200
    assert fetch(client, MATRIX, etags["csv"]).status_code == 200
    assert fetch(client, "/v1/diff?from=2025-08-14&to=2025-08-17", etag_of(client, VIEWS["diff"])).status_code == 200
    # CSV asked for by header or by parameter is the same representation, with the same ETag.
    by_param = fetch(client, MATRIX + "&format=csv")
    by_accept = fetch(client, MATRIX, Accept="text/csv")
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert by_param.content == by_accept.content
    assert by_accept.headers["etag"] == etags["csv"]
    assert "accept" in by_accept.headers["vary"].lower()
    assert_not_modified(fetch(client, MATRIX, etags["csv"], Accept="text/csv"), etags["csv"])


def _statement_id(client: TestClient, party: str, issue: str) -> int:
    cells = client.get("/v1/matrix", params={"as_of": "2025-08-18", "parties": party, "issues": issue}).json()["cells"]
    return cells[0]["statement"]


def _source_id(client: TestClient) -> int:
    return client.get("/v1/sources").json()["items"][0]["id"]


def _create_statement(client: TestClient) -> Any:
    return client.post(
        "/v1/statements",
        json={
            "party": "alaska-governor",
            "issue": "crimea",
            "source": _source_id(client),
            "quote": "NO GOING INTO NATO BY UKRAINE",
            "stance": "neutral",
            "stated_on": "2025-08-16",
        },
    )


def _rename_party(client: TestClient) -> Any:
    return client.patch("/v1/parties/russia", json={"name": "Russian Federation"})


def _retract(client: TestClient) -> Any:
    statement_id = _statement_id(client, "russia", "security-guarantees")
    return client.post(
        f"/v1/statements/{statement_id}/retract", json={"reason": "Misread", "retracted_on": "2025-08-16"}
    )


def _correct(client: TestClient) -> Any:
    statement_id = _statement_id(client, "united-states", "crimea")
    return client.patch(f"/v1/statements/{statement_id}", json={"summary": "Corrected summary", "note": "typo"})


def _create_source(client: TestClient) -> Any:
    return client.post(
        "/v1/sources", json={"title": "Unrelated", "published_at": "2025-09-01", "text": "Nothing here."}
    )


def _create_issue(client: TestClient) -> Any:
    return client.post("/v1/issues", json={"slug": "arctic", "title": "Arctic", "proposition": "The Arctic is shared"})


WRITES: dict[str, Callable[[TestClient], Any]] = {
    "create-statement": _create_statement,
    "rename-party": _rename_party,
    "retract": _retract,
    "correct-statement": _correct,
    "create-source": _create_source,
    "create-issue": _create_issue,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_any_write_changes_the_matrix_etag(client, seeded, write):
    before = fetch(client, MATRIX)
    old = before.headers["etag"]
    assert_not_modified(fetch(client, MATRIX, old), old)

    response = write(client)
    assert response.status_code in (200, 201), response.text

    after = fetch(client, MATRIX, old)
    assert after.status_code == 200, "a stale ETag must not validate after a write"
    new = after.headers["etag"]
    assert new != old and STRONG_ETAG.match(new)
    assert after.json() == client.get(MATRIX).json()
    assert_not_modified(fetch(client, MATRIX, new), new)


def test_written_data_shows_in_the_next_matrix_response(client, seeded):
    old = fetch(client, MATRIX).json()
    assert _rename_party(client).status_code == 200
    assert _retract(client).status_code == 200
    assert _create_statement(client).status_code == 201
    new = fetch(client, MATRIX).json()
    assert next(p for p in new["parties"] if p["slug"] == "russia")["name"] == "Russian Federation"
    cells = {(c["party"], c["issue"]): c for c in new["cells"]}
    old_cells = {(c["party"], c["issue"]): c for c in old["cells"]}
    # Two lean_support statements after an oppose one.
    assert old_cells[("russia", "security-guarantees")]["evidence_count"] == 2
    # The latest of russia's three statements was retracted: the one recorded before it stands, alone in its stance.
    retracted = old_cells[("russia", "security-guarantees")]["statement"]
    assert cells[("russia", "security-guarantees")]["evidence_count"] == 1
    assert cells[("russia", "security-guarantees")]["statement"] not in (None, retracted)
    assert old_cells[("alaska-governor", "crimea")]["stance"] is None
    assert cells[("alaska-governor", "crimea")]["stance"] == "neutral"


def test_a_write_changes_the_diff_and_timeline_etags_too(client, seeded):
    old = {name: etag_of(client, url) for name, url in VIEWS.items()}
    assert _retract(client).status_code == 200
    for name, url in VIEWS.items():
        response = fetch(client, url, old[name])
        assert response.status_code == 200, name
        assert response.headers["etag"] != old[name], name
    entries = client.get(VIEWS["timeline"]).json()["entries"]
    assert [entry["change"] for entry in entries] == ["new", "reversed"]


def test_a_refused_write_leaves_the_etag_alone(client, seeded):
    old = etag_of(client, MATRIX)
    duplicate = client.post("/v1/parties", json={"slug": "russia", "name": "Again", "kind": "country"})
    assert duplicate.status_code == 409
    assert_not_modified(fetch(client, MATRIX, old), old)


@pytest.fixture
def second_client(settings, app, tokens) -> Iterator[TestClient]:
    """Another server process on the same database (its own engine and in-process cache)."""
    other = create_app(settings)
    with TestClient(other, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {tokens['write']}"
        yield test_client


def test_two_app_instances_agree_on_etags_and_both_see_a_write(client, second_client, seeded):
    assert client.app is not second_client.app
    for url in VIEWS.values():
        first, second = fetch(client, url), fetch(second_client, url)
        assert first.headers["etag"] == second.headers["etag"]
        assert first.content == second.content
        assert_not_modified(fetch(second_client, url, first.headers["etag"]), first.headers["etag"])

    old = etag_of(client, MATRIX)
    assert _rename_party(second_client).status_code == 200

    from_first = fetch(client, MATRIX, old)
    from_second = fetch(second_client, MATRIX, old)
    assert from_first.status_code == from_second.status_code == 200
    assert from_first.headers["etag"] == from_second.headers["etag"] != old
    assert from_first.content == from_second.content
    names = {party["slug"]: party["name"] for party in from_first.json()["parties"]}
    assert names["russia"] == "Russian Federation"

    # And the other way round: a write through the first is seen by the second.
    newer_old = from_second.headers["etag"]
    assert _retract(client).status_code == 200
    again = fetch(second_client, MATRIX, newer_old)
    assert again.status_code == 200 and again.headers["etag"] == etag_of(client, MATRIX) != newer_old


@pytest.mark.parametrize(
    "url",
    [
        "/v1/matrix?parties=atlantis",
        "/v1/diff?from=2025-08-18&to=2025-08-14",
    ],
)
def test_if_none_match_star_does_not_hide_an_invalid_request(client, seeded, url):
    assert_problem(fetch(client, url), 422)
    assert_problem(fetch(client, url, "*"), 422)


def test_a_view_built_across_midnight_is_not_served_for_the_new_day(client, seeded, monkeypatch):
    evening, morning = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)
    # The route defaults `as_of` to the evening's day; the clock has passed midnight once the view is built.
    monkeypatch.setattr(matrix_route, "utcnow", lambda: evening)
    cache_clock = iter([evening, evening])  # the cache's look-up, then the request's arrival at the route's cache
    monkeypatch.setattr(caching, "utcnow", lambda: next(cache_clock, morning))
    assert client.get("/v1/matrix").json()["as_of"] == "2026-03-01"

    monkeypatch.setattr(matrix_route, "utcnow", lambda: morning)
    assert client.get("/v1/matrix").json()["as_of"] == "2026-03-02"


def _raw(client: TestClient, url: str, headers: Any = None, **named: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent, not decoded (TestClient would undo the gzip)."""
    with client.stream("GET", url, headers=headers if headers is not None else named) as response:
        return response, b"".join(response.iter_raw())


@pytest.mark.parametrize("url", VIEWS.values(), ids=VIEWS.keys())
def test_a_view_is_gzipped_for_clients_that_accept_it_with_an_etag_of_its_own(client, seeded, url):
    plain, plain_body = _raw(client, url, **{"Accept-Encoding": "identity"})
    packed, packed_body = _raw(client, url, **{"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed_body) == plain_body and len(packed_body) < len(plain_body)
    for response in (plain, packed):
        assert "Accept-Encoding" in response.headers["vary"]
        assert STRONG_ETAG.match(response.headers["etag"])
    assert packed.headers["etag"] != plain.headers["etag"]
    # A strong ETag promises the same bytes every time: gzip's header carries no timestamp.
    assert _raw(client, url, **{"Accept-Encoding": "gzip"})[1] == packed_body
    # Either tag revalidates, whichever encoding the cache holds.
    for etag in (plain.headers["etag"], packed.headers["etag"]):
        assert fetch(client, url, etag, **{"Accept-Encoding": "gzip"}).status_code == 304
        assert fetch(client, url, etag, **{"Accept-Encoding": "identity"}).status_code == 304


@pytest.mark.parametrize(
    "accept_encoding, gzipped",
    [
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("br, *;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("deflate, br", False),
        (" , ,gzip", True),
        ("identity;q=0, gzip", True),
        ("gzip;q=0.000", False),
        ("gzip ; q = 0", False),
        ("gzip;Q=0", False),
        ("", False),
        ("gzip;q=not-a-number", False),
    ],
)
def test_gzip_follows_the_weights_of_accept_encoding(client, seeded, accept_encoding, gzipped):
    # The second request is answered from the cache, the first by the route.
    for _ in range(2):
        response, body = _raw(client, MATRIX, **{"Accept-Encoding": accept_encoding})
        assert response.status_code == 200
        assert (response.headers.get("content-encoding") == "gzip") is gzipped
        document = gzip.decompress(body) if gzipped else body
        assert json.loads(document)["as_of"] == "2025-08-18"


def test_accept_encoding_on_several_lines_is_one_list(client, seeded):
    response, body = _raw(client, MATRIX, headers=[("Accept-Encoding", "br"), ("Accept-Encoding", "gzip")])
    assert response.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["as_of"] == "2025-08-18"


def test_requests_racing_to_compress_a_view_count_its_gzip_form_once(monkeypatch):
    cache = caching.RenderedCache(max_bytes=1 << 20)
    view = caching.Rendered(b"[" + b"1," * 5000 + b"1]", "application/json", '"v"')
    cache.put("view", view)
    both_compressing = threading.Barrier(2, timeout=10)
    real_compress = caching.compress

    def compress_together(body: bytes) -> bytes:
        both_compressing.wait()  # neither has stored its result when the other starts
        return real_compress(body)

    monkeypatch.setattr(caching, "compress", compress_together)
    with ThreadPoolExecutor(2) as pool:
        forms = list(pool.map(lambda _: cache.gzip_of("view", view), range(2)))
    assert forms[0] == forms[1] == view.gzipped
    assert cache.held_bytes == len(view.body) + len(view.gzipped)


def test_the_gzip_form_of_a_replaced_view_is_not_counted():
    cache = caching.RenderedCache(max_bytes=1 << 20)
    older = caching.Rendered(b"a" * 4000, "application/json", '"1"')
    newer = caching.Rendered(b"b" * 3000, "application/json", '"2"')
    cache.put("view", older)
    cache.put("view", newer)
    assert cache.gzip_of("view", older) == gzip.compress(older.body, compresslevel=caching.GZIP_LEVEL, mtime=0)
    assert cache.held_bytes == len(newer.body)
    cache.gzip_of("view", newer)
    assert cache.held_bytes == len(newer.body) + len(newer.gzipped)


def test_a_small_view_is_sent_uncompressed(client, seeded):
    url = "/v1/matrix?as_of=2025-08-18&parties=russia&issues=crimea&format=csv"
    response, body = _raw(client, url, **{"Accept-Encoding": "gzip"})
    assert len(body) < caching.GZIP_MIN_BYTES
    assert response.status_code == 200 and "content-encoding" not in response.headers


@pytest.fixture
def route_answers(monkeypatch) -> list[str]:
    """The paths of the view requests the routes answered (the others came from the cache)."""
    answered: list[str] = []
    respond = caching.ViewRenderer.respond

    def counted(self, request, *args, **kwargs):
        answered.append(request.url.path)
        return respond(self, request, *args, **kwargs)

    monkeypatch.setattr(caching.ViewRenderer, "respond", counted)
    return answered


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
@pytest.mark.parametrize("url", [*VIEWS.values(), MATRIX + "&format=csv"], ids=[*VIEWS.keys(), "matrix-csv"])
def test_a_repeated_view_comes_from_the_cache_with_the_routes_headers(client, seeded, route_answers, url, encoding):
    first, first_body = _raw(client, url, **{"Accept-Encoding": encoding})
    again, again_body = _raw(client, url, **{"Accept-Encoding": encoding})
    assert len(route_answers) == 1, "the second request was answered from the cache"
    assert (again.status_code, again_body) == (first.status_code, first_body)
    assert sorted(again.headers.multi_items()) == sorted(first.headers.multi_items())
    assert int(again.headers["content-length"]) == len(again_body)
    if url.endswith("csv"):
        assert again.headers["content-type"] == "text/csv; charset=utf-8"
    held = fetch(client, url, again.headers["etag"], **{"Accept-Encoding": encoding})
    assert_not_modified(held, again.headers["etag"])
    assert "content-type" not in held.headers and "content-encoding" not in held.headers
    assert len(route_answers) == 1


def test_with_cors_on_a_repeated_view_from_a_browser_keeps_its_cors_headers(settings, seeded, route_answers):
    app = create_app(settings.model_copy(update={"cors_origins": "https://desk.example"}))
    with TestClient(app) as browser:
        for _ in range(2):
            response = browser.get(MATRIX, headers={"Origin": "https://desk.example"})
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == "https://desk.example"
            assert "etag" in response.headers["access-control-expose-headers"].lower()
        assert len(route_answers) == 1, "the second request from a browser came from the cache"
        # Without an Origin (a script, a server), no CORS headers.
        assert "access-control-allow-origin" not in browser.get(MATRIX).headers
        assert len(route_answers) == 1


def test_a_repeated_view_is_compressed_off_the_event_loop(client, seeded, route_answers, monkeypatch):
    compressed_on_the_loop: list[bool] = []
    real_compress = caching.compress

    def compress_noting_where(body: bytes) -> bytes:
        try:
            asyncio.get_running_loop()
            compressed_on_the_loop.append(True)
        except RuntimeError:
            compressed_on_the_loop.append(False)
        return real_compress(body)

    monkeypatch.setattr(caching, "compress", compress_noting_where)
    _, plain_body = _raw(client, MATRIX, **{"Accept-Encoding": "identity"})
    # The view is in the cache, without its gzip form: this request makes it, answered from the cache.
    packed, packed_body = _raw(client, MATRIX, **{"Accept-Encoding": "gzip"})
    assert len(route_answers) == 1
    assert packed.headers["content-encoding"] == "gzip" and gzip.decompress(packed_body) == plain_body
    assert compressed_on_the_loop == [False]


def test_a_fault_while_answering_from_the_cache_is_a_problem(client, seeded, monkeypatch):
    assert client.get(MATRIX).status_code == 200

    def fail(*_args: Any) -> str:
        raise RuntimeError("the cache broke")

    monkeypatch.setattr(caching.ViewRenderer, "last_served", fail)
    assert_problem(client.get(MATRIX), 500)


def test_if_none_match_on_several_lines_is_one_list(client, seeded, route_answers):
    etag = etag_of(client, MATRIX)
    lines = [("Accept", "application/json"), ("If-None-Match", '"another"'), ("If-None-Match", etag)]
    for _ in range(2):  # first through the route (a new Accept), then from the cache
        assert_not_modified(client.get(MATRIX, headers=lines), etag)
    assert len(route_answers) == 2
