"""Integrity: the invariants every stored row keeps, checked on a live database and on a dump
being imported, by the same rules.

The API keeps them by construction: every value comes through a request model's field rules,
every quote is anchored in its source text, every correction adds a revision row. Rows that
reach the database any other way (an import, SQL typed by hand, a restored file) are held to the
same rules here: the API models' own field rules, each row's references, each quote against its
source's text, each source's SHA-256, the retraction fields, the revision rows against their
statement, and the stored position history against a fresh rebuild.
"""

import enum
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import JSON, String, Table, and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlmodel import SQLModel, col

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from app.models.anchoring import AnchoringOutcome, AnchoringResolution
from app.models.audit import AuditAction, AuditEntity, AuditSnapshot
from app.models.common import MAX_ID, Slug, bounded
from app.models.data_version import DataVersion
from app.models.issue import IssueCreate
from app.models.party import PartyCreate
from app.models.source import SourceCreate
from app.models.statement import (
    StatementRetract,
    StatementUpdate,
)
from app.models.token import TokenScope
from app.services import position_history, schema
from app.services.quotes import anchor_at
from app.services.sources import text_sha256

# Every stored table, parents before children: rows are checked (and dumped) in this order, so a
# reference is always to a row already seen.
TABLES = (
    "party",
    "issue",
    "party_former_slug",
    "issue_former_slug",
    "source",
    "statement",
    "statement_revision",
    "anchoring",
    "api_token",
    "audit_event",
    "data_version",
)
# Derived from the tables above and rebuilt from them, so never dumped nor checked row by row.
# So is the search index (app/services/search_index.py), which no model describes.
DERIVED_TABLES = ("position_span", "position_cell", "projection")
# Answers kept for a day to replay retried POSTs: not part of the record, so never dumped.
TRANSIENT_TABLES = ("idempotency_key",)
# The change feed and the webhooks sending it describe this database's writes, not the record:
# never dumped, so a restored database starts a feed of its own.
FEED_TABLES = ("change_event", "webhook", "webhook_delivery")

# Columns stored as plain strings that the API fills only from an enumeration, where no request
# model checks them (the models check stances and kinds).
ENUMERATED: dict[tuple[str, str], type[enum.StrEnum]] = {
    ("anchoring", "outcome"): AnchoringOutcome,
    ("anchoring", "resolution"): AnchoringResolution,
    ("api_token", "scope"): TokenScope,
    ("audit_event", "entity"): AuditEntity,
    ("audit_event", "action"): AuditAction,
}

# No snapshot the API records nests deeper; serialising a much deeper value would recurse.
MAX_JSON_DEPTH = 32
SHOWN_CHARS = 60  # of a stored value quoted in a problem


@dataclass(frozen=True)
class Problem:
    """One broken invariant: which table and row, which column (if one), and the rule."""

    table: str
    row: str  # "id 7", or what identifies a derived row
    column: str | None
    rule: str

    def describe(self, row_number: int | None = None) -> str:
        """One line; `row_number` is the row's position in a dump, when it comes from one."""
        row = self.row if row_number is None else f"row {row_number} ({self.row})"
        column = f", column {self.column}" if self.column else ""
        return f"table {self.table}, {row}{column}: {self.rule}"

    def __str__(self) -> str:
        return self.describe()


class OutdatedSchema(Exception):
    """The database is not at the schema revision this code checks against."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


# A row as a dump line gives it, or as the database does (a mapping that takes Column keys too).
RowValues = Mapping[str, Any] | RowMapping


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


@dataclass(frozen=True)
class _ApiFields:
    """The request model whose fields a table's columns are written from (field name: column)."""

    model: type[BaseModel]
    columns: dict[str, str]
    # Columns the API stores as "" when the optional field is left out.
    empty_when_omitted: frozenset[str] = frozenset()


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


_REVISED = {"source": "source_id", **_same("stance", "summary", "speaker", "stated_on")}
_API_FIELDS: dict[str, _ApiFields] = {
    "party": _ApiFields(PartyCreate, _same("slug", "name", "kind", "description", "aliases")),
    "issue": _ApiFields(IssueCreate, _same("slug", "title", "proposition", "description", "keywords")),
    "source": _ApiFields(
        SourceCreate,
        {
            **_same("title", "title_is_editorial", "publisher", "kind", "language", "url", "published_at"),
            **_same("retrieved_at", "text"),
            "supersedes": "supersedes_id",
        },
    ),
    "statement": _ApiFields(StatementUpdate, _REVISED, frozenset({"summary"})),
    "statement_revision": _ApiFields(StatementUpdate, {**_REVISED, "note": "note"}, frozenset({"summary"})),
}
# Former slugs, and the table whose current slugs they must not be.
_FORMER_SLUG_OF = {"party_former_slug": "party", "issue_former_slug": "issue"}
_SLUG = TypeAdapter(Slug)
_RETRACTION = ("retracted_at", "retracted_on", "retracted_by", "retraction_reason")
_RESOLUTION = ("resolution", "resolved_at", "resolved_by")
_SNAPSHOT = TypeAdapter(AuditSnapshot | None)  # the type of AuditEventPublic.after
_STORABLE = TypeAdapter(bounded(sys.maxsize))


