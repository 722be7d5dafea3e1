"""Torture: many writers and concurrent readers on two workers at once, then a SIGKILL of the whole
server in the middle of it, with every acknowledged write checked afterwards.

Writers (each with its own connection) record statements quoting the seed article or its newest
version, correct their own (stance, summary, sometimes the quote), retract about one in ten, and
now and then store an edited version of the article that supersedes the newest one, which
re-anchors every standing statement quoting it. Readers meanwhile ask for matrices and diffs as of
varying dates (most of them not cached), with HEAD and with If-None-Match revalidation. Every
acknowledged write is recorded with its response body.

Then, on SQLite and PostgreSQL alike: no id was acknowledged by two creates; every revision an
acknowledgement reported is in the statement's history as reported, every revision there is one
that was acknowledged, and the statement reads as its last one; retractions read as acknowledged;
every quote of every revision is its source's text at its offsets; matrices at several dates equal
their recomputation from the statements; a client following the change feed (`after=` its last
id), through the kill and the restart, saw exactly the feed as listed afterwards, none missed nor
repeated, and replaying the feed cell by cell ends on every cell's recomputed position; the audit
trail has exactly one row per acknowledged
write (a new version of a source: its `create` and `anchor` rows, and a `correct` row per statement
moved to it); no 5xx, no traceback or "database is locked" in the log; SQLite's integrity check
passes. The second run is cut short by SIGKILL to the server and all its workers, and everything is
checked again after a restart on the same database: a write the kill cut off may have landed or
not, nothing acknowledged may be missing.

STANCEMAP_TORTURE_SECONDS sets how long each run of load lasts (default 30 s, 8 s under CI=true);
the figures are printed (pytest -s).
"""

import random
import sqlite3
import subprocess
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ENGINES
from tests.servers import (
    ISSUES,
    PARTIES,
    SEED_SOURCE,
    STANCEMAP,
    STANCES,
    Server,
    create_token,
    fetch_all,
    list_all,
    list_statements,
    quote_spans,
    running_server,
    seconds_from_env,
    server_env,
    source_text,
    writer_client,
)

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc to find the server's workers")


TORTURE_SECONDS = seconds_from_env("STANCEMAP_TORTURE_SECONDS", default=30, under_ci=8)
WRITERS = 24
READERS = 3
# Share of writes: new statements, corrections, retractions; a new version of the article at most
# once per SUPERSEDE_INTERVAL_S across all writers.
CREATE_SHARE, CORRECT_SHARE = 0.45, 0.45
SUPERSEDE_INTERVAL_S = 2.0
# New statements quoting the newest version of the article rather than the seed source.
ON_NEWEST_SHARE = 0.2
FIRST_DAY = date(2025, 5, 1)
DAYS = 123  # statements are stated from FIRST_DAY to the end of August 2025
MATRIX_DAYS = [
    date(2025, 5, 1),
    date(2025, 5, 31),
    date(2025, 6, 15),
    date(2025, 7, 1),
    date(2025, 7, 31),
    date(2025, 8, 18),
    date(2025, 9, 30),
    date(2025, 12, 31),
]
REVISED_FIELDS = (
    "revision",
    "source",
    "stance",
    "summary",
    "quote",
    "selector",
    "speaker",
    "stated_on",
    "recorded_by",
    "recorded_at",
)
WRITER_NAME = "torture"


def _day(rng: random.Random, first: date = FIRST_DAY, days: int = DAYS) -> date:
    return first + timedelta(days=rng.randrange(days))


# --- what was acknowledged ----------------------------------------------------------------------


@dataclass
class Ledger:
    """Every write acknowledged (2xx) with its response body, and everything else that was seen,
    from every thread and both runs (list.append is atomic)."""

    created: list[dict] = field(default_factory=list)
    corrected: list[dict] = field(default_factory=list)
    retracted: list[dict] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)
    # Refusals the API documents for racing writers: (operation, status, problem type).
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    # Anything else: a 5xx, an undocumented status, a wrong view answer, a transport error before a kill.
    failures: list[str] = field(default_factory=list)
    # Writes the kill interrupted: (operation, statement id or None, request body).
    cut_off: list[tuple[str, int | None, dict]] = field(default_factory=list)
    # The status of every read answered.
    reads: list[int] = field(default_factory=list)
    # The change feed's events as a client following it saw them, in order, over every run.
    followed: list[dict] = field(default_factory=list)

    def acknowledged(self) -> int:
        return len(self.created) + len(self.corrected) + len(self.retracted) + len(self.superseded)


