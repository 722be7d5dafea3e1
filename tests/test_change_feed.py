"""The change feed's write side: which writes record events, of which class, with which cells,
and the webhook deliveries they owe, written in the same transaction."""

import random
from datetime import date, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select
from sqlmodel import Session, col

from app.models.common import utcnow
from app.models.party import Party
from app.models.token import TokenScope
from app.models.webhook import Webhook, WebhookDelivery
from app.services import change_feed
from app.services.tokens import create_token
from tests import test_diffs as diff_tests
from tests.helpers import assert_problem, create_issue, create_party, create_source
from tests.test_diffs import retract

TEXT = " ".join(f"Sentence {n} was said." for n in range(40))


def events(engine, after: int = 0) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        found = change_feed.read_events(connection, after=after, limit=10_000)
    return orjson.loads(orjson.dumps(found, option=orjson.OPT_UTC_Z))


def latest_id(engine) -> int:
    with engine.connect() as connection:
        return change_feed.latest_event_id(connection)


def state(client, source_id: int, n: int, stance: str, stated_on: str, *, party="northland", issue="cede-north"):
    """A statement quoting the n-th sentence of TEXT."""
    return diff_tests.state(client, source_id, issue, f"Sentence {n} was said.", stance, stated_on, party=party)


@pytest.fixture
def grid(client) -> dict[str, Any]:
    create_party(client, "northland")
    create_party(client, "southland")
    create_issue(client, "cede-north")
    create_issue(client, "ceasefire", title="Ceasefire", proposition="A ceasefire now")
    return {"source": create_source(client, text=TEXT)["id"]}


def summary(event: dict[str, Any]) -> tuple:
    before, after = event["before"], event["after"]
    return (
        event["party"],
        event["issue"],
        event["change"],
        None if before is None else (before["stance"], before["statement"]),
        None if after is None else (after["stance"], after["statement"]),
    )


