"""Stance statements: recording, correcting, retracting and reading them.

Every write anchors the quote in the source text first, so a statement whose quote is not
verbatim never reaches the database.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.errors import AlreadyRetracted, DuplicateStatement, InvalidField, NotFound
from app.models.anchoring import AnchoringResolution
from app.models.audit import AuditAction, AuditEntity
from app.models.common import Stance, utcnow
from app.models.issue import Issue
from app.models.party import Party
from app.models.source import Source
from app.models.statement import (
    Retraction,
    Selector,
    Statement,
    StatementCreate,
    StatementHistory,
    StatementPublic,
    StatementRetract,
    StatementRevision,
    StatementRevisionPublic,
    StatementUpdate,
)
from app.services import unit_of_work
from app.services.anchoring_review import settle_pending
from app.services.audit import AuditEntry, record
from app.services.data_version import wait_for_other_writers
from app.services.issues import issues
from app.services.pagination import Sorting, SortKey, Window, paginate
from app.services.parties import parties
from app.services.quotes import Anchor, locate_quote
from app.services.sources import resolve_source

_QUOTE_FIELDS = ("quote", "quote_start", "quote_end", "quote_prefix", "quote_suffix")
REVISED_FIELDS = ("source_id", "stance", "summary", "speaker", "stated_on", *_QUOTE_FIELDS)


@dataclass(frozen=True)
class StatementFilter:
    party: str | None = None
    issue: str | None = None
    source: int | None = None
    stance: Stance | None = None
    speaker: str | None = None
    stated_from: date | None = None
    stated_to: date | None = None
    include_retracted: bool = False


def anchor_fields(anchor: Anchor) -> dict[str, Any]:
    return {
        "quote": anchor.exact,
        "quote_start": anchor.start,
        "quote_end": anchor.end,
        "quote_prefix": anchor.prefix,
        "quote_suffix": anchor.suffix,
    }


def _selector(row: Statement | StatementRevision) -> Selector:
    return Selector(start=row.quote_start, end=row.quote_end, prefix=row.quote_prefix, suffix=row.quote_suffix)


def _retraction(row: Statement) -> Retraction | None:
    if row.retracted_at is None:
        return None
    assert row.retracted_on is not None  # set together with retracted_at
    return Retraction(
        reason=row.retraction_reason or "",
        retracted_on=row.retracted_on,
        retracted_at=row.retracted_at,
        retracted_by=row.retracted_by or "",
    )


def _revised_values(row: Statement | StatementRevision) -> dict[str, Any]:
    """What every revision carries, as the public models name it."""
    return {
        "revision": row.revision,
        "source": row.source_id,
        "stance": Stance(row.stance),
        "summary": row.summary,
        "quote": row.quote,
        "selector": _selector(row),
        "speaker": row.speaker,
        "stated_on": row.stated_on,
        "recorded_by": row.recorded_by,
        "recorded_at": row.recorded_at,
    }


def to_public(row: Statement, party_slug: str, issue_slug: str) -> StatementPublic:
    assert row.id is not None  # a stored statement
    return StatementPublic(
        id=row.id,
        party=party_slug,
        issue=issue_slug,
        created_at=row.created_at,
        retraction=_retraction(row),
        **_revised_values(row),
    )


def _with_slugs() -> Any:  # Select[Statement, str, str], a subscript SQLAlchemy 2.0 cannot evaluate
    return (
        select(Statement, col(Party.slug), col(Issue.slug))
        .join(Party, col(Party.id) == col(Statement.party_id))
        .join(Issue, col(Issue.id) == col(Statement.issue_id))
    )


def _load(session: Session, statement_id: int) -> tuple[Statement, str, str]:
    row = session.execute(_with_slugs().where(col(Statement.id) == statement_id)).first()
    if row is None:
        raise NotFound(f"No statement has the id {statement_id}; the list of statements shows those that exist.")
    return row[0], row[1], row[2]


def get_statement(session: Session, statement_id: int) -> StatementPublic:
    return to_public(*_load(session, statement_id))


def get_statements(session: Session, statement_ids: Collection[int]) -> dict[int, StatementPublic]:
    """The statements of these ids that exist, by id, in one query."""
    rows = session.execute(_with_slugs().where(col(Statement.id).in_(statement_ids))).all()
    return {row[0].id: to_public(*row) for row in rows}


SORTING = Sorting(
    stated_on=SortKey(col(Statement.stated_on), date),
    created_at=SortKey(col(Statement.created_at), datetime),
    recorded_at=SortKey(col(Statement.recorded_at), datetime),
    party=SortKey.text(col(Party.slug)),
    issue=SortKey.text(col(Issue.slug)),
    source=SortKey(col(Statement.source_id), int),
)


def list_statements(
    session: Session, filters: StatementFilter, *, limit: int, cursor: str | None, sort: str | None = None
) -> tuple[list[StatementPublic], str | None]:
    order = SORTING.order(sort)
    query = _with_slugs()
    if filters.party is not None:
        query = query.where(col(Statement.party_id) == parties.resolve(session, filters.party, "party").id)
    if filters.issue is not None:
        query = query.where(col(Statement.issue_id) == issues.resolve(session, filters.issue, "issue").id)
    if filters.source is not None:
        query = query.where(col(Statement.source_id) == filters.source)
    if filters.stance is not None:
        query = query.where(col(Statement.stance) == filters.stance.value)
    if filters.speaker is not None:
        query = query.where(col(Statement.speaker) == filters.speaker)
    if filters.stated_from is not None:
        query = query.where(col(Statement.stated_on) >= filters.stated_from)
    if filters.stated_to is not None:
        query = query.where(col(Statement.stated_on) <= filters.stated_to)
    if not filters.include_retracted:
        query = query.where(col(Statement.retracted_at).is_(None))
    window: Window[Any] = paginate(
        session, query, col(Statement.id), limit=limit, cursor=cursor, id_of=lambda row: row[0].id, order=order
    )
    return [to_public(*row) for row in window.rows], window.next_cursor


def _revision_row(statement: Statement, note: str | None) -> StatementRevision:
    assert statement.id is not None  # flushed before its first revision
    return StatementRevision(
        statement_id=statement.id,
        revision=statement.revision,
        recorded_by=statement.recorded_by,
        recorded_at=statement.recorded_at,
        note=note,
        **{name: getattr(statement, name) for name in REVISED_FIELDS},
    )


# What makes two standing statements the same record: refused rather than counted twice as evidence.
IDENTITY = ("party_id", "issue_id", "source_id", "quote_start", "quote_end", "stance", "stated_on")


def _refuse_duplicate(session: Session, identity: dict[str, Any], *, other_than: int | None = None) -> None:
    # Two identical statements sent at once must not both find no duplicate.
    wait_for_other_writers(session)
    query = select(col(Statement.id)).where(
        *(getattr(Statement, name) == value for name, value in identity.items()),
        col(Statement.retracted_at).is_(None),
    )
    if other_than is not None:
        query = query.where(col(Statement.id) != other_than)
    existing = session.execute(query.order_by(col(Statement.id)).limit(1)).scalar_one_or_none()
    if existing is not None:
        raise DuplicateStatement(
            f"Statement {existing} already records this stance with the same quote, source and stated_on; "
            "correct that statement instead of recording it again.",
            statement=existing,
        )


def create_statement(session: Session, data: StatementCreate, *, actor: str) -> StatementPublic:
    party = parties.resolve(session, data.party, "party")
    issue = issues.resolve(session, data.issue, "issue")
    source = resolve_source(session, data.source, "source")
    assert party.id is not None and issue.id is not None and source.id is not None  # rows read from the database
    anchor = locate_quote(source.text, data.quote, source_id=source.id, start=data.start, prefix=data.prefix)
    now = utcnow()
    statement = Statement(
        party_id=party.id,
        issue_id=issue.id,
        source_id=source.id,
        stance=data.stance.value,
        summary=data.summary or "",
        speaker=data.speaker,
        stated_on=data.stated_on or source.published_at.date(),
        revision=1,
        recorded_by=actor,
        recorded_at=now,
        created_at=now,
        **anchor_fields(anchor),
    )
    _refuse_duplicate(session, {name: getattr(statement, name) for name in IDENTITY})
    session.add(statement)
    session.flush()  # assigns the id the revision refers to
    session.add(_revision_row(statement, note=None))
    created = to_public(statement, party.slug, issue.slug)
    unit_of_work.commit(
        session,
        audit=AuditEntry(actor, AuditEntity.statement, created.id, AuditAction.create, after=created),
        statements=[created.id],
    )
    return created


def correct_statement(session: Session, statement_id: int, changes: StatementUpdate, *, actor: str) -> StatementPublic:
    statement, party_slug, issue_slug = _load(session, statement_id)
    if statement.retracted_at is not None:
        raise AlreadyRetracted(
            f"Statement {statement_id} was retracted on {statement.retracted_on}; record a new statement instead."
        )
    revision_before = statement.revision
    values = changes.changes()
    note = values.pop("note", None)
    proposed: dict[str, Any] = {}
    if {"source", "quote", "start", "prefix"} & values.keys():
        source = _source_for(session, statement, values)
        assert source.id is not None  # a row read from the database
        anchor = locate_quote(
            source.text,
            values.get("quote") or statement.quote,
            source_id=source.id,
            start=values.get("start"),
            prefix=values.get("prefix"),
        )
        proposed.update(source_id=source.id, **anchor_fields(anchor))
    if "stance" in values:
        proposed["stance"] = values["stance"].value
    if "summary" in values:
        proposed["summary"] = values["summary"] or ""
    for name in ("speaker", "stated_on"):
        if name in values:
            proposed[name] = values[name]
    identity = {name: proposed.get(name, getattr(statement, name)) for name in IDENTITY}
    if identity != {name: getattr(statement, name) for name in IDENTITY}:
        _refuse_duplicate(session, identity, other_than=statement_id)
    quoted = (statement.source_id, statement.quote_start, statement.quote_end)
    revised = _revise(session, statement, party_slug, issue_slug, proposed, note=note, actor=actor)
    if revised.revision == revision_before:
        return revised  # every value given was the current one: nothing to write
    if (statement.source_id, statement.quote_start, statement.quote_end) != quoted:
        settle_pending(session, statement_id, AnchoringResolution.corrected, actor=actor)
    unit_of_work.commit(session, statements=[statement_id])  # the correction was audited by _revise
    return revised


def move_quote(
    session: Session, statement: Statement, source_id: int, anchor: Anchor, *, note: str, actor: str
) -> None:
    """Points the statement at the same quote in another source, as a new revision, without committing:
    re-anchoring does it for many statements in the transaction that stores the new source, and
    names them when it commits."""
    party, issue = session.get(Party, statement.party_id), session.get(Issue, statement.issue_id)
    assert party is not None and issue is not None  # the foreign keys guarantee them
    proposed = {"source_id": source_id, **anchor_fields(anchor)}
    _revise(session, statement, party.slug, issue.slug, proposed, note=note, actor=actor)


def _revise(
    session: Session,
    statement: Statement,
    party_slug: str,
    issue_slug: str,
    proposed: dict[str, Any],
    *,
    note: str | None,
    actor: str,
) -> StatementPublic:
    """Applies the proposed values as a new revision (none when nothing changes) and audits it; the caller commits."""
    changed = {name: value for name, value in proposed.items() if getattr(statement, name) != value}
    before = to_public(statement, party_slug, issue_slug)
    if not changed:
        return before
    for name, value in changed.items():
        setattr(statement, name, value)
    statement.revision += 1
    statement.recorded_by = actor
    statement.recorded_at = utcnow()
    session.add(statement)
    session.add(_revision_row(statement, note=note))
    after = to_public(statement, party_slug, issue_slug)
    record(session, AuditEntry(actor, AuditEntity.statement, after.id, AuditAction.correct, before, after))
    return after


def _source_for(session: Session, statement: Statement, values: dict[str, Any]) -> Source:
    if values.get("source") is not None:
        return resolve_source(session, values["source"], "source")
    source = session.get(Source, statement.source_id)
    assert source is not None  # the foreign key guarantees it
    return source


def retract_statement(session: Session, statement_id: int, data: StatementRetract, *, actor: str) -> StatementPublic:
    statement, party_slug, issue_slug = _load(session, statement_id)
    if statement.retracted_at is not None:
        raise AlreadyRetracted(f"Statement {statement_id} was already retracted on {statement.retracted_on}.")
    before = to_public(statement, party_slug, issue_slug)
    now = utcnow()
    retracted_on = data.retracted_on or max(now.date(), statement.stated_on)
    if retracted_on < statement.stated_on:
        raise InvalidField(
            "retracted_on",
            f"retracted_on ({retracted_on}) is before the statement's stated_on ({statement.stated_on}).",
        )
    statement.retracted_at = now
    statement.retracted_on = retracted_on
    statement.retracted_by = actor
    statement.retraction_reason = data.reason
    session.add(statement)
    settle_pending(session, statement_id, AnchoringResolution.retracted, actor=actor)
    after = to_public(statement, party_slug, issue_slug)
    unit_of_work.commit(
        session,
        audit=AuditEntry(actor, AuditEntity.statement, statement_id, AuditAction.retract, before, after),
        statements=[statement_id],
    )
    return after


def statement_history(session: Session, statement_id: int) -> StatementHistory:
    statement, party_slug, issue_slug = _load(session, statement_id)
    revisions = session.execute(
        select(StatementRevision)
        .where(col(StatementRevision.statement_id) == statement_id)
        .order_by(col(StatementRevision.revision))
    ).scalars()
    return StatementHistory(
        statement=statement_id,
        party=party_slug,
        issue=issue_slug,
        revisions=[StatementRevisionPublic(note=revision.note, **_revised_values(revision)) for revision in revisions],
        retraction=_retraction(statement),
    )