class Versions:
    """The seed article's newest version, which the next supersede edits and some new statements quote."""

    def __init__(self, text: str) -> None:
        self._lock = threading.Lock()
        self.seed_text = text
        self.seed_spans = quote_spans(text)
        self.newest: tuple[int, str, list[tuple[int, int]]] = (SEED_SOURCE, text, self.seed_spans)
        self._last_claim = 0.0
        self.count = 1

    def claim(self) -> tuple[int, str, int] | None:
        """The newest version to supersede and the new one's number, at most once per interval
        across all writers."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_claim < SUPERSEDE_INTERVAL_S:
                return None
            self._last_claim = now
            self.count += 1
            return self.newest[0], self.newest[1], self.count

    def stored(self, source_id: int, text: str) -> None:
        with self._lock:
            if source_id > self.newest[0]:  # versions chain, and each gets a higher id than the one it supersedes
                self.newest = (source_id, text, quote_spans(text))


def edited(rng: random.Random, text: str, number: int) -> str:
    """A new version of an article: one word replaced, a line dropped or a line inserted, and a
    closing line, so most quotes move verbatim and some drift or are orphaned."""
    lines = text.split("\n")
    long_lines = [index for index, line in enumerate(lines) if len(line.split()) >= 8]
    index = rng.choice(long_lines)
    change = rng.choice(["word", "drop", "insert"]) if len(long_lines) > 20 else "word"
    if change == "word":
        words = lines[index].split(" ")
        words[rng.randrange(len(words))] = f"revised{number}"
        lines[index] = " ".join(words)
    elif change == "drop":
        del lines[index]
    else:
        lines.insert(index, f"Officials added further remarks on the talks (update {number}).")
    return "\n".join(lines) + f"\nThis article was updated (version {number})."


# --- writers and readers ------------------------------------------------------------------------


class Writer:
    """One writing client. It corrects and retracts only statements it recorded, so its own
    acknowledgements of one statement are in the order they were made."""

    def __init__(self, index: int, engine: str) -> None:
        self.index = index
        self.rng = random.Random(f"torture-{engine}-{index}")
        self.standing: dict[int, date] = {}  # its statements not retracted: id -> stated_on
        self.number = 0

    def run(
        self, base: str, token: str, ledger: Ledger, versions: Versions, until: float, killed: threading.Event
    ) -> None:
        with writer_client(base, token) as client:
            while time.monotonic() < until and not killed.is_set():
                self.number += 1
                operation, target, method, path, body = self._next_write(versions)
                try:
                    response = client.request(method, path, json=body)
                except httpx.TransportError as error:
                    if killed.is_set():
                        ledger.cut_off.append((operation, target, body))
                    else:
                        ledger.failures.append(f"{operation} {path}: {type(error).__name__}: {error}")
                    return
                self._record(operation, target, response, body, ledger, versions, client)

    def _tag(self) -> str:
        return f"w{self.index}-{self.number}"

    def _next_write(self, versions: Versions) -> tuple[str, int | None, str, str, dict[str, Any]]:
        draw = self.rng.random()
        if draw < 0.03 and (claimed := versions.claim()) is not None:
            superseded, text, number = claimed
            body = {
                "title": f"White House talks, version {number}",
                "published_at": (date(2025, 8, 18) + timedelta(days=number)).isoformat(),
                "text": edited(self.rng, text, number),
                "supersedes": superseded,
            }
            return "supersede", None, "POST", "/v1/sources", body
        if not self.standing or draw < CREATE_SHARE:
            on_newest = self.rng.random() < ON_NEWEST_SHARE
            source_id, text, spans = (
                versions.newest if on_newest else (SEED_SOURCE, versions.seed_text, versions.seed_spans)
            )
            start, end = self.rng.choice(spans)
            body = {
                "party": self.rng.choice(PARTIES),
                "issue": self.rng.choice(ISSUES),
                "source": source_id,
                "quote": text[start:end],
                "start": start,
                "stance": self.rng.choice(STANCES),
                "summary": f"torture statement {self._tag()}",
                "stated_on": _day(self.rng).isoformat(),
            }
            return "create", None, "POST", "/v1/statements", body
        target = self.rng.choice(sorted(self.standing))
        if draw < CREATE_SHARE + CORRECT_SHARE:
            # A new summary every time: every acknowledged correction is a new revision.
            body = {"stance": self.rng.choice(STANCES), "summary": f"torture correction {self._tag()}"}
            if self.rng.random() < 0.3:
                start, end = self.rng.choice(versions.seed_spans)
                body |= {"source": SEED_SOURCE, "quote": versions.seed_text[start:end], "start": start}
            return "correct", target, "PATCH", f"/v1/statements/{target}", body
        stated_on = self.standing[target]
        body = {
            "reason": f"torture retraction {self._tag()}",
            "retracted_on": _day(self.rng, stated_on, 90).isoformat(),
        }
        return "retract", target, "POST", f"/v1/statements/{target}/retract", body

    def _record(
        self,
        operation: str,
        target: int | None,
        response: httpx.Response,
        body: dict[str, Any],
        ledger: Ledger,
        versions: Versions,
        client: httpx.Client,
    ) -> None:
        status = response.status_code
        problem = response.json().get("type", "") if status >= 400 and response.content else ""
        if operation == "create" and status == 201:
            created = response.json()
            ledger.created.append(created)
            self.standing[created["id"]] = date.fromisoformat(created["stated_on"])
        elif operation == "correct" and status == 200:
            ledger.corrected.append(response.json())
        elif operation == "retract" and status == 200:
            ledger.retracted.append(response.json())
            del self.standing[target]
        elif operation == "supersede" and status == 201:
            stored = response.json()
            ledger.superseded.append(stored)
            versions.stored(stored["id"], body["text"])
        elif operation == "supersede" and status == 409 and problem == "/problems/conflict":
            # Another writer's version got there first: carry on from the newest one.
            ledger.refused.append((operation, status, problem))
            newest = response.json()["latest_version"]
            text = client.get(f"/v1/sources/{newest}/text")
            if text.status_code == 200:
                versions.stored(newest, text.text)
        elif operation in ("create", "correct") and status == 409 and problem == "/problems/duplicate-statement":
            ledger.refused.append((operation, status, problem))
        else:
            ledger.failures.append(f"{operation} {target}: {status} {response.text[:500]} (sent {str(body)[:300]})")


def _view_path(rng: random.Random) -> str:
    """A matrix or diff, as of a day that repeats (cached until the next write) or one that hardly does."""

    def day() -> str:
        return rng.choice(MATRIX_DAYS).isoformat() if rng.random() < 0.5 else _day(rng, FIRST_DAY, 240).isoformat()

    draw = rng.random()
    if draw < 0.45:
        return f"/v1/matrix?as_of={day()}"
    if draw < 0.55:
        return "/v1/matrix"
    if draw < 0.65:
        return f"/v1/matrix?as_of={day()}&format=csv&layout=long"
    if draw < 0.75:
        return f"/v1/diff?from=source:{SEED_SOURCE}&to={_day(rng, date(2025, 8, 18), 140)}"  # published 2025-08-18
    first, last = sorted((day(), day()))
    return f"/v1/diff?from={first}&to={last}"


def read_views(index: int, engine: str, base: str, ledger: Ledger, until: float, killed: threading.Event) -> None:
    rng = random.Random(f"reader-{engine}-{index}")
    etags: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=60, headers={"Accept-Encoding": "gzip"}) as client:
        while time.monotonic() < until and not killed.is_set():
            path = _view_path(rng)
            draw = rng.random()
            try:
                if draw < 0.2:
                    response = client.head(path)
                    kind = "HEAD"
                elif path in etags and draw < 0.6:
                    response = client.get(path, headers={"If-None-Match": etags[path]})
                    kind = "revalidate"
                else:
                    response = client.get(path)
                    kind = "GET"
            except httpx.TransportError as error:
                if not killed.is_set():
                    ledger.failures.append(f"{path}: {type(error).__name__}: {error}")
                return
            ledger.reads.append(response.status_code)
            etag = response.headers.get("etag")
            if kind == "revalidate" and response.status_code == 304 and etag == etags[path] and not response.content:
                continue
            if response.status_code != 200 or not etag:
                ledger.failures.append(f"{kind} {path}: {response.status_code} {response.text[:500]}")
            elif kind == "revalidate" and etag == etags[path]:
                ledger.failures.append(f"{path}: 200 for If-None-Match {etag}, its own ETag")
            elif kind == "HEAD" and (response.content or "content-length" not in response.headers):
                ledger.failures.append(f"HEAD {path}: {len(response.content)} bytes, headers {dict(response.headers)}")
            elif kind != "HEAD":
                etags[path] = etag
                if "format=csv" not in path:
                    response.json()  # whole, valid JSON


def follow_changes(base: str, ledger: Ledger, until: float, killed: threading.Event) -> None:
    """A client of the change feed: asks for the events after the last one it saw, again and again."""
    with httpx.Client(base_url=base, timeout=60) as client:
        while not killed.is_set():
            last = ledger.followed[-1]["id"] if ledger.followed else 0
            try:
                response = client.get("/v1/changes", params={"after": last, "limit": 200})
            except httpx.TransportError as error:
                if not killed.is_set():
                    ledger.failures.append(f"/v1/changes after {last}: {type(error).__name__}: {error}")
                return
            if response.status_code != 200:
                ledger.failures.append(f"/v1/changes after {last}: {response.status_code} {response.text[:500]}")
                return
            items = response.json()["items"]
            ledger.followed.extend(items)
            if not items:
                if time.monotonic() >= until:
                    return  # caught up after the load ended
                time.sleep(0.05)


@dataclass
class Run:
    seconds: float
    acknowledged: int
    reads: int


def run_load(
    engine: str,
    server: Server,
    token: str,
    writers: list[Writer],
    ledger: Ledger,
    versions: Versions,
    *,
    seconds: float,
    kill_after: float | None = None,
) -> Run:
    """Writers and readers against the server for `seconds`, or until SIGKILL hits it after `kill_after`."""
    killed = threading.Event()
    acknowledged_before, reads_before = ledger.acknowledged(), len(ledger.reads)
    started = time.monotonic()
    until = started + seconds
    threads = [
        threading.Thread(target=writer.run, args=(server.base, token, ledger, versions, until, killed))
        for writer in writers
    ]
    threads += [
        threading.Thread(target=read_views, args=(index, engine, server.base, ledger, until, killed))
        for index in range(READERS)
    ]
    threads.append(threading.Thread(target=follow_changes, args=(server.base, ledger, until, killed)))
    for thread in threads:
        thread.start()
    try:
        if kill_after is not None:
            time.sleep(kill_after)
            killed.set()  # before the signal: what fails from now on was cut off, not refused
            server.kill()
        for thread in threads:
            thread.join(timeout=seconds + 120)
    finally:
        killed.set()  # on a failure in this thread, the others stop too
        for thread in threads:
            thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a client thread did not stop"
    elapsed = time.monotonic() - started
    return Run(elapsed, ledger.acknowledged() - acknowledged_before, len(ledger.reads) - reads_before)


# --- the checks ---------------------------------------------------------------------------------


@dataclass
class Baseline:
    """The seed statements as the load found them, and the audit rows already written."""

    statements: dict[int, dict]
    audit_ids: set[int]


def _revised(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in REVISED_FIELDS}


def check_statements(base: str, ledger: Ledger, baseline: Baseline) -> tuple[list[str], list[str], dict[int, dict]]:
    """(lost, wrong, statements by id): acknowledged writes that are missing, and anything else that
    disagrees with what was acknowledged."""
    lost: list[str] = []
    wrong: list[str] = []
    ids = Counter(created["id"] for created in ledger.created)
    wrong += [f"statement {sid} acknowledged by {count} creates" for sid, count in ids.items() if count > 1]
    wrong += [f"statement {sid} acknowledged as created, but it is a seed" for sid in ids if sid in baseline.statements]

    listed = {item["id"]: item for item in list_statements(base, include_retracted="true")}
    known = set(baseline.statements) | set(ids)
    lost += [f"statement {sid} acknowledged, not listed" for sid in sorted(known - set(listed))]
    cut_off = Counter(operation for operation, _, _ in ledger.cut_off)
    extra = sorted(set(listed) - known)
    cut_off_summaries = {body["summary"] for operation, _, body in ledger.cut_off if operation == "create"}
    wrong += [
        f"statement {sid} was never acknowledged nor cut off: {listed[sid]}"
        for sid in extra
        if listed[sid]["summary"] not in cut_off_summaries or listed[sid]["revision"] != 1
    ]
    if len(extra) > cut_off["create"]:
        wrong.append(f"{len(extra)} unacknowledged statements, {cut_off['create']} creates cut off")

    # Revisions each acknowledgement reported, and the moves each new version reported.
    acknowledged: dict[int, dict[int, dict]] = defaultdict(dict)
    for item in [*baseline.statements.values(), *ledger.created, *ledger.corrected]:
        acknowledged[item["id"]][item["revision"]] = _revised(item)
    moves: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)  # statement -> new source -> span
    for stored in ledger.superseded:
        for outcome in stored["anchoring"]["outcomes"]:
            if outcome["outcome"] == "anchored":
                moves[outcome["statement"]][stored["id"]] = (outcome["new_start"], outcome["new_end"])
    retractions = {item["id"]: item["retraction"] for item in ledger.retracted}
    cut_off_targets = Counter((operation, target) for operation, target, _ in ledger.cut_off if target is not None)
    acknowledged_sources = {SEED_SOURCE} | {stored["id"] for stored in ledger.superseded}

    ids_listed = sorted(listed)
    paths = [f"/v1/statements/{sid}" for sid in ids_listed] + [f"/v1/statements/{sid}/history" for sid in ids_listed]
    responses = fetch_all(base, paths)
    for position, sid in enumerate(ids_listed):
        single, history = responses[position], responses[len(ids_listed) + position]
        if single.status_code != 200 or history.status_code != 200:
            lost.append(f"statement {sid}: GET {single.status_code}, history {history.status_code}")
            continue
        current, revisions = single.json(), history.json()["revisions"]
        if current != listed[sid]:
            wrong.append(f"statement {sid}: GET {current} differs from the list's {listed[sid]}")
        numbers = [revision["revision"] for revision in revisions]
        if numbers != list(range(1, len(revisions) + 1)) or current["revision"] != len(revisions):
            wrong.append(f"statement {sid}: revisions {numbers}, current {current['revision']}")
            continue
        if _revised(current) != _revised(revisions[-1]):
            wrong.append(f"statement {sid}: reads {_revised(current)}, its last revision is {_revised(revisions[-1])}")
        for number, reported in acknowledged[sid].items():
            if number > len(revisions):
                lost.append(f"statement {sid}: revision {number} acknowledged, history ends at {len(revisions)}")
            elif _revised(revisions[number - 1]) != reported:
                lost.append(
                    f"statement {sid} revision {number}: acknowledged {reported}, "
                    f"history has {_revised(revisions[number - 1])}"
                )
        for source_id, span in moves[sid].items():
            if not any(
                revision["source"] == source_id
                and revision["note"] == f"re-anchored on source {source_id}"
                and (revision["selector"]["start"], revision["selector"]["end"]) == span
                for revision in revisions
            ):
                lost.append(f"statement {sid}: its move to source {source_id} at {span} is not in its history")
        unexplained = [
            revision["revision"]
            for revision in revisions
            if revision["revision"] not in acknowledged[sid]
            and not (sid in extra and revision["revision"] == 1)
            and not (revision["note"] or "").startswith("re-anchored on source ")
        ]
        if len(unexplained) > cut_off_targets[("correct", sid)]:
            wrong.append(f"statement {sid}: revisions {unexplained} were never acknowledged")
        for revision in revisions:
            note = revision["note"] or ""
            if note.startswith("re-anchored on source "):
                moved_to = int(note.rsplit(" ", 1)[1])
                if moved_to not in moves[sid] and (moved_to in acknowledged_sources or not cut_off["supersede"]):
                    wrong.append(f"statement {sid} revision {revision['revision']}: moved to {moved_to} unacknowledged")
        if sid in retractions:
            if current["retraction"] != retractions[sid]:
                lost.append(
                    f"statement {sid}: retraction {retractions[sid]} acknowledged, reads {current['retraction']}"
                )
        elif current["retraction"] is not None and not cut_off_targets[("retract", sid)]:
            wrong.append(f"statement {sid}: retracted, never acknowledged: {current['retraction']}")
        listed[sid]["history"] = revisions
    return lost, wrong, listed


def check_quotes(base: str, statements: dict[int, dict]) -> list[str]:
    """Every revision's quote is its source's text at its offsets."""
    sources = sorted({revision["source"] for item in statements.values() for revision in item.get("history", [item])})
    texts = dict(zip(sources, fetch_all(base, [f"/v1/sources/{sid}/text" for sid in sources]), strict=True))
    wrong = []
    for item in statements.values():
        for revision in item.get("history", [item]):
            text = texts[revision["source"]].text
            selector = revision["selector"]
            if text[selector["start"] : selector["end"]] != revision["quote"]:
                wrong.append(
                    f"statement {item['id']} revision {revision['revision']}: quote {revision['quote']!r} "
                    f"is not source {revision['source']}[{selector['start']}:{selector['end']}]"
                )
    return wrong


def expected_matrix(statements: dict[int, dict], day: date) -> dict[tuple[str, str], tuple[int, str]]:
    """Per cell, the latest statement stated on or before `day` and not retracted by then (on the
    same day, the higher id): (statement id, stance)."""
    best: dict[tuple[str, str], tuple[tuple[str, int], int, str]] = {}
    for item in statements.values():
        retraction = item["retraction"]
        if date.fromisoformat(item["stated_on"]) > day:
            continue
        if retraction is not None and date.fromisoformat(retraction["retracted_on"]) <= day:
            continue
        key, rank = (item["party"], item["issue"]), (item["stated_on"], item["id"])
        if key not in best or rank > best[key][0]:
            best[key] = (rank, item["id"], item["stance"])
    return {key: (sid, stance) for key, (_, sid, stance) in best.items()}


def check_matrices(base: str, statements: dict[int, dict]) -> list[str]:
    wrong = []
    today = httpx.get(f"{base}/v1/matrix", timeout=60).json()["as_of"]
    for day in [*MATRIX_DAYS, date.fromisoformat(today)]:
        response = httpx.get(f"{base}/v1/matrix", params={"as_of": day.isoformat()}, timeout=60)
        if response.status_code != 200:
            wrong.append(f"matrix as of {day}: {response.status_code} {response.text[:300]}")
            continue
        served = {
            (cell["party"], cell["issue"]): (cell["statement"], cell["stance"])
            for cell in response.json()["cells"]
            if cell["statement"] is not None
        }
        expected = expected_matrix(statements, day)
        if served != expected:
            differing = {
                key: (served.get(key), expected.get(key))
                for key in served.keys() | expected.keys()
                if served.get(key) != expected.get(key)
            }
            wrong.append(f"matrix as of {day}, cell: (served, recomputed): {differing}")
    return wrong


def check_change_feed(base: str, ledger: Ledger, statements: dict[int, dict]) -> list[str]:
    """The feed as listed now: ids increasing; what the follower saw is its beginning, event for
    event; each event starts from the position the cell's previous one ended on; and the last one
    of each cell ends on the cell's position recomputed from the statements."""
    wrong = []
    feed = list_all(base, "/v1/changes")
    ids = [event["id"] for event in feed]
    if ids != sorted(set(ids)):
        wrong.append("change feed ids are not strictly increasing")
    seen = ledger.followed
    if seen != feed[: len(seen)]:
        mismatch = next(index for index, pair in enumerate(zip(seen, feed, strict=False)) if pair[0] != pair[1])
        wrong.append(f"the follower saw {len(seen)} events; they differ from the feed at {mismatch}: "
                     f"{str(seen[mismatch])[:300]} != {str(feed[mismatch])[:300]}")  # fmt: skip

    def position(cell: dict | None) -> tuple[int, str] | None:
        return None if cell is None else (cell["statement"], cell["stance"])

    replayed: dict[tuple[str, str], tuple[int, str] | None] = {}
    for event in feed:
        key = (event["party"], event["issue"])
        if position(event["before"]) != replayed.get(key):
            wrong.append(f"event {event['id']} starts from {position(event['before'])}, the feed left {key} "
                         f"at {replayed.get(key)}")  # fmt: skip
        replayed[key] = position(event["after"])
    latest = expected_matrix(statements, date.max)
    ended = {key: value for key, value in replayed.items() if value is not None}
    if ended != latest:
        differing = {key: (ended.get(key), latest.get(key)) for key in ended.keys() | latest.keys()
                     if ended.get(key) != latest.get(key)}  # fmt: skip
        wrong.append(f"replaying the feed, cell: (replayed, recomputed): {differing}"[:2000])
    return wrong


