"""Writes commit through the unit of work, which names their effects: a commit made without it
changes neither the data version nor the position history, and one made with it rebuilds exactly
the cells it names."""

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db import WriteSession
from app.errors import InvalidField
from app.models.audit import AuditAction, AuditEntity, AuditEvent
from app.models.statement import Statement, StatementCreate
from app.services import statements, unit_of_work
from app.services.audit import AuditEntry
from app.services.data_version import read_version
from tests.test_position_history import rebuilt, spans


def cell_spans(engine: Engine, statement: Statement) -> list[tuple[Any, ...]]:
    return [span for span in spans(engine) if span[:2] == (statement.party_id, statement.issue_id)]


def two_statements_in_different_cells(session: Session) -> tuple[Statement, Statement]:
    first, *others = session.exec(select(Statement).order_by(Statement.id)).scalars()
    second = next(other for other in others if (other.party_id, other.issue_id) != (first.party_id, first.issue_id))
    for statement in (first, second):
        statement.stance = "unclear" if statement.stance != "unclear" else "support"
        session.add(statement)
    return first, second


@pytest.mark.parametrize("event_name", ["before_flush", "after_flush", "before_commit", "after_transaction_end"])
def test_importing_the_application_registers_no_listener_on_sessions(event_name):
    import app.main  # noqa: F401  (everything the server imports)

    for session in (Session(), WriteSession()):
        assert len(getattr(session.dispatch, event_name)) == 0, f"{type(session).__name__} has a {event_name} listener"


def test_a_commit_without_the_unit_of_work_bumps_nothing_and_rebuilds_nothing(seeded, engine):
    version, before = read_version(engine), spans(engine)
    with Session(engine) as session:
        two_statements_in_different_cells(session)
        session.commit()
    assert read_version(engine) == version
    assert spans(engine) == before != rebuilt(engine), "the matrix is left stale"


def test_the_unit_of_work_rebuilds_exactly_the_cells_it_names(seeded, engine):
    version = read_version(engine)
    with Session(engine) as session:
        named, unnamed = two_statements_in_different_cells(session)
        unit_of_work.commit(session, statements=[named.id])
        stale = cell_spans(engine, unnamed)
        expected = rebuilt(engine)
        assert cell_spans(engine, named) == [span for span in expected if span[:2] == (named.party_id, named.issue_id)]
        assert stale != [span for span in expected if span[:2] == (unnamed.party_id, unnamed.issue_id)]
    assert read_version(engine) == version + 1


def test_a_statement_moved_to_another_cell_leaves_the_named_old_cell_empty(seeded, engine):
    with Session(engine) as session:
        moving, other = two_statements_in_different_cells(session)
        old_cell = (moving.party_id, moving.issue_id)
        moving.party_id, moving.issue_id = other.party_id, other.issue_id
        unit_of_work.commit(session, statements=[moving.id, other.id], cells=[old_cell])
    assert spans(engine) == rebuilt(engine)


def test_the_audit_entry_commits_with_the_write(seeded, engine):
    with Session(engine) as session:
        statement, _ = two_statements_in_different_cells(session)
        entry = AuditEntry(
            "tester", AuditEntity.statement, statement.id, AuditAction.correct, after={"stance": statement.stance}
        )
        unit_of_work.commit(session, audit=entry, statements=[statement.id], refresh=[statement])
        recorded = session.exec(select(AuditEvent).where(AuditEvent.actor == "tester")).scalars().all()
        assert [(event.entity, event.entity_id, event.action, event.after) for event in recorded] == [
            ("statement", str(statement.id), "correct", {"stance": statement.stance})
        ]


def test_services_name_fields_without_a_request_location(seeded, engine):
    with Session(engine) as session:
        source_id = session.exec(select(Statement.source_id)).scalars().first()
        body = StatementCreate(
            party="nobody", issue="security-guarantees", source=source_id, stance="support", quote="x"
        )
        with pytest.raises(InvalidField) as raised:
            statements.create_statement(session, body, actor="tester")
    assert raised.value.field == "party"
    assert raised.value.located_in("body").extensions["errors"][0]["field"] == "body.party"
    assert "/v1/" not in raised.value.detail


def test_a_correction_giving_the_current_values_writes_nothing(client, seeded):
    statement = client.get("/v1/statements", params={"limit": 1}).json()["items"][0]
    etag = client.get("/v1/matrix").headers["ETag"]
    response = client.patch(f"/v1/statements/{statement['id']}", json={"stance": statement["stance"]})
    assert response.status_code == 200 and response.json()["revision"] == statement["revision"]
    assert client.get("/v1/matrix", headers={"If-None-Match": etag}).status_code == 304