def test_each_change_of_a_position_is_one_event_of_its_class(client, engine, grid):
    source = grid["source"]
    first = state(client, source, 1, "oppose", "2025-08-01")
    same = state(client, source, 2, "oppose", "2025-08-02")
    leaning = state(client, source, 3, "lean_oppose", "2025-08-03")
    crossed = state(client, source, 4, "support", "2025-08-04")
    retract(client, crossed["id"], "2025-08-05")
    for statement in (leaning, same, first):
        retract(client, statement["id"], "2025-08-06")
    found = [summary(event) for event in events(engine)]
    cell = ("northland", "cede-north")
    assert found == [
        (*cell, "new", None, ("oppose", first["id"])),
        (*cell, "restated", ("oppose", first["id"]), ("oppose", same["id"])),
        (*cell, "shifted", ("oppose", same["id"]), ("lean_oppose", leaning["id"])),
        (*cell, "reversed", ("lean_oppose", leaning["id"]), ("support", crossed["id"])),
        # Retracting the newest statement brings back the one before it.
        (*cell, "reversed", ("support", crossed["id"]), ("lean_oppose", leaning["id"])),
        (*cell, "shifted", ("lean_oppose", leaning["id"]), ("oppose", same["id"])),
        (*cell, "restated", ("oppose", same["id"]), ("oppose", first["id"])),
        (*cell, "withdrawn", ("oppose", first["id"]), None),
    ]
    ids = [event["id"] for event in events(engine)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_an_event_carries_the_cells_as_the_matrix_served_them(client, engine, grid):
    source = grid["source"]
    matrix_before = client.get("/v1/matrix", params={"parties": "northland", "issues": "cede-north"}).json()
    state(client, source, 1, "oppose", "2025-08-01")
    served = client.get("/v1/matrix", params={"parties": "northland", "issues": "cede-north"}).json()
    (event,) = events(engine)
    assert matrix_before["cells"][0]["stance"] is None
    assert event["before"] is None
    assert event["after"] == served["cells"][0]
    assert event["stated_on"] == "2025-08-01"
    later = state(client, source, 2, "support", "2025-08-09")
    event = events(engine)[-1]
    assert event["before"] == served["cells"][0]
    assert event["after"] == client.get("/v1/matrix", params={"parties": "northland"}).json()["cells"][0]
    assert event["after"]["quote"] == "Sentence 2 was said."
    assert event["stated_on"] == later["stated_on"]


def test_a_withdrawal_holds_from_the_day_of_the_retraction(client, engine, grid):
    statement = state(client, grid["source"], 1, "oppose", "2025-08-01")
    retract(client, statement["id"], "2025-08-20")
    withdrawn = events(engine)[-1]
    assert withdrawn["change"] == "withdrawn"
    assert withdrawn["stated_on"] == "2025-08-20"
    assert withdrawn["after"] is None and withdrawn["before"]["statement"] == statement["id"]


def test_the_event_names_the_write_that_caused_it(client, engine, grid):
    statement = state(client, grid["source"], 1, "oppose", "2025-08-01")
    (event,) = events(engine)
    audit = client.get("/v1/audit", params={"entity": "statement", "entity_id": str(statement["id"])}).json()
    (entry,) = audit["items"]
    cause = event["caused_by"]
    assert (cause["audit_event"], cause["actor"]) == (entry["id"], "admin")
    # The commit's time, which comes after the audit event was made and before the answer.
    made, committed = (datetime.fromisoformat(value) for value in (entry["at"], cause["at"]))
    assert made <= committed <= utcnow()


def test_writes_that_change_no_position_record_no_event(app, client, engine, grid):
    source = grid["source"]
    newest = state(client, source, 5, "oppose", "2025-08-10")
    baseline = latest_id(engine)
    # Behind a newer statement: the history changes, the latest position does not.
    state(client, source, 6, "support", "2025-08-01")
    # A correction that keeps the stance and the statement.
    response = client.patch(f"/v1/statements/{newest['id']}", json={"summary": "Said again", "note": "typo"})
    assert response.status_code == 200, response.text
    # Renames rebuild the cells (they carry the slugs) without changing a position.
    assert client.patch("/v1/parties/northland", json={"name": "North Land"}).status_code == 200
    assert client.patch("/v1/issues/cede-north", json={"title": "Ceding it"}).status_code == 200
    create_party(client, "eastland")
    create_source(client, text="Another text entirely.")
    with Session(app.state.write_engine) as session:
        create_token(session, name="viewer", scope=TokenScope.read)
    # A refused write records nothing either.
    refused = client.post(
        "/v1/statements",
        json={
            "party": "northland",
            "issue": "cede-north",
            "source": source,
            "quote": "Never said.",
            "stance": "oppose",
        },
    )
    assert_problem(refused, 422)
    assert latest_id(engine) == baseline


def test_a_correction_of_the_stance_is_a_change(client, engine, grid):
    statement = state(client, grid["source"], 1, "oppose", "2025-08-01")
    response = client.patch(f"/v1/statements/{statement['id']}", json={"stance": "support", "note": "misread"})
    assert response.status_code == 200, response.text
    event = events(engine)[-1]
    assert summary(event)[2:] == ("reversed", ("oppose", statement["id"]), ("support", statement["id"]))
    # The correction's own audit event is the cause.
    audit = client.get("/v1/audit", params={"entity": "statement", "entity_id": str(statement["id"])}).json()
    assert event["caused_by"]["audit_event"] == audit["items"][-1]["id"]


def test_a_retraction_on_its_statements_day_withdraws_the_position_from_the_write(client, engine, grid):
    statement = state(client, grid["source"], 1, "oppose", "2025-08-10")
    retract(client, statement["id"], "2025-08-10")
    withdrawn = events(engine)[-1]
    assert summary(withdrawn)[2:] == ("withdrawn", ("oppose", statement["id"]), None)
    # The statement never stood, so the cell has no history left to date the end from.
    assert withdrawn["stated_on"] == utcnow().date().isoformat()


def test_a_renamed_party_is_listed_under_its_current_slug(client, engine, grid):
    state(client, grid["source"], 1, "oppose", "2025-08-01")
    assert client.patch("/v1/parties/northland", json={"slug": "north-land"}).status_code == 200
    (event,) = events(engine)
    assert event["party"] == "north-land"
    assert event["after"]["party"] == "northland"  # the cell as it was served then


def test_a_bulk_import_records_an_event_per_cell_it_changed(client, engine, grid):
    lines = [
        {"type": "statement", "party": party, "issue": issue, "source": grid["source"],
         "quote": f"Sentence {n} was said.", "stance": stance, "stated_on": f"2025-08-{n + 1:02d}"}
        for n, (party, issue, stance) in enumerate([
            ("northland", "cede-north", "oppose"),
            ("northland", "cede-north", "support"),
            ("southland", "ceasefire", "neutral"),
        ])
    ]  # fmt: skip
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    response = client.post("/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code in (200, 201), response.text
    found = [(*summary(event)[:3], summary(event)[4][0]) for event in events(engine)]
    assert found == [("northland", "cede-north", "new", "support"), ("southland", "ceasefire", "new", "neutral")]


# --- the outbox --------------------------------------------------------------------------------


def add_webhook(engine, **filters: Any) -> int:
    now = utcnow()
    row = {"url": "https://example.org/hook", "secret": "s", "enabled": True, "consecutive_failures": 0,
           "created_by": "test", "created_at": now, "updated_at": now, **filters}  # fmt: skip
    with engine.begin() as connection:
        return connection.execute(insert(Webhook).returning(col(Webhook.id)), row).scalar_one()


def deliveries(engine) -> list[tuple[int, int, str]]:
    query = select(col(WebhookDelivery.webhook_id), col(WebhookDelivery.event_id), col(WebhookDelivery.status))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query.order_by(col(WebhookDelivery.id)))]


