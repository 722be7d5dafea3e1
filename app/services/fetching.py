"""Fetching a source document from its URL, and extracting the article's main text.

The server fetches on a client's behalf, so it must not become a way into the network it runs in
(server-side request forgery): every hop of a redirect chain is resolved once, refused when any of
its addresses is not public, and then connected to at exactly the address that was checked, so a
second DNS answer (rebinding) cannot send the request elsewhere. TLS still verifies the hostname.

Main text and metadata come from trafilatura; text/plain is stored as it was served.
"""

import logging
import multiprocessing
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError

from app.config import Settings
from app.errors import FetchFailed, FetchRefused
from app.models.common import Language, SourceText, utcnow
from app.models.source import PublishedAt, SourceCreate, Url

logger = logging.getLogger("stancemap")

# The resolver asked for every hop; tests replace it to play the DNS of a public internet.
getaddrinfo = socket.getaddrinfo
# Lookups that outlive their fetch's deadline finish here, without holding up the request.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stancemap-resolver")

IPAddress = IPv4Address | IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
READABLE_TYPES = ("text/html", "text/plain")
_DECODED_CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
# Failures that may well not happen again; the others are the page's own doing.
_TRANSIENT_REASONS = frozenset({"dns", "connection", "timeout", "http-status"})
# Less than this, or no sentence at all, is what is left of a page of menus, a cookie wall or a paywall.
_MIN_ARTICLE_WORDS = 8
_SENTENCE_END = re.compile(r"[.!?…]")
ALLOW_PRIVATE_VARIABLE = "STANCEMAP_FETCH_ALLOW_PRIVATE=true"
# Addresses whose last 32 bits are an IPv4 address the packets end up at (RFC 6052 NAT64).
_NAT64 = ip_network("64:ff9b::/96")