def _error_rule(error: ValidationError) -> tuple[tuple[Any, ...], str]:
    """The first error's location and message, without pydantic's "Value error, " prefix."""
    first = error.errors()[0]
    return tuple(first["loc"]), first["msg"].removeprefix("Value error, ")


def _json_problem(value: Any) -> str | None:
    """Why a JSON column's value could not be stored and served again, if it could not."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"nests deeper than {MAX_JSON_DEPTH} levels"
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
        elif isinstance(item, str):
            try:
                _STORABLE.validate_python(item)
            except ValidationError as error:
                return _error_rule(error)[1]
        elif isinstance(item, float) and not math.isfinite(item):
            return "holds NaN or Infinity, which JSON cannot carry"
    return None


def quote_problems(row: RowValues, text: str, source_id: int) -> list[tuple[str, str]]:
    """(column, rule) for each way the row's quote fields disagree with its source's text: the
    anchor the API stores is `quotes.anchor_at(text, start, end)`, and nothing else."""
    start, end = row["quote_start"], row["quote_end"]
    if start < 0:
        return [("quote_start", f"is negative ({start})")]
    if start >= end:
        return [("quote_start", f"is not before quote_end ({start} >= {end})")]
    if end > len(text):
        return [("quote_end", f"is past the end of source {source_id}'s text ({end} > {len(text)} characters)")]
    anchor = anchor_at(text, start, end)
    found = []
    if anchor.exact != row["quote"]:
        found.append(
            ("quote", f"is not source {source_id}'s text at {start}:{end}, which reads {_shown(anchor.exact)}")
        )
    if anchor.prefix != row["quote_prefix"]:
        found.append(
            ("quote_prefix", f"is not the text before the quote in source {source_id} ({_shown(anchor.prefix)})")
        )
    if anchor.suffix != row["quote_suffix"]:
        found.append(
            ("quote_suffix", f"is not the text after the quote in source {source_id} ({_shown(anchor.suffix)})")
        )
    return found


@dataclass
class _Seen:
    """What later rows are checked against: ids per table, unique values, and source texts."""

    ids: dict[str, set[int]] = field(default_factory=lambda: {name: set() for name in TABLES})
    unique: dict[tuple[str, str], set[Any]] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)


class RowChecker:
    """Checks rows one at a time; feed it every table in TABLES order, each in id order."""

    def __init__(self) -> None:
        self._seen = _Seen()
        self._strings = {
            name: {
                column.name: TypeAdapter(bounded(column.type.length or sys.maxsize))
                for column in _table(name).columns
                if isinstance(column.type, String)
            }
            for name in TABLES
        }

    def problems(self, table: str, row: RowValues) -> list[Problem]:
        """Every rule the row breaks; an empty list for a good row."""
        key = f"id {row['id']}"
        if table == "source" and isinstance(row["text"], str):
            self._seen.texts[row["id"]] = row["text"]
        found = [Problem(table, key, column, rule) for column, rule in self._column_problems(table, row)]
        if not found:  # the rules between columns assume each column is valid on its own
            found = [Problem(table, key, column, rule) for column, rule in self._row_problems(table, row)]
        self._seen.ids[table].add(row["id"])
        return found

    def _column_problems(self, table: str, row: RowValues) -> Iterator[tuple[str, str]]:
        columns = _table(table).columns
        if table == DataVersion.__tablename__:
            if row["id"] != 1:
                yield "id", "must be 1: the data version is one row"
        elif not 1 <= row["id"] <= MAX_ID:
            yield "id", f"must be between 1 and {MAX_ID}"
        elif row["id"] in self._seen.ids[table]:
            yield "id", "is not unique"
        for name, adapter in self._strings[table].items():
            if row[name] is not None:
                try:
                    adapter.validate_python(row[name])
                except ValidationError as error:
                    yield name, _error_rule(error)[1]
        for column in columns:
            value = row[column.name]
            if value is None:
                continue
            if isinstance(column.type, JSON) and (problem := _json_problem(value)):
                yield column.name, problem
            for foreign_key in column.foreign_keys:
                referred = foreign_key.column.table.name
                if value not in self._seen.ids[referred]:
                    yield column.name, f"refers to {referred} {value}, which does not exist (before this row)"
            if column.unique:
                taken = self._seen.unique.setdefault((table, column.name), set())
                if value in taken:
                    yield column.name, f"is not unique ({_shown(value)})"
                taken.add(value)
            if (allowed := ENUMERATED.get((table, column.name))) and value not in set(allowed):
                yield column.name, f"{_shown(value)} is not one of {', '.join(allowed)}"
        yield from self._api_field_problems(table, row)

    def _api_field_problems(self, table: str, row: RowValues) -> Iterator[tuple[str, str]]:
        """The request model's own rules, and that the value is stored as the API stores it."""
        fields = _API_FIELDS.get(table)
        if fields is None:
            return
        given = {
            name: (None if column in fields.empty_when_omitted and row[column] == "" else row[column])
            for name, column in fields.columns.items()
        }
        try:
            validated = fields.model.model_validate(given)
        except ValidationError as error:
            location, message = _error_rule(error)
            column = fields.columns.get(str(location[0]), str(location[0]))
            item = f", item {location[1]}" if len(location) > 1 else ""
            yield column, f"{message} (stored value {_shown(row.get(column))}{item})"
            return
        for name, column in fields.columns.items():
            value = getattr(validated, name)
            # Trimmed text: the API stores what its field rules make of a value (no outer spaces).
            if isinstance(value, str | list) and value != given[name]:
                yield column, f"is stored as {_shown(given[name])}, but the API stores {_shown(value)}"

    def _row_problems(self, table: str, row: RowValues) -> Iterator[tuple[str, str]]:
        if table == "source":
            if row["sha256"] != text_sha256(row["text"]):
                yield "sha256", "is not the SHA-256 of the source's text (UTF-8, lowercase hex)"
        elif table in ("statement", "statement_revision"):
            yield from quote_problems(row, self._seen.texts[row["source_id"]], row["source_id"])
            if table == "statement":
                yield from _retraction_problems(row)
        elif table == "anchoring":
            yield from _set_together(row, _RESOLUTION)
            if row["similarity"] is not None and not 0 <= row["similarity"] <= 1:
                yield "similarity", f"must be between 0 and 1 ({row['similarity']})"
        elif table == "audit_event":
            for name in ("before", "after"):
                try:
                    _SNAPSHOT.validate_python(row[name])
                except ValidationError as error:
                    yield name, f"must be an object or null: {_error_rule(error)[1]}"
        elif table in _FORMER_SLUG_OF:
            try:
                _SLUG.validate_python(row["slug"])
            except ValidationError as error:
                yield "slug", f"{_error_rule(error)[1]} (stored value {_shown(row['slug'])})"
                return
            owner = _FORMER_SLUG_OF[table]
            if row["slug"] in self._seen.unique.get((owner, "slug"), set()):
                yield "slug", f"is the current slug of a {owner}: a former slug is no other {owner}'s, nor its own"
        elif table == "api_token":
            if len(row["token_sha256"]) != 64 or set(row["token_sha256"]) - set("0123456789abcdef"):
                yield "token_sha256", "is not a SHA-256 (64 lowercase hex digits)"
        elif table == "data_version" and row["version"] < 1:
            yield "version", "must be at least 1"


