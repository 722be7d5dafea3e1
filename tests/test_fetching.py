"""POST /v1/sources with only a `url`: the page is fetched, its main text extracted and stored.

Pages come from a local HTTP server in a thread. The app under test allows private addresses (the
server is on 127.0.0.1), except where a test restores the default to see them refused. Tests that
need a public internet get a pretend one: a resolver naming public addresses, and connections to
those addresses routed to the local server.
"""

import gzip
import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlmodel import Session

from app.config import Settings
from app.models.source import Source
from app.services import backup, fetching, schema
from tests.helpers import (
    ARTICLE,
    assert_problem,
    create_issue,
    create_party,
    create_source,
    table_counts,
)

MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3

ARTICLE_PARAGRAPHS = [
    "The minister said: “We will never give up the north.” Later, officials said the north was negotiable, "
    "according to three people familiar with the talks in the capital.",
    "The minister’s aide added that “talks continue”. Opposition leaders criticised the statement as vague and "
    "called for a vote in parliament before any agreement is signed.",
    "Negotiators are expected to meet again next week, when the future of the northern provinces will top the "
    "agenda of both delegations.",
]
BOILERPLATE = ["Subscribe today", "Weather in the capital", "All rights reserved", "Cookie settings"]
ARTICLE_PAGE = f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>Minister pledges never to give up the north | The Northland Times</title>
<meta property="og:title" content="Minister pledges never to give up the north">
<meta property="og:site_name" content="The Northland Times">
<meta property="article:published_time" content="2025-08-18T14:30:00+02:00">
</head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/subscribe">Subscribe today</a></nav>
<aside><a href="/weather">Weather in the capital</a></aside>
<article>
<h1>Minister pledges never to give up the north</h1>
{"".join(f"<p>{paragraph}</p>" for paragraph in ARTICLE_PARAGRAPHS)}
</article>
<footer><p>© 2025 The Northland Times. All rights reserved.</p><p><a href="/cookies">Cookie settings</a></p></footer>
</body>
</html>
""".encode()
# No title, no headline, no date anywhere: what the server must make up is marked so.
BARE_PAGE = (
    "<html><body><div><p>"
    + " ".join(ARTICLE_PARAGRAPHS)
    + "</p><p>The delegations did not say when a text might be ready.</p></div></body></html>"
).encode()
PLAIN_TEXT = "Café talks\r\n  The minister said: “We will never give up the north.”\n\n"


class PageServer:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.arrived = threading.Event()  # a request for /hold came in
        self.release = threading.Event()  # /hold may answer now
        handler = type("Handler", (_PageHandler,), {"pages": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _PageHandler(BaseHTTPRequestHandler):
    pages: PageServer

    def log_message(self, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes = b"", content_type: str | None = None, *, announce: bool = True, **headers: str
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if announce:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(OSError):  # the fetcher gave up first, on purpose
            self.wfile.write(body)

    def do_GET(self) -> None:
        self.pages.requests.append((self.path, {name.lower(): value for name, value in self.headers.items()}))
        path = self.path
        html = "text/html; charset=utf-8"
        if path in ("/article", "/article?v=2"):
            self._send(200, ARTICLE_PAGE, html)
        elif path == "/bare":
            self._send(200, BARE_PAGE, "text/html")
        elif path == "/plain-latin1":
            self._send(
                200, PLAIN_TEXT.replace("“", '"').replace("”", '"').encode("latin-1"), "text/plain; charset=ISO-8859-1"
            )
        elif path == "/plain-utf8":
            self._send(200, "\ufeff".encode() + PLAIN_TEXT.encode(), "text/plain")
        elif path.startswith("/hops/"):
            left = int(path.rsplit("/", 1)[1])
            target = f"/hops/{left - 1}" if left > 1 else f"{self.pages.base}/article"
            self._send(302, Location=target)
        elif path == "/loop":
            self._send(301, Location="/loop")
        elif path == "/no-location":
            self._send(302)
        elif path == "/to-metadata":
            self._send(302, Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/to-localhost":
            self._send(307, Location=f"http://localhost:{self.pages.port}/article")
        elif path == "/missing":
            self._send(404, b"<html><body><p>Not here</p></body></html>", html)
        elif path == "/broken":
            self._send(500, b"<html><body><p>Oops</p></body></html>", html)
        elif path == "/report.pdf":
            self._send(200, b"%PDF-1.7\n" + b"0" * 100, "application/pdf")
        elif path == "/photo.png":
            self._send(200, b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")
        elif path == "/untyped":
            self._send(200, b"some bytes")
        elif path == "/big":
            self._send(200, b"a" * (MAX_BYTES + 1), "text/plain")
        elif path == "/big-unannounced":
            # No Content-Length: the body ends when the connection closes, so it must be counted.
            self._send(200, b"a" * (MAX_BYTES * 4), "text/plain", announce=False)
        elif path == "/gzip-twice":
            packed = gzip.compress(gzip.compress(b"Layers of codings unpack a small body into a huge one. " * 50))
            self._send(200, packed, "text/plain", Content_Encoding="gzip, gzip")
        elif path == "/gzip-bomb":
            packed = gzip.compress(b" " * (MAX_BYTES * 16))
            self._send(200, packed, "text/plain", Content_Encoding="gzip")
        elif path == "/empty":
            self._send(200, b"<html><head><title>Nothing</title></head><body></body></html>", html)
        elif path == "/menus-only":  # what a cookie wall or a paywall leaves
            menus = b'<nav><a href="/">Home</a> <a href="/world">World</a></nav><footer>Subscribe</footer>'
            self._send(200, b"<html><head><title>Welcome</title></head><body>" + menus + b"</body></html>", html)
        elif path == "/blank.txt":
            self._send(200, b" \n\t\n", "text/plain")
        elif path == "/not-utf8.txt":
            self._send(200, b"caf\xe9 au lait", "text/plain")
        elif path == "/nul.txt":
            self._send(200, b"a\x00b", "text/plain; charset=utf-8")
        elif path == "/slow":
            self.pages.release.wait(timeout=10)
            self._send(200, ARTICLE_PAGE, html)
        elif path == "/tables":  # markup on which extraction takes minutes
            cell = b"<table><tr><td>Talks went on in the capital today.</td></tr></table>"
            self._send(200, b"<html><body>" + cell * 14_000 + b"</body></html>", html)  # about 1 MB
        elif path == "/trickle":  # headers a byte at a time: each read succeeds, the whole never ends
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: " + b"a" * 200:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if self.pages.release.wait(timeout=0.2):
                        break
            except OSError:  # the fetcher hung up, as it should
                pass
            self.close_connection = True
        elif path == "/hold":
            self.pages.arrived.set()
            self.pages.release.wait(timeout=10)
            self._send(200, ARTICLE_PAGE, html)
        else:
            self._send(404)


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture(autouse=True)
def fresh_pages(pages: PageServer) -> Iterator[PageServer]:
    pages.requests.clear()
    pages.arrived.clear()
    pages.release.clear()
    yield pages
    pages.release.set()  # nothing stays blocked after a test


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Short limits keep the failure tests fast; a short busy timeout makes a held write lock fail loudly.
    return Settings(
        database_url=database_url,
        fetch_allow_private=True,
        fetch_timeout_s=1.0,
        fetch_max_bytes=MAX_BYTES,
        fetch_max_redirects=MAX_REDIRECTS,
        sqlite_busy_timeout_ms=1000,
    )


@pytest.fixture
def private_refused(app) -> None:
    """The default: only public addresses are fetched."""
    app.state.settings.fetch_allow_private = False


class Internet:
    """A pretend public internet: a DNS and the routes from its public addresses to the page server."""

    def __init__(self, pages: PageServer) -> None:
        self.pages = pages
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []
        self.connections: list[str] = []
        self._connect = socket.create_connection

    def getaddrinfo(self, host: bytes | str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        self.lookups.append(name)
        with suppress(ValueError):
            self.names.setdefault(name, [str(ip_address(name))])  # an address stands for itself
        if name not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = self.names[name]
        if len(answers) > 1 and name.startswith("rebinding."):
            self.names[name] = answers[1:]  # the next lookup gets the next answer
            answers = answers[:1]
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers
        ]

    def create_connection(self, address: tuple[Any, ...], *args: Any, **kwargs: Any) -> socket.socket:
        host = address[0]
        self.connections.append(host)
        if fetching.address_class(ip_address(host)) is None:  # a public address: routed to the page server
            address = ("127.0.0.1", self.pages.port)
        return self._connect(address, *args, **kwargs)


@pytest.fixture
def internet(monkeypatch: pytest.MonkeyPatch, pages: PageServer) -> Internet:
    world = Internet(pages)
    monkeypatch.setattr(fetching, "getaddrinfo", world.getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", world.create_connection)
    return world


def fetch(client, url: str, **fields: Any):  # type: ignore[no-untyped-def]
    return client.post("/v1/sources", json={"url": url, **fields})


def stored_sources(client) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return client.get("/v1/sources", params={"limit": 200}).json()["items"]


# --- the address classifier -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.16.5.4", "private"), ("192.168.0.1", "private"), ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fec0::1", "site-local"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"), ("100.64.0.1", "non-public"), ("192.0.2.10", "private"),
        # IPv6 addresses that carry an IPv4 one are judged by it.
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"), ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local"),
        ("93.184.216.34", None), ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)  # fmt: skip
def test_address_class_names_why_an_address_is_not_public(address, expected):
    assert fetching.address_class(ip_address(address)) == expected


# --- fetched and stored -----------------------------------------------------------------------


def test_an_article_page_is_stored_with_its_main_text_and_metadata(client, pages):
    before = datetime.now(UTC)
    response = fetch(client, f"{pages.base}/article")
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    source = response.json()
    assert response.headers["Location"] == f"/v1/sources/{source['id']}"

    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in source["text"]
    for boilerplate in BOILERPLATE:
        assert boilerplate not in source["text"]
    assert source["title"] == "Minister pledges never to give up the north"
    assert source["title_is_editorial"] is False
    assert source["publisher"] == "The Northland Times"
    assert source["published_at"] == "2025-08-18T12:30:00Z"  # 14:30 at +02:00
    assert source["language"] == "en-GB"
    assert source["url"] == f"{pages.base}/article"
    assert before <= datetime.fromisoformat(source["retrieved_at"]) <= after
    assert source["sha256"] == hashlib.sha256(source["text"].encode()).hexdigest()
    assert source["text_length"] == len(source["text"])

    # Stored as extracted: the text endpoint serves those exact characters.
    assert client.get(f"/v1/sources/{source['id']}/text").text == source["text"]
    assert client.get(f"/v1/sources/{source['id']}").json() == source
    ((path, headers),) = pages.requests
    assert path == "/article" and headers["user-agent"].startswith("Stancemap/")


def test_quotes_from_a_fetched_page_can_be_stated(client, pages):
    source = fetch(client, f"{pages.base}/article").json()
    create_party(client)
    create_issue(client)
    quote = "officials said the north was negotiable"
    response = client.post(
        "/v1/statements",
        json={
            "party": "northland",
            "issue": "cede-north",
            "source": source["id"],
            "quote": quote,
            "stance": "lean_support",
        },
    )
    assert response.status_code == 201, response.text
    selector = response.json()["selector"]
    assert source["text"][selector["start"] : selector["end"]] == quote
    # Not given: the statement is dated by the page's publication.
    assert response.json()["stated_on"] == "2025-08-18"


def test_the_clients_fields_win_over_the_pages(client, pages):
    response = fetch(
        client, f"{pages.base}/article",
        title="Northland minister on the north", published_at="2025-08-19", publisher=None, language="en",
        kind="statement",
    )  # fmt: skip
    assert response.status_code == 201, response.text
    source = response.json()
    assert source["title"] == "Northland minister on the north" and source["title_is_editorial"] is False
    assert source["published_at"] == "2025-08-19T00:00:00Z"
    assert source["publisher"] is None and source["language"] == "en" and source["kind"] == "statement"
    assert ARTICLE_PARAGRAPHS[0] in source["text"]


def test_a_page_without_metadata_gets_an_editorial_title_and_its_retrieval_time(client, pages):
    response = fetch(client, f"{pages.base}/bare")
    assert response.status_code == 201, response.text
    source = response.json()
    assert source["title"] == "127.0.0.1/bare" and source["title_is_editorial"] is True
    assert source["published_at"] == source["retrieved_at"]
    assert source["language"] == "en"
    assert ARTICLE_PARAGRAPHS[1] in source["text"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/plain-latin1", PLAIN_TEXT.replace("“", '"').replace("”", '"')),  # the declared charset
        ("/plain-utf8", PLAIN_TEXT),  # UTF-8 by default; the byte order mark is not text
    ],
)
def test_a_text_plain_page_is_stored_as_served(client, pages, path, expected):
    response = fetch(client, f"{pages.base}{path}")
    assert response.status_code == 201, response.text
    source = response.json()
    assert source["text"] == expected
    assert source["title"] == f"127.0.0.1{path}" and source["title_is_editorial"] is True


def test_redirects_are_followed_and_the_final_address_is_stored(client, pages):
    response = fetch(client, f"{pages.base}/hops/{MAX_REDIRECTS}")
    assert response.status_code == 201, response.text
    assert response.json()["url"] == f"{pages.base}/article"
    assert pages.paths() == ["/hops/3", "/hops/2", "/hops/1", "/article"]


def test_text_given_with_a_url_is_stored_without_any_fetch(client, pages):
    source = create_source(client, url=f"{pages.base}/article", retrieved_at="2025-08-18T10:00:00Z")
    assert source["text"] == ARTICLE
    assert source["url"] == f"{pages.base}/article"
    assert source["retrieved_at"] == "2025-08-18T10:00:00Z"
    assert create_source(client)["retrieved_at"] is None
    assert pages.requests == []


def test_a_fetched_page_can_supersede_a_source_and_its_quotes_are_re_anchored(client, pages):
    create_party(client)
    create_issue(client)
    old = create_source(client, text=ARTICLE_PARAGRAPHS[0])
    statement = client.post(
        "/v1/statements",
        json={
            "party": "northland", "issue": "cede-north", "source": old["id"],
            "quote": "We will never give up the north.", "stance": "oppose",
        },
    ).json()  # fmt: skip
    response = fetch(client, f"{pages.base}/article", supersedes=old["id"])
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["supersedes"] == old["id"]
    (outcome,) = new["anchoring"]["outcomes"]
    assert outcome["statement"] == statement["id"] and outcome["outcome"] == "anchored"
    moved = client.get(f"/v1/statements/{statement['id']}").json()
    assert moved["source"] == new["id"]
    assert new["text"][moved["selector"]["start"] : moved["selector"]["end"]] == "We will never give up the north."


# --- refused: addresses that are not public ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address_class"),
    [
        ("http://127.0.0.1:{port}/article", "loopback"),
        ("http://localhost:{port}/article", "loopback"),
        ("http://[::1]:{port}/article", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/article", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0:{port}/article", "unspecified"),
    ],
)
def test_non_public_addresses_are_refused_by_default(client, pages, private_refused, url, address_class):
    before = table_counts(client)
    response = fetch(client, url.format(port=pages.port))
    body = assert_problem(response, 422, "fetch-refused")
    assert body["address_class"] == address_class
    assert f" {address_class} address" in body["detail"] and "STANCEMAP_FETCH_ALLOW_PRIVATE=true" in body["detail"]
    assert table_counts(client) == before
    assert pages.requests == []


def test_a_public_name_that_resolves_to_a_private_address_is_refused(client, pages, private_refused, internet):
    internet.names["intranet.news.example"] = ["10.20.30.40"]
    # One non-public address among public ones is enough to refuse.
    internet.names["mixed.news.example"] = ["93.184.216.34", "127.0.0.1"]
    before = table_counts(client)
    for host, kind in (("intranet.news.example", "private"), ("mixed.news.example", "loopback")):
        body = assert_problem(fetch(client, f"http://{host}/article"), 422, "fetch-refused")
        assert body["address_class"] == kind and "resolves to" in body["detail"]
    assert table_counts(client) == before
    assert internet.connections == [] and pages.requests == []


@pytest.mark.parametrize(("path", "kind"), [("/to-metadata", "link-local"), ("/to-localhost", "loopback")])
def test_a_redirect_to_a_private_address_is_refused(client, pages, private_refused, internet, path, kind):
    internet.names["news.example"] = ["93.184.216.34"]
    internet.names["localhost"] = ["127.0.0.1"]
    before = table_counts(client)
    body = assert_problem(fetch(client, f"http://news.example{path}"), 422, "fetch-refused")
    assert body["address_class"] == kind
    assert table_counts(client) == before
    assert pages.paths() == [path]  # the public page was read; the private one never asked


def test_the_connection_goes_to_the_address_that_was_checked(client, pages, private_refused, internet):
    # A rebinding DNS: public at the check, loopback at any later lookup.
    internet.names["rebinding.news.example"] = ["93.184.216.34", "127.0.0.1"]
    response = fetch(client, "http://rebinding.news.example/article")
    assert response.status_code == 201, response.text
    assert internet.lookups == ["rebinding.news.example"]
    assert internet.connections == ["93.184.216.34"]
    ((_path, headers),) = pages.requests
    assert headers["host"] == "rebinding.news.example"
    assert response.json()["url"] == "http://rebinding.news.example/article"


def test_a_url_with_credentials_is_refused(client, pages):
    before = table_counts(client)
    body = assert_problem(fetch(client, f"http://editor:secret@127.0.0.1:{pages.port}/article"), 422, "fetch-refused")
    assert "password" in body["detail"]
    assert table_counts(client) == before and pages.requests == []


# --- failed: the page yields no text ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason", "members"),
    [
        ("/missing", "http-status", {"upstream_status": 404}),
        ("/broken", "http-status", {"upstream_status": 500}),
        ("/report.pdf", "content-type", {"content_type": "application/pdf"}),
        ("/photo.png", "content-type", {"content_type": "image/png"}),
        ("/untyped", "content-type", {"content_type": None}),
        (f"/hops/{MAX_REDIRECTS + 1}", "redirects", {}),
        ("/loop", "redirects", {}),
        ("/no-location", "redirects", {}),
        ("/big", "too-large", {}),
        ("/big-unannounced", "too-large", {}),
        ("/gzip-bomb", "too-large", {}),
        ("/gzip-twice", "content-type", {}),
        ("/empty", "no-text", {}),
        ("/menus-only", "no-text", {}),
        ("/blank.txt", "no-text", {}),
        ("/not-utf8.txt", "no-text", {}),
        ("/nul.txt", "no-text", {}),
        ("/slow", "timeout", {}),
        ("/trickle", "timeout", {}),
    ],
)
def test_a_page_that_yields_no_text_is_a_502_problem_and_stores_nothing(client, pages, path, reason, members):
    before = table_counts(client)
    started = time.monotonic()
    body = assert_problem(fetch(client, f"{pages.base}{path}"), 502, "fetch-failed")
    assert time.monotonic() - started < 5
    assert body["reason"] == reason
    assert {name: body.get(name) for name in members} == members
    assert body["url"].startswith(pages.base)
    assert "`text`" in body["detail"]  # says what to do instead
    # Only what may pass is worth retrying.
    assert ("retry later" in body["detail"]) == (reason in {"http-status", "timeout"})
    assert table_counts(client) == before


def test_an_unresolvable_host_and_a_refused_connection_are_502_problems(client, internet):
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    before = table_counts(client)
    body = assert_problem(fetch(client, "http://no-such-host.news.example/article"), 502, "fetch-failed")
    assert body["reason"] == "dns" and "no-such-host.news.example" in body["detail"]
    internet.names["down.news.example"] = ["127.0.0.1"]
    body = assert_problem(fetch(client, f"http://down.news.example:{closed_port}/"), 502, "fetch-failed")
    assert body["reason"] == "connection"
    assert table_counts(client) == before


def test_an_extraction_that_outlasts_the_deadline_is_stopped(app, client, pages):
    app.state.settings.fetch_max_bytes = 2 * 1024 * 1024  # room for the page: the deadline must stop it
    before = table_counts(client)
    started = time.monotonic()
    body = assert_problem(fetch(client, f"{pages.base}/tables"), 502, "fetch-failed")
    assert time.monotonic() - started < 5  # extraction alone would take well over ten seconds
    assert body["reason"] == "timeout" and "Extracting" in body["detail"]
    assert table_counts(client) == before


# --- the request body ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"published_at": "2025-08-18", "text": ARTICLE}, "body.title"),
        ({"title": "Minister on the north", "text": ARTICLE, "url": "https://news.example/a"}, "body.published_at"),
        ({"title": "Minister on the north", "published_at": "2025-08-18"}, "body.text"),
        ({"url": "https://news.example/a", "retrieved_at": "2025-08-18"}, "body.retrieved_at"),
    ],
)
def test_text_or_url_rules_are_422_problems_naming_the_field(client, pages, body, field):
    before = table_counts(client)
    errors = assert_problem(client.post("/v1/sources", json=body), 422, "validation-error")["errors"]
    assert [error["field"] for error in errors] == [field]
    assert table_counts(client) == before and pages.requests == []


# --- no lock held while fetching ----------------------------------------------------------------


def test_other_writes_go_on_while_a_page_is_fetched(app, client, pages):
    app.state.settings.fetch_timeout_s = 10
    result: dict[str, Any] = {}
    fetching_thread = threading.Thread(target=lambda: result.update(response=fetch(client, f"{pages.base}/hold")))
    fetching_thread.start()
    try:
        assert pages.arrived.wait(timeout=10)
        # The page answers only after this write: on SQLite, a write lock held by the fetching request
        # would make it fail after the busy timeout.
        party = client.post("/v1/parties", json={"slug": "northland", "name": "Northland", "kind": "country"})
        assert party.status_code == 201, party.text
    finally:
        pages.release.set()
        fetching_thread.join(timeout=20)
    assert result["response"].status_code == 201, result["response"].text


# --- kept by backups --------------------------------------------------------------------------


def test_the_retrieval_time_survives_export_and_import(app, client, pages, make_database):
    fetched = fetch(client, f"{pages.base}/article").json()
    dump = io.BytesIO()
    backup.export_dump(app.state.engine, dump)
    target_url = make_database(app.state.engine.dialect.name)
    schema.upgrade(target_url)
    target = create_engine(target_url)
    try:
        backup.import_dump(target, io.BytesIO(dump.getvalue()))
        with Session(target) as session:
            restored = session.exec(select(Source).where(Source.id == fetched["id"])).scalars().one()
            assert restored.retrieved_at == datetime.fromisoformat(fetched["retrieved_at"])
            assert restored.text == fetched["text"]
    finally:
        target.dispose()


def test_a_resolver_that_does_not_answer_is_cut_at_the_deadline(client, internet, monkeypatch):
    answer = internet.getaddrinfo

    def slow_for_one_name(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if (host.decode() if isinstance(host, bytes) else host) == "slow-dns.news.example":
            time.sleep(4)
        return answer(host, *args, **kwargs)

    monkeypatch.setattr(fetching, "getaddrinfo", slow_for_one_name)
    internet.names["slow-dns.news.example"] = ["93.184.216.34"]
    before = table_counts(client)
    started = time.monotonic()
    body = assert_problem(fetch(client, "http://slow-dns.news.example/article"), 502, "fetch-failed")
    assert time.monotonic() - started < 3
    assert body["reason"] == "dns" and "in time" in body["detail"]
    assert table_counts(client) == before