# Limits of the stored fields, so page metadata never fails validation after a costly fetch.
TITLE_MAX_CHARS = 500
PUBLISHER_MAX_CHARS = 200
_TEXT = TypeAdapter(SourceText)
_LANGUAGE = TypeAdapter(Language)
_PUBLISHED_AT = TypeAdapter(PublishedAt)
_URL = TypeAdapter(Url)
# trafilatura's own date settings (the original publication, found also in the text and the URL),
# with the time of day and offset kept when the page states them.
_DATES = {"original_date": True, "extensive_search": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def address_class(address: IPAddress) -> str | None:
    """Why the server will not connect to an address ("loopback", "private", ...), or None when it
    is public. An IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64) is judged by that one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_class(embedded)
    for name, flagged in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        # Deprecated (RFC 3879) but still routed inside some networks, and not private to ipaddress.
        ("site-local", isinstance(address, IPv6Address) and address.is_site_local),
    ):
        if flagged:
            return name
    # What is left and still not global: carrier-grade NAT (100.64.0.0/10) and the like.
    return None if address.is_global else "non-public"


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class FetchedPage:
    url: str  # where the text was read from, after redirects
    retrieved_at: datetime
    text: str
    title: str | None = None
    publisher: str | None = None
    published_at: datetime | None = None
    language: str | None = None


def fetch_page(url: str, *, settings: Settings) -> FetchedPage:
    """GETs the page, following redirects, and extracts its text and metadata. Raises FetchRefused
    for a URL the server will not fetch, FetchFailed when the page yields no text."""
    return _Fetch(settings).run(url)


class _Fetch:
    """One fetch: its deadline and the URL of the hop being fetched, which errors name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.deadline = time.monotonic() + settings.fetch_timeout_s
        self.url = httpx.URL("")
        self.expired = False

    def run(self, url: str) -> FetchedPage:
        try:
            self.url = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise FetchRefused(f"The URL cannot be fetched: {error}.", url=url) from None
        if self.url.userinfo:
            raise FetchRefused("URLs with a user name or password are not fetched; remove them from `url`.", url=url)
        client = httpx.Client(
            headers={"User-Agent": self.settings.fetch_user_agent, "Accept": "text/html, text/plain;q=0.9"},
            follow_redirects=False,  # followed below, checking every hop's address
            trust_env=False,  # a proxy from the environment would connect to addresses never checked
            # No connection is reused: each is made to the address just checked, for the host just named.
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        # Per-read timeouts restart with every byte, so a page trickling in (its headers included) could
        # outlast any of them: at the deadline the watchdog closes the client under the fetch.
        watchdog = threading.Timer(self.settings.fetch_timeout_s, self._expire, args=(client,))
        watchdog.daemon = True
        watchdog.start()
        try:
            with client:
                return self._follow(client)
        except (FetchFailed, FetchRefused):
            raise
        except Exception as error:
            if self.expired or isinstance(error, httpx.TimeoutException):
                raise self._failed(
                    f"{self.url} did not answer within {self.settings.fetch_timeout_s:g} seconds.", "timeout"
                ) from None
            if not isinstance(error, httpx.HTTPError):
                raise
            raise self._failed(f"Fetching {self.url} failed: {error or type(error).__name__}.", "connection") from None
        finally:
            watchdog.cancel()

    def _expire(self, client: httpx.Client) -> None:
        self.expired = True
        client.close()

    def _failed(self, detail: str, reason: str, **extensions: Any) -> FetchFailed:
        advice = "retry later, or send" if reason in _TRANSIENT_REASONS else "send"
        return FetchFailed(
            f"{detail} Nothing was stored; {advice} the document's text in `text`.",
            reason=reason, url=str(self.url), **extensions,
        )  # fmt: skip

    def _follow(self, client: httpx.Client) -> FetchedPage:
        for _ in range(self.settings.fetch_max_redirects + 1):
            with self._open(client) as response:
                if response.status_code in REDIRECT_STATUSES:
                    self.url = self._redirect_target(response)
                    continue
                if not response.is_success:
                    raise self._failed(
                        f"{self.url} answered {response.status_code} {response.reason_phrase}.",
                        "http-status", upstream_status=response.status_code,
                    )  # fmt: skip
                media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                if media_type not in READABLE_TYPES:
                    raise self._failed(
                        f"{self.url} is {media_type or 'of no declared type'}; only text/html and text/plain "
                        "pages are read.",
                        "content-type", content_type=media_type or None,
                    )  # fmt: skip
                self._check_encoding(response)
                body = self._read(response)
                retrieved_at = utcnow()
                charset = response.charset_encoding
            return self._page(body, media_type, charset, retrieved_at)
        raise self._failed(
            f"More than {self.settings.fetch_max_redirects} redirects, the last to {self.url}.", "redirects"
        )

    @contextmanager
    def _open(self, client: httpx.Client) -> Iterator[httpx.Response]:
        """The response of the current hop, from a connection to an address checked for it."""
        url = self.url
        host = url.raw_host.decode("ascii")
        addresses = self._resolve(host, url.port or (443 if url.scheme == "https" else 80))
        last_error: httpx.ConnectError | None = None
        for address in addresses:
            request = client.build_request(
                "GET",
                url.copy_with(host=str(address)),
                headers={"Host": url.netloc.decode("ascii")},
                # TLS names the host and verifies its certificate, though the connection is to the address.
                extensions={"sni_hostname": host},
                timeout=self._remaining(),
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as error:  # try the host's next address, as browsers do
                last_error = error
                continue
            try:
                yield response
            finally:
                response.close()
            return
        raise self._failed(f"No connection to {url.host} could be made: {last_error}.", "connection")

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            # Bytes, not str: the host is already IDNA-encoded, and the idna codec would refuse odd labels.
            # In a thread of its own: the system resolver has no timeout, the fetch has a deadline.
            lookup = _RESOLVER.submit(getaddrinfo, host.encode("ascii"), port, type=socket.SOCK_STREAM)
            found = lookup.result(timeout=self._remaining())
        except FutureTimeout:
            raise self._failed(f"The host {self.url.host} was not resolved in time.", "dns") from None
        except (OSError, UnicodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise self._failed(f"The host {self.url.host} could not be resolved ({reason}).", "dns") from None
        # The zone of a link-local IPv6 address (fe80::1%eth0) is not part of the address.
        addresses = list(dict.fromkeys(ip_address(str(info[4][0]).partition("%")[0]) for info in found))
        if not addresses:
            raise self._failed(f"The host {self.url.host} has no address.", "dns")
        if not self.settings.fetch_allow_private:
            for address in addresses:
                if (kind := address_class(address)) is not None:
                    where = "is" if host == str(address) else "resolves to"
                    raise FetchRefused(
                        f"{self.url} {where} {'an' if kind[0] in 'aeiou' else 'a'} {kind} address; this server fetches only public addresses "
                        f"(it allows others when run with {ALLOW_PRIVATE_VARIABLE}). Nothing was stored; send "
                        "the document's text in `text` instead.",
                        url=str(self.url), address_class=kind,
                    )  # fmt: skip
        return addresses

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.TimeoutException("fetch deadline passed")
        return remaining

    def _redirect_target(self, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("location", "").strip()
        try:
            target = self.url.join(location) if location else None
        except httpx.InvalidURL:
            target = None
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise self._failed(
                f"{self.url} answered {response.status_code} without a usable http(s) Location ({location!r}).",
                "redirects",
            )
        if target.userinfo:
            raise self._failed(f"{self.url} redirects to a URL with a user name or password.", "redirects")
        return target.copy_with(fragment=None)

    def _check_encoding(self, response: httpx.Response) -> None:
        """One content coding at most: each is decoded a whole network chunk at a time, before the size
        limit can count the result, so layers of them multiply a small body into gigabytes."""
        codings = [
            part.strip().lower() for part in response.headers.get("content-encoding", "").split(",") if part.strip()
        ]
        codings = [coding for coding in codings if coding != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in _DECODED_CODINGS):
            raise self._failed(
                f"{self.url} is sent with the content coding {', '.join(codings)!r}; only one of "
                f"{', '.join(sorted(_DECODED_CODINGS))} is read.",
                "content-type",
            )

    def _read(self, response: httpx.Response) -> bytes:
        limit = self.settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._failed(f"{self.url} is {int(declared):,} bytes; the limit is {limit:,}.", "too-large")
        chunks, size = [], 0
        # Decoded bytes are counted, so a small compressed body cannot unpack into a huge one.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._failed(f"{self.url} is larger than the limit of {limit:,} bytes.", "too-large")
            self._remaining()  # a page trickling in must not outlast the deadline
            chunks.append(chunk)
        return b"".join(chunks)

    def _page(self, body: bytes, media_type: str, charset: str | None, retrieved_at: datetime) -> FetchedPage:
        if media_type == "text/plain":
            try:
                text = body.decode(charset or "utf-8")
            except (LookupError, UnicodeDecodeError):
                raise self._failed(f"{self.url} is not valid {charset or 'UTF-8'} text.", "no-text") from None
            # A byte order mark says how the text is encoded; it is not part of the text.
            page = FetchedPage(url=str(self.url), retrieved_at=retrieved_at, text=text.removeprefix("\ufeff"))
        else:
            page = self._html_page(body, charset, retrieved_at)
        self._check_text(page.text)
        return page

    def _html_page(self, body: bytes, charset: str | None, retrieved_at: datetime) -> FetchedPage:
        markup: bytes | str = body
        if charset:
            # The declared charset wins, as in browsers; an unknown one is left to trafilatura's guess.
            with suppress(LookupError):
                markup = body.decode(charset, errors="replace")
        # Extraction time grows faster than the page on some markup (minutes for a few MB of nested
        # tables): it runs in a process of its own that is killed at the fetch's deadline.
        outcome = _run_extraction(markup, str(self.url), deadline=self.deadline)
        if outcome == "timeout":
            raise self._failed(
                f"Extracting the text of {self.url} took longer than {self.settings.fetch_timeout_s:g} seconds.",
                "timeout",
            )
        if outcome == "error":
            raise self._failed(f"The page at {self.url} could not be parsed.", "no-text")
        document = outcome if isinstance(outcome, dict) else {}  # None: trafilatura found no document
        text = document.get("text")
        if not text or len(text.split()) < _MIN_ARTICLE_WORDS or not _SENTENCE_END.search(text):
            shown = " ".join((text or "").split())[:80]
            raise self._failed(
                f"No article text could be extracted from {self.url}" + (f" (only {shown!r})." if shown else "."),
                "no-text",
            )
        return FetchedPage(
            url=str(self.url),
            retrieved_at=retrieved_at,
            text=text,
            title=_single_line(document.get("title"), TITLE_MAX_CHARS),
            publisher=_single_line(document.get("sitename") or document.get("author"), PUBLISHER_MAX_CHARS),
            published_at=_valid(_PUBLISHED_AT, document.get("date")),
            language=_valid(_LANGUAGE, (document.get("lang") or "").strip().replace("_", "-") or None),
        )

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise self._failed(f"{self.url} has no text.", "no-text")
        try:
            _TEXT.validate_python(text)
        except ValidationError as error:
            if error.errors()[0]["type"] == "string_too_long":
                raise self._failed(
                    f"The text of {self.url} has {len(text):,} characters, more than a source holds.", "too-large"
                ) from None
            raise self._failed(
                f"The text of {self.url} cannot be stored: {error.errors()[0]['msg']}.", "no-text"
            ) from None


# However little of the fetch's time is left, extraction gets this much: a page that arrived deserves a reading.
_MIN_EXTRACTION_S = 1.0
_EXTRACTOR = multiprocessing.get_context("forkserver")
# The extraction processes fork from a server that has trafilatura loaded already.
_EXTRACTOR.set_forkserver_preload(["trafilatura", "app.services.fetching"])


def _run_extraction(markup: bytes | str, url: str, *, deadline: float) -> dict[str, Any] | str | None:
    """The page's text and metadata as trafilatura finds them (None: no document), or "timeout" or "error"."""
    receiving, sending = _EXTRACTOR.Pipe(duplex=False)
    worker = _EXTRACTOR.Process(target=_extract, args=(markup, url, sending), daemon=True)
    worker.start()  # the first one also starts the fork server, which is not the page's doing
    sending.close()
    try:
        if not receiving.poll(max(deadline - time.monotonic(), _MIN_EXTRACTION_S)):
            return "timeout"
        return receiving.recv()
    except (EOFError, OSError):  # the process died without answering
        return "error"
    finally:
        receiving.close()
        if worker.is_alive():
            worker.kill()
        worker.join(timeout=5)


def _extract(markup: bytes | str, url: str, answer: Any) -> None:
    """In the extraction process: trafilatura's reading of the page, sent back as plain values."""
    import trafilatura
    from trafilatura.settings import Document
    from trafilatura.utils import load_html

    try:
        tree = load_html(markup)
        document = (
            None
            if tree is None
            else trafilatura.bare_extraction(
                tree, url=url, with_metadata=True, include_comments=False, date_extraction_params=_DATES
            )
        )
        if tree is None or document is None:
            answer.send(None)
            return
        assert isinstance(document, Document)  # a dict only when asked for with as_dict=True
        answer.send({
            "text": document.text, "title": document.title, "sitename": document.sitename,
            "author": document.author, "date": document.date, "lang": tree.get("lang"),
        })  # fmt: skip
    except Exception:  # a page is hostile input: a parser failing on it is that page's problem
        logger.warning("text extraction failed for %s", url, exc_info=True)
        answer.send("error")
    finally:
        answer.close()


def _single_line(value: str | None, limit: int) -> str | None:
    """Metadata as a stored field takes it: one line, no NUL, within its length limit."""
    if not value:
        return None
    cleaned = " ".join(value.replace("\x00", " ").split())[:limit].strip()
    return cleaned or None


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    """The value as the field stores it, or None when the page's value does not fit the field."""
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def source_from_page(body: SourceCreate, page: FetchedPage) -> SourceCreate:
    """The source to store: what the client gave, completed from the fetched page.

    The client's fields win; a missing title is the page's headline, else the URL's host and path
    marked editorial; a missing publication time is the page's, else the time it was retrieved.
    """
    given = body.model_dump(include=body.model_fields_set - {"url"})
    url = httpx.URL(page.url)
    from_page: dict[str, Any] = {
        "title": page.title or _single_line(f"{url.host}{url.path}", TITLE_MAX_CHARS),
        "title_is_editorial": page.title is None and "title" not in given,
        "published_at": page.published_at or page.retrieved_at,
        "publisher": page.publisher,
        "language": page.language,
    }
    values = {name: value for name, value in from_page.items() if value is not None}
    values.update({name: value for name, value in given.items() if value is not None or name == "publisher"})
    stored_url = _valid(_URL, page.url) if len(page.url) <= 2048 else None
    values.update(url=stored_url or body.url, text=page.text, retrieved_at=page.retrieved_at)
    return SourceCreate.model_validate(values)
