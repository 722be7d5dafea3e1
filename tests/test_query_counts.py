"""The derived views issue a fixed number of SQL statements, whatever the size of the data."""

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.models.common import Stance
from app.models.issue import IssueCreate
from app.models.party import PartyCreate
from app.models.source import SourceCreate
from app.models.statement import StatementCreate
from app.services.issues import issues
from app.services.parties import parties
from app.services.sources import create_source
from app.services.statements import create_statement

STANCES = [Stance.oppose, Stance.lean_support, Stance.support, Stance.neutral, Stance.lean_oppose]
FIRST_DAY = date(2025, 8, 12)


class QueryCounter:
    """Statements sent through any of the engines given (requests read on one, build views on another)."""

    def __init__(self, *engines: Engine) -> None:
        self.engines = list({id(engine): engine for engine in engines}.values())
        self.count = 0

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> "QueryCounter":
        self.count = 0
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: Any) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._on_execute)


@pytest.fixture
def counter(app) -> Iterator[QueryCounter]:
    yield QueryCounter(app.state.engine, app.state.view_engine)


def grow(engine: Engine, n_parties: int, n_issues: int, per_cell: int) -> None:
    """Parties `russia`, `party-1`...; issues `issue-0`...; `per_cell` statements on every cell,
    from 2025-08-12 on, all recorded through the services the API uses. Adds to what exists."""
    party_slugs = ["russia", *(f"party-{n}" for n in range(1, n_parties))]
    issue_slugs = [f"issue-{n}" for n in range(n_issues)]
    with Session(engine) as session:
        for slug in party_slugs:
            if parties.find(session, slug) is None:
                parties.create(session, PartyCreate(slug=slug, name=slug.title(), kind="country"), actor="test")
        for slug in issue_slugs:
            if issues.find(session, slug) is None:
                issues.create(
                    session, IssueCreate(slug=slug, title=slug.title(), proposition=f"{slug} happens"), actor="test"
                )
        cells = [(party, issue) for party in party_slugs for issue in issue_slugs]
        sentences = [f"Quote {party} {issue} {k} ends here." for party, issue in cells for k in range(per_cell)]
        source = create_source(
            session,
            SourceCreate(title=f"Wire {n_parties}x{n_issues}", published_at="2025-08-20", text=" ".join(sentences)),
            actor="test",
        )
        for number, (party, issue) in enumerate(cells):
            for k in range(per_cell):
                create_statement(
                    session,
                    StatementCreate(
                        party=party,
                        issue=issue,
                        source=source.id,
                        quote=f"Quote {party} {issue} {k} ends here.",
                        stance=STANCES[(number + k) % len(STANCES)],
                        stated_on=FIRST_DAY + timedelta(days=2 * k),
                    ),
                    actor="test",
                )


def requests_for(run: int) -> dict[str, tuple[str, dict[str, str]]]:
    """The measured requests; `run` varies a date so no cached rendering can answer."""
    day = (date(2030, 1, 1) + timedelta(days=run)).isoformat()
    return {
        "matrix": ("/v1/matrix", {"as_of": day}),
        "matrix-evidence": ("/v1/matrix", {"as_of": day, "evidence": "all"}),
        "matrix-csv-long": ("/v1/matrix", {"as_of": day, "format": "csv", "layout": "long"}),
        "diff": ("/v1/diff", {"from": "2025-08-14", "to": day}),
        "timeline": ("/v1/parties/russia/issues/issue-0/timeline", {"as_of": day}),
        "statements": ("/v1/statements", {"party": "russia"}),
    }


def measure(client, counter: QueryCounter, run: int) -> tuple[dict[str, int], dict[str, Any]]:
    client.get("/v1/parties")  # a warm connection, so connecting is not counted in any request
    counts: dict[str, int] = {}
    bodies: dict[str, Any] = {}
    for name, (path, params) in requests_for(run).items():
        with counter:
            response = client.get(path, params=params)
        assert response.status_code == 200, (name, response.text)
        counts[name] = counter.count
        bodies[name] = (
            response.json() if response.headers["content-type"].startswith("application/json") else response.text
        )
    return counts, bodies


def test_query_count_does_not_grow_with_the_data(client, engine, counter):
    grow(engine, n_parties=2, n_issues=2, per_cell=2)
    small, small_bodies = measure(client, counter, run=0)

    grow(engine, n_parties=6, n_issues=5, per_cell=3)
    large, large_bodies = measure(client, counter, run=1)

    # The data really grew, and each response shows it.
    assert len(small_bodies["matrix"]["cells"]) == 4 and len(large_bodies["matrix"]["cells"]) == 30
    assert sum(len(cell["evidence"]) for cell in small_bodies["matrix-evidence"]["cells"]) == 8
    assert sum(len(cell["evidence"]) for cell in large_bodies["matrix-evidence"]["cells"]) == 8 + 90
    assert len(large_bodies["matrix-csv-long"].splitlines()) == 31
    assert len(small_bodies["diff"]["changes"]) == 4 and len(large_bodies["diff"]["changes"]) == 30
    assert len(small_bodies["timeline"]["entries"]) == 2 and len(large_bodies["timeline"]["entries"]) == 5
    assert len(small_bodies["statements"]["items"]) == 4 and len(large_bodies["statements"]["items"]) == 4 + 15

    assert all(count > 0 for count in small.values()), small
    assert large == small


def test_a_cached_view_costs_fewer_queries_than_rendering_it(client, engine, counter):
    grow(engine, n_parties=2, n_issues=2, per_cell=2)
    first, _ = measure(client, counter, run=0)
    repeated, _ = measure(client, counter, run=0)
    for name in ("matrix", "matrix-evidence", "diff", "timeline"):
        assert repeated[name] < first[name], (name, first, repeated)
    assert repeated["statements"] == first["statements"]
