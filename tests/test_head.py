"""HEAD on GET resources: GET's status and header fields, no content, nothing changed; in-process
on both engines, and over TCP through uvicorn, whose connection must stay usable afterwards."""

import socket
from pathlib import Path

import pytest

from tests.conftest import ENGINES
from tests.helpers import assert_problem
from tests.servers import running_server, server_env

# Header fields a client reads from a HEAD to decide whether to fetch; `date` may tick between two.
COMPARED = ("content-type", "content-length", "etag", "cache-control", "vary", "link", "content-encoding")
IDENTITY = {"Accept-Encoding": "identity"}

RESOURCES = {
    "matrix": "/v1/matrix?as_of=2025-08-18",
    "matrix-csv": "/v1/matrix?as_of=2025-08-18&format=csv",
    "diff": "/v1/diff?from=2025-08-14&to=2025-08-18",
    "timeline": "/v1/parties/russia/issues/security-guarantees/timeline",
    "parties": "/v1/parties",
    "source-text": "/v1/sources/1/text",
    "healthz": "/healthz",
}


def compared(headers) -> dict[str, str | None]:
    return {name: headers.get(name) for name in COMPARED}


@pytest.mark.parametrize("url", RESOURCES.values(), ids=RESOURCES.keys())
def test_head_gives_the_status_and_headers_of_get_without_content(client, seeded, url):
    # HEAD first, so that for the views it is the route that answers, then again from the cache.
    # Identity: the test client asks for gzip by default, and decodes it.
    first = client.head(url, headers=IDENTITY)
    get = client.get(url, headers=IDENTITY)
    again = client.head(url, headers=IDENTITY)
    assert get.status_code == 200, get.text
    assert get.content
    for head in (first, again):
        assert head.status_code == 200
        assert head.content == b""
        assert compared(head.headers) == compared(get.headers)
    assert int(first.headers["content-length"]) == len(get.content)


def test_head_of_a_gzipped_view_gives_the_gzip_forms_length_and_etag(client, seeded):
    url = RESOURCES["diff"]
    get = client.get(url, headers={"Accept-Encoding": "gzip"})
    head = client.head(url, headers={"Accept-Encoding": "gzip"})
    assert get.headers["content-encoding"] == "gzip"
    assert head.status_code == 200 and head.content == b""
    assert compared(head.headers) == compared(get.headers)


def test_head_with_a_matching_if_none_match_gives_304(client, seeded):
    url = RESOURCES["matrix"]
    etag = client.get(url).headers["etag"]
    response = client.head(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.content == b""


@pytest.mark.parametrize(
    ("url", "status"),
    [("/v1/parties/nobody/issues/crimea/timeline", 404), ("/v1/matrix?as_of=yesterday", 422)],
    ids=["unknown-party", "malformed-date"],
)
def test_head_of_a_refused_request_gives_the_status_of_get_without_the_problem(client, seeded, url, status):
    get = client.get(url)
    head = client.head(url)
    assert_problem(get, status)
    assert head.status_code == status
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_head_on_a_path_without_get_gives_405_and_changes_nothing(client, seeded):
    statement = client.get("/v1/statements", params={"limit": 1}).json()["items"][0]
    response = client.head(f"/v1/statements/{statement['id']}/retract")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.content == b""
    assert client.get(f"/v1/statements/{statement['id']}").json() == statement


def _exchange(sock: socket.socket, request: bytes) -> tuple[bytes, bytes]:
    """Sends one request; returns the response head and the first bytes read after it, if any."""
    sock.sendall(request)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(head)


@pytest.mark.skipif("sqlite" not in ENGINES, reason="the served test runs on the embedded SQLite engine")
def test_served_head_sends_no_content_and_keeps_the_connection_usable(tmp_path: Path):
    env = server_env(f"sqlite:///{tmp_path / 'head.db'}")
    with (
        running_server(env, tmp_path, "head", workers=1) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        for attempt in ("route", "cache"):
            head, rest = _exchange(sock, b"HEAD /v1/matrix HTTP/1.1\r\nHost: stancemap\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), (attempt, head)
            assert _content_length(head) > 1000, head
            assert rest == b"", attempt  # no content follows the header section
        # The next response on the same connection starts where the HEAD's header section ended.
        head, rest = _exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: stancemap\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = _content_length(head)
        while len(rest) < length:
            rest += sock.recv(65536)
        assert rest.startswith(b"{") and len(rest) == length
        assert "Traceback" not in server.log()


def test_a_405_on_a_get_resource_lists_head_among_the_allowed_methods(client, seeded):
    response = client.post("/v1/matrix")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD"
