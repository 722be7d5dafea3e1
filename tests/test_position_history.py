"""The position history: spans kept in step by every write, equal to a rebuild from scratch,
rebuilt when their format is stale, and cut correctly on the days statements come and go."""

import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app.config import Settings
from app.db import dispose_engines
from app.main import create_app
from app.models.common import Stance
from app.models.issue import Issue
from app.models.matrix import Cell
from app.models.party import Party
from app.models.position_span import (
    DAYS_PER_CELL,
    PositionCell,
    PositionSpan,
    Projection,
    span_cell_and_day,
)
from app.models.statement import Statement
from app.services import position_history, unit_of_work
from app.services.data_version import bump, read_version
from app.services.positions import citation_steps
from tests.helpers import (
    assert_problem,
    create_issue,
    create_party,
    create_source,
    statement_body,
)
from tests.test_source_revisions import (
    EDITED_QUOTE,
    REMOVED_QUOTE,
    revise,
    seed_text,
    statement_id_quoting,
    supersede,
)


def spans(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return position_history.readable_spans(connection)


def numbered_cells(connection: Connection) -> list[tuple[int, int]]:
    return sorted(tuple(row) for row in connection.execute(select(PositionCell.party_id, PositionCell.issue_id)))


def rebuilt(engine: Engine) -> list[tuple[Any, ...]]:
    """The spans a rebuild from scratch writes (rolled back afterwards). It must also number the
    same cells: none left over without statements, none missing."""
    with engine.connect() as connection:
        transaction = connection.begin()
        numbered = numbered_cells(connection)
        position_history.rebuild_all(connection)
        assert numbered_cells(connection) == numbered
        found = position_history.readable_spans(connection)
        transaction.rollback()
        return found


def test_every_kind_of_write_leaves_the_spans_a_rebuild_would_write(client, seeded, engine):
    assert spans(engine) == rebuilt(engine) != []
    edited = statement_id_quoting(client, EDITED_QUOTE)
    statements = client.get("/v1/statements", params={"limit": 200}).json()["items"]
    first, second = [item for item in statements if item["quote"] not in (EDITED_QUOTE, REMOVED_QUOTE)][:2]
    writes = [
        client.post(
            "/v1/statements",
            json={
                **{k: first[k] for k in ("party", "issue", "source", "quote")},
                "stance": "support",
                "stated_on": "2025-08-19",
            },
        ),
        client.patch(f"/v1/statements/{first['id']}", json={"stance": "neutral"}),
        client.patch(f"/v1/statements/{second['id']}", json={"stated_on": "2025-07-01"}),
        client.post(
            f"/v1/statements/{second['id']}/retract", json={"reason": "Misread.", "retracted_on": "2025-08-16"}
        ),
        client.patch(f"/v1/sources/{first['source']}", json={"title": "Retitled"}),
        client.patch(f"/v1/parties/{first['party']}", json={"slug": "renamed-party"}),
        client.patch(f"/v1/issues/{first['issue']}", json={"slug": "renamed-issue"}),
    ]
    assert [response.status_code for response in writes] == [201, 200, 200, 200, 200, 200, 200], [
        w.text for w in writes
    ]
    assert spans(engine) == rebuilt(engine)

    # Flags: raised by a new version, settled by a confirmation.
    new = supersede(client, revise(seed_text(client)))
    assert spans(engine) == rebuilt(engine)
    flagged = [span for span in spans(engine) if span.statement_id == edited and orjson.loads(span.cell)["flag"]]
    assert flagged, "the drifted statement's spans carry its flag"
    assert client.post(f"/v1/statements/{edited}/confirm", json={}).status_code == 200
    assert spans(engine) == rebuilt(engine)
    assert not [span for span in spans(engine) if span.statement_id == edited and orjson.loads(span.cell)["flag"]]
    assert client.get("/v1/matrix").json()["cells"]
    assert new["anchoring"]["pending"] == 2


def test_deleting_a_version_drops_its_flags_from_the_matrix(client, engine):
    create_party(client)
    create_issue(client)
    old = create_source(client, text="The minister said: “We will never give up the north.” Nothing more.")
    statement = client.post("/v1/statements", json={**statement_body(old["id"]), "start": None}).json()
    new = create_source(client, text="The minister said little.", supersedes=old["id"])
    assert new["anchoring"]["pending"] == 1
    (cell,) = [cell for cell in client.get("/v1/matrix").json()["cells"] if cell["statement"] == statement["id"]]
    assert cell["flag"]["outcome"] == "orphaned"

    assert client.delete(f"/v1/sources/{new['id']}").status_code == 204

    (cell,) = [cell for cell in client.get("/v1/matrix").json()["cells"] if cell["statement"] == statement["id"]]
    assert cell["flag"] is None
    assert spans(engine) == rebuilt(engine)


def test_a_cell_left_without_statements_is_dropped_and_its_party_and_issue_can_be_deleted(client, engine):
    create_party(client)
    create_party(client, "southland")
    create_issue(client)
    create_issue(client, "cede-south", title="Ceding the south", proposition="Southland cedes the south")
    source = create_source(client)
    statement = client.post("/v1/statements", json=statement_body(source["id"])).json()
    with engine.connect() as connection:
        ids = dict(connection.execute(select(Party.slug, Party.id)).all()) | dict(
            connection.execute(select(Issue.slug, Issue.id)).all()
        )
    # The API has no way to move a statement; a correction made in the database does, naming the cell it leaves.
    with Session(engine) as session:
        moving = session.get(Statement, statement["id"])
        left = (moving.party_id, moving.issue_id)
        moving.party_id, moving.issue_id = ids["southland"], ids["cede-south"]
        session.add(moving)
        unit_of_work.commit(session, statements=[moving.id], cells=[left])
    assert spans(engine) == rebuilt(engine)
    with engine.connect() as connection:
        cells = connection.execute(select(PositionCell.party_id, PositionCell.issue_id)).all()
    assert [tuple(cell) for cell in cells] == [(ids["southland"], ids["cede-south"])], "the emptied cell is dropped"
    assert {span[:2] for span in spans(engine)} == {(ids["southland"], ids["cede-south"])}

    assert client.delete("/v1/parties/northland").status_code == 204
    assert client.delete("/v1/issues/cede-north").status_code == 204
    (cell,) = client.get("/v1/matrix").json()["cells"]
    assert (cell["party"], cell["issue"], cell["statement"]) == ("southland", "cede-south", statement["id"])


def test_spans_of_a_stale_format_are_rebuilt_when_the_server_starts(settings, seeded, engine):
    expected = spans(engine)
    with engine.begin() as connection:
        connection.execute(update(Projection).where(Projection.name == position_history.PROJECTION).values(format=0))
        connection.execute(PositionSpan.__table__.delete())
    version = read_version(engine)

    application = create_app(settings)
    try:
        with TestClient(application) as client:
            matrix = client.get("/v1/matrix", params={"as_of": "2025-08-18"}).json()
    finally:
        dispose_engines(application.state)

    assert spans(engine) == expected
    assert sum(cell["stance"] is not None for cell in matrix["cells"]) > 0
    with engine.connect() as connection:
        assert position_history.stored_format(connection) == position_history.FORMAT
    assert read_version(engine) == version + 1, "views cached before the rebuild are not served after it"


def test_a_current_format_is_left_alone(engine, seeded):
    assert position_history.ensure_current(engine) is False


# --- cutting spans ----------------------------------------------------------------------------


def statement(id: int, stated_on: str, retracted_on: str | None = None, stance: str = "oppose") -> SimpleNamespace:
    return SimpleNamespace(
        id=id, stance=stance, summary=None, stated_on=date.fromisoformat(stated_on),
        retracted_on=date.fromisoformat(retracted_on) if retracted_on else None, revision=1,
        quote="q", quote_start=0, quote_end=1, quote_prefix="", quote_suffix="", speaker=None,
        source_id=1, title="t", published_at=datetime(2025, 1, 1, tzinfo=UTC), url=None,
    )  # fmt: skip


def cut(*statements: SimpleNamespace) -> list[tuple[str, int | None, int, str | None]]:
    """(first day, statement, evidence_count, evidence_since) per span."""
    ordered = sorted(statements, key=lambda row: (row.stated_on, row.id))
    found = []
    for span in position_history.cell_spans(7, "northland", "the-north", ordered, {}, {}):
        cell_id, day = span_cell_and_day(span["span_key"])
        assert cell_id == 7
        cell = orjson.loads(span["cell"]) if span["cell"] else {"evidence_count": 0, "evidence_since": None}
        found.append((day.isoformat(), span["statement_id"], cell["evidence_count"], cell["evidence_since"]))
    return found


def test_the_later_recorded_statement_wins_a_day_and_both_count():
    assert cut(statement(2, "2025-08-01"), statement(1, "2025-08-01")) == [("2025-08-01", 2, 2, "2025-08-01")]


def test_a_stance_taken_again_counts_from_its_return():
    a, b = "support", "oppose"
    days = ["2025-08-01", "2025-08-02", "2025-08-03", "2025-08-04", "2025-08-05"]
    aabbb = [
        statement(i, day, stance=stance) for i, (day, stance) in enumerate(zip(days, [a, a, b, b, b], strict=True), 1)
    ]
    assert cut(*aabbb) == [
        ("2025-08-01", 1, 1, "2025-08-01"),
        ("2025-08-02", 2, 2, "2025-08-01"),
        ("2025-08-03", 3, 1, "2025-08-03"),
        ("2025-08-04", 4, 2, "2025-08-03"),
        ("2025-08-05", 5, 3, "2025-08-03"),
    ]
    aba = [statement(i, day, stance=stance) for i, (day, stance) in enumerate(zip(days, [a, b, a], strict=False), 1)]
    assert cut(*aba)[-1] == ("2025-08-03", 3, 1, "2025-08-03")


def test_retracting_the_newest_statement_brings_back_the_run_before_it():
    assert cut(
        statement(1, "2025-08-01", stance="support"),
        statement(2, "2025-08-02", stance="support"),
        statement(3, "2025-08-03", stance="oppose", retracted_on="2025-08-06"),
        statement(4, "2025-08-04", stance="support", retracted_on="2025-08-08"),
    ) == [
        ("2025-08-01", 1, 1, "2025-08-01"),
        ("2025-08-02", 2, 2, "2025-08-01"),
        ("2025-08-03", 3, 1, "2025-08-03"),
        ("2025-08-04", 4, 1, "2025-08-04"),
        ("2025-08-06", 4, 3, "2025-08-01"),  # the reversal gone, the three supports are one run
        ("2025-08-08", 2, 2, "2025-08-01"),
    ]


def test_each_statement_and_retraction_of_one_stance_starts_a_span():
    assert cut(
        statement(1, "2025-08-01"), statement(2, "2025-08-05", retracted_on="2025-08-09"), statement(3, "2025-08-07")
    ) == [
        ("2025-08-01", 1, 1, "2025-08-01"),
        ("2025-08-05", 2, 2, "2025-08-01"),
        ("2025-08-07", 3, 3, "2025-08-01"),
        ("2025-08-09", 3, 2, "2025-08-01"),
    ]


def test_the_oldest_standing_statement_dates_the_evidence():
    assert cut(statement(1, "2025-08-01", retracted_on="2025-08-04"), statement(2, "2025-08-02")) == [
        ("2025-08-01", 1, 1, "2025-08-01"),
        ("2025-08-02", 2, 2, "2025-08-01"),
        ("2025-08-04", 2, 1, "2025-08-02"),
    ]


def test_retracting_every_statement_empties_the_cell_from_that_day():
    assert cut(statement(1, "2025-08-01", retracted_on="2025-08-03")) == [
        ("2025-08-01", 1, 1, "2025-08-01"),
        ("2025-08-03", None, 0, None),
    ]


def random_cell(rng: random.Random) -> tuple[list[SimpleNamespace], dict[int, list[SimpleNamespace]]]:
    """Statements of one cell on few days and stances (so runs, ties and retractions are common),
    some having cited other sources, published on other days, in earlier revisions."""
    first = date(2025, 8, 1)
    statements, earlier = [], {}
    for id in range(1, rng.randint(1, 14) + 1):
        stated_on = first + timedelta(days=rng.randrange(12))
        row = statement(id, stated_on.isoformat(), stance=rng.choice(["support", "oppose", "neutral"]))
        if rng.random() < 0.3:
            row.retracted_on = first + timedelta(days=rng.randrange(-1, 14))
        revisions = []
        for revision in range(1, rng.choice([1, 1, 2, 3]) + 1):
            revisions.append(SimpleNamespace(
                statement_id=id, revision=revision, source_id=100 * id + revision, quote=f"quote {id}.{revision}",
                quote_start=revision, quote_end=revision + 7, quote_prefix="", quote_suffix="", title=f"version {revision}",
                published_at=datetime.combine(first + timedelta(days=rng.randrange(-2, 14)), datetime.min.time(), UTC), url=None,
            ))  # fmt: skip
        current = revisions.pop()
        row.revision, row.source_id, row.quote, row.published_at = (
            current.revision,
            current.source_id,
            current.quote,
            current.published_at,
        )
        row.title, row.quote_start, row.quote_end = current.title, current.quote_start, current.quote_end
        if revisions:
            earlier[id] = revisions
        statements.append(row)
    return sorted(statements, key=lambda row: (row.stated_on, row.id)), earlier


def expected_on(
    day: date, statements: list[SimpleNamespace], earlier: dict[int, list[SimpleNamespace]]
) -> tuple[Any, ...] | None:
    """The cell as of `day`, by the definitions, from scratch: (statement, stance, evidence_count,
    evidence_since, cited source, cited quote)."""
    standing = [
        row for row in statements if row.stated_on <= day and (row.retracted_on is None or row.retracted_on > day)
    ]
    if not standing:
        return None
    newest = standing[-1]
    count = 0
    while count < len(standing) and standing[-count - 1].stance == newest.stance:
        count += 1
    revisions = [*earlier.get(newest.id, []), newest]
    first_published = min(row.published_at.date() for row in revisions)
    cited = max(
        (row for row in revisions if row.published_at.date() <= max(day, first_published)), key=lambda row: row.revision
    )
    return newest.id, newest.stance, count, standing[-count].stated_on.isoformat(), cited.source_id, cited.quote


@pytest.mark.parametrize("seed", range(300))
def test_spans_agree_with_the_definitions_computed_from_scratch_on_every_day(seed):
    rng = random.Random(seed)
    statements, earlier = random_cell(rng)
    citations = {row.id: citation_steps(row, row.revision, earlier[row.id]) for row in statements if row.id in earlier}
    spans = [
        (span_cell_and_day(span["span_key"])[1], span["stance"], span["cell"])
        for span in position_history.cell_spans(7, "northland", "the-north", statements, {}, citations)
    ]
    assert [day for day, *_ in spans] == sorted({day for day, *_ in spans}), "one span per first day, in order"
    for day in (date(2025, 7, 25) + timedelta(days=offset) for offset in range(30)):
        stored = [(stance, cell) for first_day, stance, cell in spans if first_day <= day]
        stance, cell_json = stored[-1] if stored else (None, None)
        cell = orjson.loads(cell_json) if cell_json is not None else None
        seen = cell and (
            cell["statement"],
            stance,
            cell["evidence_count"],
            cell["evidence_since"],
            cell["source"]["id"],
            cell["quote"],
        )
        assert seen == expected_on(day, statements, earlier), (seed, day)
    # Cut only where the cell changes.
    assert all(one[1:] != other[1:] for one, other in pairwise(spans)), seed


@pytest.mark.parametrize("retracted_on", ["2025-08-01", "2025-07-20"])
def test_a_statement_retracted_by_its_own_day_never_stands(retracted_on):
    # The same day is a retraction "effective immediately"; an earlier one cannot be recorded
    # through the API, but a restored dump or a hand-edited database may hold one.
    assert cut(statement(1, "2025-08-01", retracted_on=retracted_on)) == []
    assert cut(statement(1, "2025-08-01", retracted_on=retracted_on), statement(2, "2025-07-25")) == [
        ("2025-07-25", 2, 1, "2025-07-25")
    ]


@pytest.mark.parametrize("stance", list(Stance))
def test_a_span_holds_its_stance_in_its_own_column_and_the_whole_cell_as_served(stance):
    (span,) = position_history.cell_spans(
        7, "northland", "the-north", [statement(1, "2025-08-01", stance=stance)], {}, {}
    )
    assert span["stance"] == stance
    cell = orjson.loads(span["cell"])
    assert list(cell) == [name for name in Cell.model_fields if name != "evidence"]
    assert (cell["party"], cell["issue"], cell["stance"]) == ("northland", "the-north", stance)
    assert (cell["statement"], cell["evidence_count"], cell["evidence_since"]) == (1, 1, "2025-08-01")


# --- failure modes ----------------------------------------------------------------------------


def test_a_server_of_an_older_release_refuses_writes_and_changes_nothing(client, seeded, engine):
    before = spans(engine)
    with engine.begin() as connection:
        connection.execute(
            update(Projection)
            .where(Projection.name == position_history.PROJECTION)
            .values(format=position_history.FORMAT + 1)
        )
    try:
        statement = client.get("/v1/statements", params={"limit": 1}).json()["items"][0]
        response = client.patch(f"/v1/statements/{statement['id']}", json={"stance": "unclear"})
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "/problems/outdated-server"
        assert response.headers["Retry-After"] == "5"
        assert client.get(f"/v1/statements/{statement['id']}").json()["stance"] == statement["stance"]
        assert spans(engine) == before
        # Nor does it serve views from spans it cannot read.
        assert_problem(client.get("/v1/matrix", params={"as_of": "2025-08-10"}), 503, "outdated-server")
    finally:
        with engine.begin() as connection:
            connection.execute(
                update(Projection)
                .where(Projection.name == position_history.PROJECTION)
                .values(format=position_history.FORMAT)
            )


def test_readiness_reports_a_position_history_not_built_for_this_release(client, seeded, engine):
    with engine.begin() as connection:
        connection.execute(update(Projection).where(Projection.name == position_history.PROJECTION).values(format=0))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "position history" in response.json()["database"]
        # Views wait for the rebuild rather than show cells that are missing or in another format.
        for url in ("/v1/matrix", "/v1/diff?from=2025-08-14", "/v1/parties/russia/issues/security-guarantees/timeline"):
            refused = client.get(url)
            assert_problem(refused, 503, "rebuilding")
            assert refused.headers["Retry-After"] == "5"
    finally:
        assert position_history.ensure_current(engine) is True
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/matrix").status_code == 200


def test_cell_numbers_past_32_bits_of_key_still_find_their_spans(client, seeded, engine):
    """Keys above 2**31 (from cell 512 on): 64-bit arithmetic on PostgreSQL too."""
    matrix = client.get("/v1/matrix", params={"as_of": "2025-08-18"}).json()
    diff = client.get("/v1/diff", params={"from": "2025-08-14", "to": "2025-08-18"}).json()
    expected = spans(engine)
    shift = 1_000_000
    with engine.begin() as connection:
        connection.execute(update(PositionCell).values(id=PositionCell.id + shift))
        connection.execute(update(PositionSpan).values(span_key=PositionSpan.span_key + shift * DAYS_PER_CELL))
        assert connection.execute(select(func.min(PositionSpan.span_key))).scalar_one() > 2**41
        bump(connection)
    assert spans(engine) == expected
    assert client.get("/v1/matrix", params={"as_of": "2025-08-18"}).json() == matrix
    assert client.get("/v1/diff", params={"from": "2025-08-14", "to": "2025-08-18"}).json() == diff

    first = client.get("/v1/statements", params={"limit": 1}).json()["items"][0]
    assert client.patch(f"/v1/statements/{first['id']}", json={"stance": "unclear"}).status_code == 200
    assert spans(engine) == rebuilt(engine)
    with engine.connect() as connection:
        assert connection.execute(select(func.min(PositionCell.id))).scalar_one() > shift


def test_a_server_starts_on_an_unreachable_database_and_says_it_is_not_ready(tmp_path):
    application = create_app(Settings(database_url=f"sqlite:///{tmp_path}/missing/directory/stancemap.db"))
    try:
        with TestClient(application, raise_server_exceptions=False) as client:
            response = client.get("/readyz")
    finally:
        dispose_engines(application.state)
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


# --- citing the version of a source published by the date ---------------------------------------

WITKOFF = "first time we had ever heard the Russians agree to that"
UPDATE_NOTE = "Updated on 25 August with corrections.\n\n"


def russia_on_guarantees(client, path: str = "/v1/matrix", **params: str) -> dict[str, Any]:
    cells = client.get(path, params={"parties": "russia", "issues": "security-guarantees", **params}).json()["cells"]
    return cells[0]


def assert_cites(cited: dict[str, Any], source_id: int, text: str) -> None:
    """`cited` is a cell or a statement: it quotes `text`, the text of `source_id`, where its selector says."""
    selector = cited["selector"]
    assert (cited["source"]["id"] if isinstance(cited["source"], dict) else cited["source"]) == source_id
    assert text[selector["start"] : selector["end"]] == cited["quote"] == WITKOFF
    assert selector["start"] == text.index(WITKOFF)
    assert selector["prefix"] == text[selector["start"] - 32 : selector["start"]]
    assert selector["suffix"] == text[selector["end"] : selector["end"] + 32]


def test_a_cell_cites_the_version_of_its_source_published_by_the_date(client, seeded, engine):
    old_text = seed_text(client)
    new_text = UPDATE_NOTE + revise(old_text)
    new = supersede_published(client, new_text, "2025-08-25")
    assert new["anchoring"]["counts"]["anchored"] > 0
    texts = {1: old_text, new["id"]: new_text}

    # Before the update was published, the original article; from its day on, the update. Before
    # either was (the position predates the reporting), the first version.
    cited_on = {"2025-08-15": 1, "2025-08-18": 1, "2025-08-24": 1, "2025-08-25": new["id"], "2025-09-30": new["id"]}
    for as_of, source_id in cited_on.items():
        cell = russia_on_guarantees(client, as_of=as_of)
        assert_cites(cell, source_id, texts[source_id])
        assert cell["source"]["published_at"] == ("2025-08-25T00:00:00Z" if source_id != 1 else "2025-08-18T00:00:00Z")
    # The citation is all that changes: the statement, its stance and its evidence are the same.
    then, now = russia_on_guarantees(client, as_of="2025-08-24"), russia_on_guarantees(client, as_of="2025-08-25")
    assert {k: v for k, v in then.items() if k not in ("source", "quote", "selector")} == {
        k: v for k, v in now.items() if k not in ("source", "quote", "selector")
    }
    assert spans(engine) == rebuilt(engine)

    # A diff across the update's day reads the same cells, unchanged in position.
    diff = client.get(
        "/v1/diff",
        params={"from": "2025-08-24", "to": "2025-08-25", "parties": "russia", "issues": "security-guarantees"},
    ).json()
    (change,) = diff["changes"]
    assert change["change"] == "unchanged"
    assert (change["before"], change["after"]) == (then, now)

    # Timelines and listed evidence cite what the cell cites on that date.
    path = "/v1/parties/russia/issues/security-guarantees/timeline"
    for as_of, source_id in (("2025-08-24", 1), ("2025-08-25", new["id"])):
        newest = client.get(path, params={"as_of": as_of}).json()["entries"][-1]["statement"]
        assert newest["id"] == then["statement"]
        assert_cites(newest, source_id, texts[source_id])
        listed = russia_on_guarantees(client, as_of=as_of, evidence="all")["evidence"][-1]
        assert listed == newest
    # The statement itself is its current revision.
    assert client.get(f"/v1/statements/{then['statement']}").json()["source"] == new["id"]


def test_re_dating_or_retitling_an_earlier_version_reaches_the_cells_that_cited_it(client, seeded, engine):
    old_text = seed_text(client)
    new = supersede_published(client, UPDATE_NOTE + revise(old_text), "2025-08-25")
    assert russia_on_guarantees(client, as_of="2025-08-22")["source"]["id"] == 1

    assert client.patch(f"/v1/sources/{new['id']}", json={"published_at": "2025-08-20"}).status_code == 200
    assert russia_on_guarantees(client, as_of="2025-08-22")["source"]["id"] == new["id"]
    assert russia_on_guarantees(client, as_of="2025-08-19")["source"]["id"] == 1

    assert client.patch("/v1/sources/1", json={"title": "White House talks (first take)"}).status_code == 200
    assert russia_on_guarantees(client, as_of="2025-08-19")["source"]["title"] == "White House talks (first take)"
    assert spans(engine) == rebuilt(engine)


def supersede_published(client, text: str, published_at: str) -> dict[str, Any]:
    return create_source(
        client, text=text, title="White House talks (updated)", supersedes=1, published_at=published_at
    )
