"""Bulk import: parties, issues, sources and statements from JSON Lines or CSV, all or nothing.

Every line is held to the rules of the single writes: the same request models, parties and issues
named by slug, each quote anchored in its source's text (app/services/quotes.py). The import runs
in one transaction and reads a line at a time: rows are inserted as their lines are read
(statements in batches), so later lines are checked against earlier ones by the database, and
memory holds a batch, never the file. A refused line, or a dry run, rolls it all back.

Re-running a file writes nothing again. A line is counted as existing when the database already
holds its entry: a party or issue with its slug; a source with its `ref` (without a ref: with its
text and title); a statement that some statement has, or had in an earlier revision, with the same
party, issue, source, quote span, stance and stated_on (the identity of the 409
duplicate-statement check, taken over retracted and corrected statements too, so a re-run never
brings back what an editor retracted or corrected).
"""

import codecs
import csv
import io
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import IO, Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Insert, String, bindparam, cast, func, insert, literal, literal_column, null, select
from sqlmodel import Session, SQLModel, col

from app.errors import AmbiguousQuote, ImportRefused, InvalidField, ProblemError, QuoteNotFound
from app.models.audit import AuditAction, AuditEntity, AuditEvent
from app.models.common import SourceRef, utcnow
from app.models.imports import ImportCounts, ImportKind, ImportReport, SourceLine
from app.models.issue import Issue, IssueCreate
from app.models.party import Party, PartyCreate
from app.models.source import Source
from app.models.statement import Statement, StatementCreate, StatementRevision
from app.services import unit_of_work
from app.services.audit import AuditEntry, record
from app.services.catalog import SlugCatalog
from app.services.issues import issues
from app.services.parties import parties
from app.services.positions import CellKey
from app.services.quotes import locate_quote
from app.services.slugs import slug_from_name, slug_text
from app.services.sources import add_source, resolve_source, text_sha256
from app.services.statements import IDENTITY, REVISED_FIELDS, anchor_fields

# Problems listed before checking stops: a file that is wrong throughout is refused without
# reading the rest of it.
MAX_PROBLEMS = 100
# A line holds at most one source text (1,500,000 characters, each up to 6 bytes as JSON).
MAX_LINE_BYTES = 16 * 1024 * 1024
# Statements inserted per round trip.
STATEMENT_BATCH = 1000
# Slugs, refs and source texts kept at hand; beyond these the database is asked again.
_SLUGS_KEPT = 10_000
_SOURCES_KEPT = 8

# CSV cells are text: these columns are read as lists (items separated by "|") or booleans.
CSV_LIST_SEPARATOR = "|"
_CSV_LISTS = frozenset({"aliases", "keywords"})
_CSV_BOOLEANS = frozenset({"title_is_editorial"})
_CSV_TRUE, _CSV_FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})

_MODELS: dict[ImportKind, type[BaseModel]] = {
    ImportKind.party: PartyCreate,
    ImportKind.issue: IssueCreate,
    ImportKind.source: SourceLine,
    ImportKind.statement: StatementCreate,
}
# The fields a line of each type may have: a CSV file's columns.
FIELDS: dict[ImportKind, tuple[str, ...]] = {
    kind: (*model.model_fields, *(("source_ref",) if kind is ImportKind.statement else ()))
    for kind, model in _MODELS.items()
}
_REF = TypeAdapter(SourceRef)

# Called with the number of lines read so far, every STATEMENT_BATCH lines and at the end of an input.
Progress = Callable[[int], None]
_JSON_DATETIME = TypeAdapter(datetime)


@dataclass(frozen=True)
class Line:
    """One line (CSV: one row) of an import: its type and fields, or why it cannot be read."""

    number: int
    kind: ImportKind | None
    values: dict[str, Any]
    unreadable: tuple[str, str] | None = None  # (field, message)