def test_each_event_owes_a_delivery_to_each_webhook_wanting_it(client, engine, grid):
    every = add_webhook(engine)
    reversals = add_webhook(engine, changes=["reversed"])
    with engine.connect() as connection:
        party_ids = dict(connection.execute(select(col(Party.slug), col(Party.id))).all())
    of_southland = add_webhook(engine, parties=[party_ids["southland"]])
    disabled = add_webhook(engine, enabled=False)
    first = state(client, grid["source"], 1, "oppose", "2025-08-01")
    state(client, grid["source"], 2, "support", "2025-08-02")
    state(client, grid["source"], 3, "neutral", "2025-08-01", party="southland")
    new, reversed_, southern = (event["id"] for event in events(engine))
    assert deliveries(engine) == [
        (every, new, "pending"),
        (every, reversed_, "pending"),
        (reversals, reversed_, "pending"),
        (every, southern, "pending"),
        (of_southland, southern, "pending"),
    ]
    assert disabled not in {webhook for webhook, _, _ in deliveries(engine)}
    # No event, no delivery.
    state(client, grid["source"], 4, "oppose", "2025-07-01")
    retract(client, first["id"], "2025-08-03")
    assert len(deliveries(engine)) == 5


# --- against an independent computation --------------------------------------------------------


def expected_position(statements: list[dict[str, Any]]) -> tuple[str, int] | None:
    """The latest position from first principles: the standing statement stated last (then the
    one recorded last), never retracted."""
    standing = [s for s in statements if not s["retracted"]]
    if not standing:
        return None
    newest = max(standing, key=lambda s: (s["stated_on"], s["id"]))
    return newest["stance"], newest["id"]


def expected_change(before: tuple[str, int] | None, after: tuple[str, int] | None) -> str | None:
    sides = {"support": 1, "lean_support": 1, "oppose": -1, "lean_oppose": -1}
    if before == after:
        return None
    if before is None:
        return "new"
    if after is None:
        return "withdrawn"
    if before[0] == after[0]:
        return "restated"
    return "reversed" if sides.get(before[0], 0) * sides.get(after[0], 0) < 0 else "shifted"


@pytest.mark.parametrize("seed", [7, 2026])
def test_random_writes_record_exactly_the_changes_computed_independently(client, engine, grid, seed):
    rng = random.Random(seed)
    stances = ["support", "lean_support", "neutral", "lean_oppose", "oppose", "unclear"]
    cells = [("northland", "cede-north"), ("northland", "ceasefire"), ("southland", "cede-north")]
    statements: dict[tuple[str, str], list[dict[str, Any]]] = {cell: [] for cell in cells}
    expected: list[tuple[str, str, str, Any, Any]] = []
    day0 = date(2025, 8, 1)
    for step in range(40):
        cell = rng.choice(cells)
        before = expected_position(statements[cell])
        standing = [s for s in statements[cell] if not s["retracted"]]
        if standing and rng.random() < 0.3:
            victim = rng.choice(standing)
            retract(client, victim["id"], (day0 + timedelta(days=60)).isoformat())
            victim["retracted"] = True
        else:
            stated_on = (day0 + timedelta(days=rng.randrange(30))).isoformat()
            made = state(
                client, grid["source"], step % 40, rng.choice(stances), stated_on, party=cell[0], issue=cell[1]
            )
            statements[cell].append(
                {"id": made["id"], "stance": made["stance"], "stated_on": stated_on, "retracted": False}
            )
        after = expected_position(statements[cell])
        if (change := expected_change(before, after)) is not None:
            expected.append((*cell, change, before, after))
    found = [summary(event) for event in events(engine)]
    assert found == expected
    assert len(found) >= 10  # the walk changed positions often enough to mean something