def _set_together(row: RowValues, names: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    given = [name for name in names if row[name] is not None]
    if given and len(given) < len(names):
        missing = next(name for name in names if row[name] is None)
        yield missing, f"is null while {given[0]} is set: {', '.join(names)} are set together"


def _retraction_problems(row: RowValues) -> Iterator[tuple[str, str]]:
    problems = list(_set_together(row, _RETRACTION))
    yield from problems
    if problems or row["retracted_at"] is None:
        return
    try:
        StatementRetract.model_validate({"reason": row["retraction_reason"], "retracted_on": row["retracted_on"]})
    except ValidationError as error:
        location, message = _error_rule(error)
        yield ("retraction_reason" if location[0] == "reason" else "retracted_on"), message
        return
    if row["retracted_on"] < row["stated_on"]:
        yield "retracted_on", f"is before stated_on ({row['retracted_on']} < {row['stated_on']})"


# --- rules between a statement and its revision rows, in SQL: no statement is held in memory ----

_STATEMENT, _REVISION = _table("statement"), _table("statement_revision")
# What a revision row records of its statement: every column the two tables share but their own.
REVISED_COLUMNS = tuple(
    column.name for column in _REVISION.c if column.name in _STATEMENT.c and column.name not in ("id", "revision")
)


def revision_problems(connection: Connection) -> Iterator[Problem]:
    """Each statement's revision rows are numbered 1..n, n is the statement's revision, and
    revision n holds the statement's current values."""
    numbering = (
        select(
            _REVISION.c.statement_id,
            func.count().label("rows"),
            func.min(_REVISION.c.revision).label("first"),
            func.max(_REVISION.c.revision).label("last"),
        )
        .group_by(_REVISION.c.statement_id)
        .subquery()
    )
    misnumbered = (
        select(_STATEMENT.c.id, _STATEMENT.c.revision, numbering.c.rows, numbering.c.first, numbering.c.last)
        .outerjoin(numbering, numbering.c.statement_id == _STATEMENT.c.id)
        .where(
            or_(
                numbering.c.statement_id.is_(None),
                numbering.c.last != _STATEMENT.c.revision,
                numbering.c.first != 1,
                numbering.c.rows != numbering.c.last,
            )
        )
        .order_by(_STATEMENT.c.id)
    )
    for row in connection.execute(misnumbered):
        key = f"id {row.id}"
        if row.rows is None:
            yield Problem(
                "statement", key, "revision", "has no statement_revision rows (every statement has one per revision)"
            )
        elif row.last != row.revision:
            yield Problem(
                "statement", key, "revision", f"is {row.revision}, but its highest statement_revision is {row.last}"
            )
        else:
            yield Problem(
                "statement", key, "revision",
                f"its statement_revision rows are not numbered 1 to {row.last}: {row.rows} row(s), the first numbered {row.first}",
            )  # fmt: skip
    differs = [_STATEMENT.c[name].is_distinct_from(_REVISION.c[name]) for name in REVISED_COLUMNS]
    latest = (
        select(
            _STATEMENT.c.id,
            _REVISION.c.id.label("revision_id"),
            *(d.label(n) for d, n in zip(differs, REVISED_COLUMNS, strict=True)),
        )
        .join(
            _REVISION, and_(_REVISION.c.statement_id == _STATEMENT.c.id, _REVISION.c.revision == _STATEMENT.c.revision)
        )
        .where(or_(*differs))
        .order_by(_STATEMENT.c.id)
    )
    for differing in connection.execute(latest).mappings():
        for name in REVISED_COLUMNS:
            if differing[name]:
                yield Problem(
                    "statement_revision", f"id {differing['revision_id']}", name,
                    f"differs from statement {differing['id']}'s {name}: the latest revision holds the statement's current values",
                )  # fmt: skip


def position_history_problems(connection: Connection) -> Iterator[Problem]:
    """The stored position history against one rebuilt from scratch, in a savepoint rolled back."""
    stored_format = position_history.stored_format(connection)
    if stored_format != position_history.FORMAT:
        yield Problem(
            "projection", "name position_span", "format",
            f"is {stored_format}, not {position_history.FORMAT}: run `stancemap migrate` to rebuild the position history",
        )  # fmt: skip
        return
    stored = {span[:3]: span[3:] for span in position_history.readable_spans(connection)}
    savepoint = connection.begin_nested()
    try:
        position_history.rebuild_all(connection)
        rebuilt = {span[:3]: span[3:] for span in position_history.readable_spans(connection)}
    finally:
        savepoint.rollback()
    for cell_day in sorted(stored.keys() | rebuilt.keys()):
        party_id, issue_id, day = cell_day
        key = f"party {party_id}, issue {issue_id}, from {day}"
        if cell_day not in rebuilt:
            yield Problem("position_span", key, None, "is not in a rebuilt position history")
        elif cell_day not in stored:
            yield Problem("position_span", key, None, "is missing: a rebuilt position history has it")
        elif stored[cell_day][0] != rebuilt[cell_day][0]:
            yield Problem(
                "position_span",
                key,
                "statement_id",
                f"is {stored[cell_day][0]}, a rebuild gives {rebuilt[cell_day][0]}",
            )
        elif stored[cell_day][1] != rebuilt[cell_day][1]:
            yield Problem("position_span", key, "cell", "differs from the cell a rebuild renders")


@dataclass
class Report:
    rows: dict[str, int]
    spans: int
    problems: list[Problem]


def check_database(engine: Engine) -> Report:
    """Every invariant of every row, in one transaction that writes wait for and that is rolled back."""
    current, head = schema.current_revision(engine), schema.head_revision()
    if current != head:
        raise OutdatedSchema(
            f"the database is at schema revision {current or 'none'}, not {head}; run `stancemap migrate` first"
        )
    checker = RowChecker()
    problems: list[Problem] = []
    rows: dict[str, int] = {}
    with engine.connect() as connection, connection.begin() as transaction:
        # A write that changes nothing takes the lock every writer takes first (SQLite's write
        # lock, the row's lock on PostgreSQL): rows written mid-check would look inconsistent.
        connection.execute(update(DataVersion).where(col(DataVersion.id) == 1).values(version=DataVersion.version))
        for name in TABLES:
            table = _table(name)
            query = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=1000)
            rows[name] = 0
            for row in connection.execute(query).mappings():
                problems.extend(checker.problems(name, row))
                rows[name] += 1
        problems.extend(revision_problems(connection))
        problems.extend(position_history_problems(connection))
        spans = connection.execute(select(func.count()).select_from(_table("position_span"))).scalar_one()
        transaction.rollback()
    return Report(rows=rows, spans=spans, problems=problems)