@dataclass(frozen=True)
class LineProblem:
    line: int
    field: str
    message: str
    type: str
    file: str | None = None

    def as_error(self) -> dict[str, Any]:
        """As a problem's `errors` item (app.models.problem.FieldError)."""
        loc: list[str | int] = ["body", self.line, *(self.field.split(".") if self.field else ())]
        error: dict[str, Any] = {
            "loc": loc,
            "field": self.field,
            "message": self.message,
            "type": self.type,
            "line": self.line,
        }
        if self.file is not None:
            error["file"] = self.file
        return error

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        return f"{place}: {self.field}: {self.message}" if self.field else f"{place}: {self.message}"


class _Refused(Exception):
    """A line breaks these rules: (field, message, type) each."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


# --- reading --------------------------------------------------------------------------------


def _unreadable(number: int, message: str, field_name: str = "") -> Line:
    return Line(number, None, {}, (field_name, message))


def json_lines(stream: IO[bytes]) -> Iterator[Line]:
    """Each non-blank line of a JSON Lines stream, read one at a time."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            while raw and not raw.endswith(b"\n"):  # skip the rest of it
                raw = stream.readline(MAX_LINE_BYTES)
            yield _unreadable(number, f"the line is longer than {MAX_LINE_BYTES} bytes")
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            yield _unreadable(number, f"not valid JSON: {error}")
            continue
        if not isinstance(value, dict):
            yield _unreadable(number, 'a line must be a JSON object, e.g. {"type": "party", ...}')
            continue
        kind = value.pop("type", None)
        if kind not in ImportKind.__members__:
            given = "missing" if kind is None else f"{orjson.dumps(kind).decode()[:60]}"
            yield _unreadable(number, f"must be one of {', '.join(ImportKind)} ({given})", "type")
            continue
        yield Line(number, ImportKind(kind), value)


def csv_rows(stream: IO[bytes], kind: ImportKind) -> Iterator[Line]:
    """Each row of a CSV file whose header names fields of `kind`; an empty cell is a field left out."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_rows(text, kind)
    finally:
        text.detach()  # the stream is the caller's to close


def _csv_rows(text: IO[str], kind: ImportKind) -> Iterator[Line]:
    # Source texts are longer than the csv module's default field limit (128 KiB).
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
    reader = csv.reader(text)
    line_number = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = [name.strip() for name in header]
        for name in columns:
            if name not in FIELDS[kind] or columns.count(name) > 1:
                why = "is given twice" if name in FIELDS[kind] else f"is not a field of a {kind}"
                yield _unreadable(1, f"column {name!r} {why}; the columns are {', '.join(FIELDS[kind])}", name)
                return
        line_number = reader.line_num
        for row in reader:
            first_line, line_number = line_number + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                yield _unreadable(first_line, f"the row has {len(row)} cells and the header {len(columns)}")
                continue
            values = {name: _csv_value(name, cell) for name, cell in zip(columns, row, strict=True) if cell != ""}
            yield Line(first_line, kind, values)
    except UnicodeDecodeError as error:
        yield _unreadable(line_number + 1, f"not UTF-8 text ({error.reason}); nothing after it was read")
    except csv.Error as error:
        yield _unreadable(line_number + 1, f"not CSV ({error}); nothing after it was read")


def _csv_value(name: str, cell: str) -> Any:
    if name in _CSV_LISTS:
        return [item.strip() for item in cell.split(CSV_LIST_SEPARATOR) if item.strip()]
    if name in _CSV_BOOLEANS:
        lowered = cell.strip().lower()
        return True if lowered in _CSV_TRUE else False if lowered in _CSV_FALSE else cell
    return cell


# --- checking and writing -------------------------------------------------------------------


class _Kept(OrderedDict[Any, Any]):
    """A bounded mapping: the least recently used entry goes when it is full."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_kept(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def keep(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


@dataclass(frozen=True)
class _SourceFacts:
    id: int
    text: str
    published_on: date


@dataclass
class _Pending:
    """A statement checked and waiting for its batch to be inserted."""

    row: dict[str, Any]
    party_slug: str
    issue_slug: str