def check_audit(
    base: str, admin_token: str, ledger: Ledger, baseline: Baseline, statements: dict[int, dict]
) -> list[str]:
    """One audit row per acknowledged write: a statement's `create`, a `correct` per later revision
    (corrections and moves to a new version alike), a `retract` if retracted; a new version's
    `create` and `anchor`, the latter with the counts its response reported."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    wrong = []
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entity in ("statement", "source"):
        for row in list_all(base, "/v1/audit", headers=headers, entity=entity):
            if row["id"] not in baseline.audit_ids:
                rows[(entity, row["entity_id"])].append(row)
    for sid, item in statements.items():
        events = rows.pop(("statement", str(sid)), [])
        actions = Counter(row["action"] for row in events)
        first_revision = baseline.statements[sid]["revision"] if sid in baseline.statements else 1
        expected = Counter(
            {
                "create": int(sid not in baseline.statements),
                "correct": item["revision"] - first_revision,
                "retract": int(item["retraction"] is not None),
            }
        )
        if actions != +expected:
            wrong.append(f"statement {sid}: audit actions {dict(actions)}, expected {dict(+expected)}")
        corrected = sorted(row["after"]["revision"] for row in events if row["action"] == "correct")
        if corrected != list(range(first_revision + 1, item["revision"] + 1)):
            wrong.append(f"statement {sid}: audit rows for revisions {corrected}, it has {item['revision']}")
    for stored in ledger.superseded:
        events = rows.pop(("source", str(stored["id"])), [])
        if sorted(row["action"] for row in events) != ["anchor", "create"]:
            wrong.append(f"source {stored['id']}: audit actions {[row['action'] for row in events]}")
        anchors = [row["after"] for row in events if row["action"] == "anchor"]
        counts = stored["anchoring"]["counts"]
        if anchors and {name: anchors[0][name] for name in counts} != counts:
            wrong.append(f"source {stored['id']}: audited counts {anchors[0]}, acknowledged {counts}")
    # What is left belongs to no write that was acknowledged: only a write the kill cut off may have left it.
    leftover_sources = [key for key in rows if key[0] == "source"]
    cut_off_supersedes = sum(operation == "supersede" for operation, _, _ in ledger.cut_off)
    if len(leftover_sources) > cut_off_supersedes or [key for key in rows if key[0] == "statement"]:
        wrong.append(f"audit rows of no acknowledged write: {dict(rows)}"[:2000])
    return wrong


def audit_ids(base: str, admin_token: str) -> set[int]:
    return {row["id"] for row in list_all(base, "/v1/audit", headers={"Authorization": f"Bearer {admin_token}"})}


def check_everything(server: Server, admin_token: str, ledger: Ledger, baseline: Baseline) -> tuple[int, list[str]]:
    """(how many acknowledged writes are missing, every problem found)."""
    lost, wrong, statements = check_statements(server.base, ledger, baseline)
    wrong += check_quotes(server.base, statements)
    wrong += check_matrices(server.base, statements)
    wrong += check_change_feed(server.base, ledger, statements)
    wrong += check_audit(server.base, admin_token, ledger, baseline, statements)
    return len(lost), lost + wrong


def assert_no_failures(ledger: Ledger, server: Server) -> None:
    failures = list(ledger.failures)
    assert not failures, f"{len(failures)} failures, e.g. {failures[:5]}\nserver log:\n{server.log_tail(3000)}"


def assert_clean_log(server: Server) -> None:
    log = server.log()
    assert "Traceback" not in log and "database is locked" not in log, server.log_tail()


def assert_database_intact(engine: str, database_url: str, env: dict[str, str], workdir: Path) -> None:
    """With no server running: SQLite's integrity check, and `stancemap check` (every invariant)."""
    if engine == "sqlite":
        connection = sqlite3.connect(make_url(database_url).database)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            connection.close()
    done = subprocess.run(
        [STANCEMAP, "check"], cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _statuses(failures: list[str]) -> dict[str, int]:
    """Failures counted by what went wrong: a status, or a transport error's name."""
    return dict(Counter(failure.split(": ", 1)[1].split(" ", 1)[0] for failure in failures if ": " in failure))


def report(engine: str, label: str, run: Run, ledger: Ledger, lost: int) -> None:
    print(
        f"\n[{engine}] {label}: {WRITERS} writers, {READERS} readers, 2 workers, {run.seconds:.1f} s: "
        f"{run.acknowledged} writes acknowledged ({run.acknowledged / run.seconds:.1f}/s), "
        f"{run.reads} reads ({run.reads / run.seconds:.1f}/s); all runs so far: {len(ledger.created)} creates, "
        f"{len(ledger.corrected)} corrections, {len(ledger.retracted)} retractions, {len(ledger.superseded)} new "
        f"versions, refused {dict(Counter((op, kind) for op, _, kind in ledger.refused))}, "
        f"cut off {len(ledger.cut_off)}, failed {len(ledger.failures)} ({_statuses(ledger.failures)}); "
        f"change events followed: {len(ledger.followed)}; lost: {lost}"
    )


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_writers_readers_and_a_sigkill_lose_no_acknowledged_write(engine, make_database, tmp_path):
    database_url = make_database(engine)
    env = server_env(database_url)
    token = create_token(env, tmp_path, name=WRITER_NAME, scope="write")
    admin_token = create_token(env, tmp_path, name="auditor", scope="admin")
    ledger = Ledger()
    writers = [Writer(index, engine) for index in range(WRITERS)]

    with running_server(env, tmp_path, "torture", workers=2) as server:
        versions = Versions(source_text(server.base))
        baseline = Baseline(
            {item["id"]: item for item in list_statements(server.base, include_retracted="true")},
            audit_ids(server.base, admin_token),
        )
        assert baseline.statements, "serve loads the seed statements into an empty database"
        run = run_load(engine, server, token, writers, ledger, versions, seconds=TORTURE_SECONDS)
        lost, problems = check_everything(server, admin_token, ledger, baseline)
        report(engine, "load", run, ledger, lost)
        assert_no_failures(ledger, server)
        assert not problems, f"{len(problems)} problems, e.g. {problems[:8]}"
        assert run.acknowledged > 0 and run.reads > 0
        assert ledger.superseded, "no new version of the article was stored"
        assert ledger.followed, "the change feed's follower saw no event"
    assert_clean_log(server)
    assert_database_intact(engine, database_url, env, tmp_path)

    with running_server(env, tmp_path, "torture-killed", workers=2) as server:
        run = run_load(
            engine,
            server,
            token,
            writers,
            ledger,
            versions,
            seconds=TORTURE_SECONDS * 3,
            kill_after=TORTURE_SECONDS / 2,
        )
    assert ledger.cut_off, "the writers should have seen the server die"
    assert_no_failures(ledger, server)
    assert_clean_log(server)

    with running_server(env, tmp_path, "torture-restarted", workers=2) as restarted:
        # The follower resumes after the last event it saw before the kill.
        follow_changes(restarted.base, ledger, time.monotonic(), threading.Event())
        lost, problems = check_everything(restarted, admin_token, ledger, baseline)
        report(engine, f"SIGKILL after {TORTURE_SECONDS / 2:.0f} s, restart", run, ledger, lost)
        assert not problems, f"{len(problems)} problems, e.g. {problems[:8]}"
    assert_clean_log(restarted)
    assert_database_intact(engine, database_url, env, tmp_path)