@dataclass
class _State:
    counts: dict[ImportKind, ImportCounts] = field(
        default_factory=lambda: {kind: ImportCounts() for kind in ImportKind}
    )
    problems: list[LineProblem] = field(default_factory=list)
    lines: int = 0
    stopped_early: bool = False
    # Refs of refused source lines, so a statement naming one says why it is unknown (at most MAX_PROBLEMS).
    refused_refs: dict[str, int] = field(default_factory=dict)
    cells: set[CellKey] = field(default_factory=set)
    # New parties and issues, for the search index (statements are indexed batch by batch).
    created: dict[ImportKind, list[int]] = field(default_factory=lambda: {ImportKind.party: [], ImportKind.issue: []})


class Importer:
    """Checks and inserts lines in the session's transaction; `finish` commits or rolls back."""

    def __init__(self, session: Session, *, actor: str) -> None:
        self.session = session
        self.actor = actor
        self.now = utcnow()
        self._now_json = _JSON_DATETIME.dump_python(self.now, mode="json")
        self.state = _State()
        self._ids: dict[ImportKind, _Kept] = {
            ImportKind.party: _Kept(_SLUGS_KEPT),
            ImportKind.issue: _Kept(_SLUGS_KEPT),
        }
        self._refs = _Kept(_SLUGS_KEPT)
        self._sources = _Kept(_SOURCES_KEPT)
        self._pending: list[_Pending] = []
        self._next_statement_id: int | None = None

    # The whole import ------------------------------------------------------------------------

    def read(self, lines: Iterable[Line], *, file: str | None = None, progress: Progress | None = None) -> bool:
        """Checks and stores each line; False once the problem limit stopped it (read no more)."""
        for line in lines:
            self.state.lines += 1
            problems = self._line(line)
            for field_name, message, kind in problems:
                self.state.problems.append(LineProblem(line.number, field_name, message, kind, file))
            if problems and line.kind is not None:
                self.state.counts[line.kind].refused += 1
            if len(self.state.problems) >= MAX_PROBLEMS:
                self.state.stopped_early = True
                return False
            if progress is not None and self.state.lines % STATEMENT_BATCH == 0:
                progress(self.state.lines)
        if progress is not None:
            progress(self.state.lines)
        return True

    def finish(self, *, dry_run: bool) -> ImportReport:
        """Commits what was read, with the effects of every write; or, on a dry run or a
        refused line, rolls it back and raises ImportRefused for the latter."""
        if not self.state.stopped_early:
            self._insert_pending()
        report = self._report(dry_run=dry_run)
        created = any(counts.created for counts in self.state.counts.values())
        if self.state.problems or dry_run or not created:
            # Refused, only checked, or nothing new: not even the data version moves.
            self.session.rollback()
            if self.state.problems:
                raise _refusal(self.state, report)
            return report
        # Each created statement's cell is rebuilt; new parties, issues and sources change no cell.
        unit_of_work.commit(
            self.session,
            cells=self.state.cells,
            parties=self.state.created[ImportKind.party],
            issues=self.state.created[ImportKind.issue],
        )
        return report.model_copy(update={"written": True})

    def _report(self, *, dry_run: bool) -> ImportReport:
        counts = self.state.counts
        return ImportReport(
            dry_run=dry_run,
            written=False,
            lines=self.state.lines,
            stopped_early=self.state.stopped_early,
            parties=counts[ImportKind.party],
            issues=counts[ImportKind.issue],
            sources=counts[ImportKind.source],
            statements=counts[ImportKind.statement],
        )

    def _line(self, line: Line) -> list[tuple[str, str, str]]:
        if line.unreadable is not None:
            return [(*line.unreadable, "malformed-line")]
        assert line.kind is not None  # a readable line has a type
        try:
            if line.kind is ImportKind.statement:
                self._statement(line.values)
            elif line.kind is ImportKind.source:
                self._source(line.values, line.number)
            else:
                self._catalog_entry(line.kind, line.values)
        except _Refused as refused:
            return refused.problems
        except ProblemError as error:
            return [_problem_of(error)]
        return []

    # Parties and issues ----------------------------------------------------------------------

    def _catalog_entry(self, kind: ImportKind, values: dict[str, Any]) -> None:
        catalog: SlugCatalog[Any] = parties if kind is ImportKind.party else issues
        data = _validated(_MODELS[kind], values)
        if data.slug is None:
            # The entry whose slug its name makes (app/services/slugs.py), now or before a rename, is
            # the one the line names: an import run again finds it. Else a new one, its slug made so.
            name = getattr(data, catalog.name_field)
            made = slug_text(name) or str(catalog.model.__tablename__)
            if self._entry_id(kind, catalog, made) is not None:
                self.state.counts[kind].existing += 1
                return
            data = data.model_copy(update={"slug": slug_from_name(self.session, catalog.model, name)})
        if self._entry_id(kind, catalog, data.slug) is not None:
            self.state.counts[kind].existing += 1
            return
        entry = catalog.model(**data.model_dump())
        self.session.add(entry)
        self.session.flush()  # assigns the id statements refer to
        public = catalog.public.model_validate(entry)
        record(
            self.session, AuditEntry(self.actor, AuditEntity(kind.value), entry.slug, AuditAction.create, after=public)
        )
        self._ids[kind].keep(entry.slug, entry.id)
        self.state.created[kind].append(entry.id)
        self.state.counts[kind].created += 1

    def _entry_id(self, kind: ImportKind, catalog: SlugCatalog[Any], slug: str) -> int | None:
        known = self._ids[kind].get_kept(slug)
        if known is None:
            entry = catalog.find(self.session, slug)
            # A former slug names its entry too: a file imported before a rename imports again as it was.
            known = entry.id if entry is not None else catalog.formerly_id(self.session, slug)
            if known is not None:
                self._ids[kind].keep(slug, known)
        return known

    def _slug_id(self, kind: ImportKind, slug: str, field_name: str) -> int:
        catalog: SlugCatalog[Any] = parties if kind is ImportKind.party else issues
        known = self._entry_id(kind, catalog, slug)
        if known is None:
            raise InvalidField(
                field_name,
                f"No {kind} has the slug '{slug}'; create it first (on an earlier line, or through the API) or fix the slug.",
            )
        return known

    # Sources ---------------------------------------------------------------------------------

    def _source(self, values: dict[str, Any], number: int) -> None:
        try:
            data = _validated(SourceLine, values)
        except _Refused:
            if isinstance(ref := values.get("ref"), str):
                self._refuse_ref(ref, number)
            raise
        problems = _source_line_problems(data)
        if problems:
            if data.ref is not None:
                self._refuse_ref(data.ref, number)
            raise _Refused(problems)
        assert data.text is not None and data.published_at is not None  # checked just above
        digest = text_sha256(data.text)
        if data.ref is not None:
            stored = self.session.execute(
                select(col(Source.id), col(Source.sha256)).where(col(Source.ref) == data.ref)
            ).first()
            if stored is not None and stored.sha256 != digest:
                raise _Refused(
                    [
                        (
                            "ref",
                            f"The ref {data.ref!r} is source {stored.id}, whose text differs from this line's; "
                            "give a new document (or a new version) a ref of its own.",
                            "conflict",
                        )
                    ]
                )
        else:
            stored = self.session.execute(
                select(col(Source.id))
                .where(col(Source.sha256) == digest, col(Source.title) == data.title)
                .order_by(col(Source.id))
                .limit(1)
            ).first()
        if stored is not None:
            self.state.counts[ImportKind.source].existing += 1
            return
        source = add_source(self.session, data, actor=self.actor)
        assert source.id is not None  # flushed by add_source
        if data.ref is not None:
            self._refs.keep(data.ref, source.id)
        self._sources.keep(source.id, _SourceFacts(source.id, data.text, data.published_at.date()))
        self.state.counts[ImportKind.source].created += 1

    def _refuse_ref(self, ref: str, number: int) -> None:
        if len(self.state.refused_refs) < MAX_PROBLEMS:
            self.state.refused_refs[ref] = number

    def _source_by_id(self, source_id: int, field_name: str) -> _SourceFacts:
        facts: _SourceFacts | None = self._sources.get_kept(source_id)
        if facts is None:
            source = resolve_source(self.session, source_id, field_name)
            facts = _SourceFacts(source_id, source.text, source.published_at.date())
            self._sources.keep(source_id, facts)
            self.session.expunge(source)  # its text is kept here, bounded, not in the session too
        return facts

    def _source_by_ref(self, ref: Any) -> _SourceFacts:
        try:
            ref = _REF.validate_python(ref)
        except ValidationError as error:
            raise _Refused(_validation_problems(error, prefix="source_ref")) from None
        source_id = self._refs.get_kept(ref)
        if source_id is None:
            source_id = self.session.execute(select(col(Source.id)).where(col(Source.ref) == ref)).scalar_one_or_none()
        if source_id is None:
            refused = self.state.refused_refs.get(ref)
            why = f"line {refused}, which gives it, was refused" if refused else "give it on an earlier source line"
            raise InvalidField("source_ref", f"No source has the ref {ref!r} ({why}).")
        self._refs.keep(ref, source_id)
        return self._source_by_id(source_id, "source_ref")

    # Statements ------------------------------------------------------------------------------

    def _statement(self, values: dict[str, Any]) -> None:
        problems: list[tuple[str, str, str]] = []
        source: _SourceFacts | None = None
        if "source_ref" in values:
            values = dict(values)
            ref = values.pop("source_ref")
            if "source" in values:
                problems.append(
                    ("source_ref", "Give the source by `source` (its id) or by `source_ref`, not both.", "value_error")
                )
            else:
                try:
                    source = self._source_by_ref(ref)
                except _Refused as refused:
                    problems += refused.problems
                except ProblemError as error:
                    problems.append(_problem_of(error))
                # StatementCreate checks every other field; the source is the one the ref named.
                values["source"] = source.id if source is not None else 1
        elif "source" not in values:
            problems.append(
                ("source", "Field required: the source's id as `source`, or its ref as `source_ref`.", "missing")
            )
            values = {**values, "source": 1}  # so every other field is checked all the same
        try:
            data = _validated(StatementCreate, values)
        except _Refused as refused:
            raise _Refused(problems + refused.problems) from None
        ids: dict[str, int] = {}
        for kind, field_name, slug in (
            (ImportKind.party, "party", data.party),
            (ImportKind.issue, "issue", data.issue),
        ):
            try:
                ids[field_name] = self._slug_id(kind, slug, field_name)
            except ProblemError as error:
                problems.append(_problem_of(error))
        if source is None and not problems:
            try:
                source = self._source_by_id(data.source, "source")
            except ProblemError as error:
                problems.append(_problem_of(error))
        if problems or source is None:
            raise _Refused(problems)
        anchor = locate_quote(source.text, data.quote, source_id=source.id, start=data.start, prefix=data.prefix)
        row = {
            "party_id": ids["party"],
            "issue_id": ids["issue"],
            "source_id": source.id,
            "stance": data.stance.value,
            "summary": data.summary or "",
            "speaker": data.speaker,
            "stated_on": data.stated_on or source.published_on,
            "revision": 1,
            "recorded_by": self.actor,
            "recorded_at": self.now,
            "created_at": self.now,
            "retracted_at": None,
            "retracted_on": None,
            "retracted_by": None,
            "retraction_reason": None,
            **anchor_fields(anchor),
        }
        self._pending.append(_Pending(row, data.party, data.issue))
        if len(self._pending) >= STATEMENT_BATCH:
            self._insert_pending()

    def _insert_pending(self) -> None:
        """Inserts the batch's statements that no stored one already records, with their first
        revision and audit events."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        counts = self.state.counts[ImportKind.statement]
        recorded = _recorded_identities(self.session, [item.row for item in pending])
        new: list[_Pending] = []
        for item in pending:
            identity = tuple(item.row[name] for name in IDENTITY)
            if identity in recorded:
                counts.existing += 1
                continue
            recorded.add(identity)  # the same statement twice in a file is one statement
            new.append(item)
        if not new:
            return
        connection = self.session.connection()
        statement_ids = self._new_statement_ids(len(new))
        connection.execute(
            insert(Statement),
            [{"id": statement_id, **item.row} for statement_id, item in zip(statement_ids, new, strict=True)],
        )
        connection.execute(_FIRST_REVISIONS, {"statement_ids": statement_ids})
        connection.execute(
            _creation_events(connection.dialect.name),
            {"statement_ids": statement_ids, "recorded_at": self._now_json, "actor": self.actor},
        )
        self.state.cells.update((item.row["party_id"], item.row["issue_id"]) for item in new)
        unit_of_work.statements_inserted(self.session, zip(statement_ids, (item.row for item in new), strict=True))
        counts.created += len(new)

    def _new_statement_ids(self, count: int) -> list[int]:
        """Ids for statements about to be inserted. Given up front, so the batch is one executemany
        (an insert returning its ids goes row by row on SQLite): from the id sequence on PostgreSQL,
        and after the largest id on SQLite, whose write lock this transaction holds."""
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            sequence = func.nextval(func.pg_get_serial_sequence("statement", "id"))
            return list(connection.execute(select(sequence).select_from(func.generate_series(1, count))).scalars())
        if self._next_statement_id is None:
            largest = connection.execute(select(func.max(col(Statement.id)))).scalar_one()
            self._next_statement_id = (largest or 0) + 1
        first = self._next_statement_id
        self._next_statement_id = first + count
        return list(range(first, first + count))


# Each new statement's first revision, copied from the statement in SQL.
_REVISION_COLUMNS = ("statement_id", "revision", "recorded_by", "recorded_at", *REVISED_FIELDS)
_FIRST_REVISIONS = insert(StatementRevision).from_select(
    _REVISION_COLUMNS,
    select(
        col(Statement.id),
        col(Statement.revision),
        col(Statement.recorded_by),
        col(Statement.recorded_at),
        *(getattr(Statement, name) for name in REVISED_FIELDS),
    ).where(col(Statement.id).in_(bindparam("statement_ids", expanding=True))),
)


@lru_cache(maxsize=2)
def _creation_events(dialect: str) -> Insert:
    """The audit events of the new statements, each with the statement as GET /v1/statements/{id}
    shows it (StatementPublic) built in SQL: its JSON is the database's, not a serialiser's per row."""
    json_object = func.json_build_object if dialect == "postgresql" else func.json_object

    def text(name: str) -> Any:  # typed, so PostgreSQL knows what a parameter in a JSON builder is
        return cast(bindparam(name, type_=String), String)

    def members(*pairs: tuple[str, Any]) -> list[Any]:
        flat: list[Any] = []
        for key, value in pairs:
            flat += [literal_column(f"'{key}'"), value]
        return flat

    selector = json_object(
        *members(
            ("start", col(Statement.quote_start)),
            ("end", col(Statement.quote_end)),
            ("prefix", col(Statement.quote_prefix)),
            ("suffix", col(Statement.quote_suffix)),
        )
    )
    snapshot = json_object(
        *members(
            ("id", col(Statement.id)),
            ("party", col(Party.slug)),
            ("issue", col(Issue.slug)),
            ("source", col(Statement.source_id)),
            ("stance", col(Statement.stance)),
            ("summary", col(Statement.summary)),
            ("quote", col(Statement.quote)),
            ("selector", selector),
            ("speaker", col(Statement.speaker)),
            ("stated_on", col(Statement.stated_on)),
            ("revision", col(Statement.revision)),
            ("recorded_by", col(Statement.recorded_by)),
            ("recorded_at", text("recorded_at")),
            ("created_at", text("recorded_at")),
            ("retraction", null()),
        )
    )
    return insert(AuditEvent).from_select(
        ("at", "actor", "entity", "entity_id", "action", "after"),
        select(
            col(Statement.recorded_at),
            text("actor"),
            cast(literal(AuditEntity.statement.value), String),
            cast(col(Statement.id), String),
            cast(literal(AuditAction.create.value), String),
            snapshot,
        )
        .join(Party, col(Party.id) == col(Statement.party_id))
        .join(Issue, col(Issue.id) == col(Statement.issue_id))
        .where(col(Statement.id).in_(bindparam("statement_ids", expanding=True)))
        .order_by(col(Statement.id)),
    )


_RECORDED = (
    select(
        col(Statement.party_id),
        col(Statement.issue_id),
        col(StatementRevision.source_id),
        col(StatementRevision.quote_start),
        col(StatementRevision.quote_end),
        col(StatementRevision.stance),
        col(StatementRevision.stated_on),
    )
    .join(Statement, col(Statement.id) == col(StatementRevision.statement_id))
    .where(
        col(StatementRevision.source_id).in_(bindparam("source_ids", expanding=True)),
        col(StatementRevision.quote_start).in_(bindparam("starts", expanding=True)),
    )
)


def _recorded_identities(session: Session, rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """The identities (IDENTITY's values) that stored statements have or had, among those
    quoting the rows' sources at the rows' offsets: one query per batch."""
    found = session.execute(
        _RECORDED,
        {
            "source_ids": sorted({row["source_id"] for row in rows}),
            "starts": sorted({row["quote_start"] for row in rows}),
        },
    )
    return {tuple(row) for row in found}


def _source_line_problems(data: SourceLine) -> list[tuple[str, str, str]]:
    problems = []
    if data.text is None:
        problems.append(
            ("text", "Field required: an import stores the text it is given and fetches no page.", "missing")
        )
    problems += [
        (name, "Field required with `text`", "missing")
        for name in ("title", "published_at")
        if getattr(data, name) is None
    ]
    if data.supersedes is not None:
        problems.append(
            (
                "supersedes",
                "An import stores documents, not new versions of stored ones: POST a new version to /v1/sources, "
                "which re-anchors the quotes of the version it supersedes.",
                "value_error",
            )
        )
    return problems


def _validated(model: type[SQLModel] | type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise _Refused(_validation_problems(error)) from None


def _validation_problems(error: ValidationError, prefix: str = "") -> list[tuple[str, str, str]]:
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        problems.append((name, item["msg"], item["type"]))
    return problems


def _problem_of(error: ProblemError) -> tuple[str, str, str]:
    """A service's problem as a line's: the field it names (quotes are the `quote` field's)."""
    if isinstance(error, InvalidField):
        field_name = error.field
    else:
        field_name = "quote" if isinstance(error, QuoteNotFound | AmbiguousQuote) else ""
    detail = error.detail
    if isinstance(error, AmbiguousQuote):
        starts = ", ".join(str(occurrence["start"]) for occurrence in error.extensions["occurrences"])
        detail = f"{detail} (starts: {starts})"
    return field_name, detail, error.type_name


def _refusal(state: _State, report: ImportReport) -> ImportRefused:
    problems = state.problems
    refused_lines = len({(problem.file, problem.line) for problem in problems})
    shown = "; ".join(str(problem).rstrip(".") for problem in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    stopped = (
        f" Checking stopped at the limit of {MAX_PROBLEMS} problems, after line {problems[-1].line}."
        if state.stopped_early
        else ""
    )
    return ImportRefused(
        f"{refused_lines} line(s) refused, nothing was written: {shown}{more}.{stopped}",
        errors=[problem.as_error() for problem in problems],
        report=report.model_dump(mode="json"),
    )


def run_import(
    session: Session,
    inputs: Iterable[tuple[str | None, Iterable[Line]]],
    *,
    actor: str,
    dry_run: bool,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports the lines of each input (a name for its problems, and its lines) in order, as one
    import: all of them are written, or none. Raises ImportRefused listing the problems."""
    importer = Importer(session, actor=actor)
    for name, lines in inputs:
        if not importer.read(lines, file=name, progress=progress):
            break
    return importer.finish(dry_run=dry_run)
