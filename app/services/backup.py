"""Backup and restore: the whole database as JSON Lines, and back.

A dump is UTF-8 text with one JSON object on each line. The first line is the header:

    {"format": "stancemap-dump", "format_version": 2, "schema_revision": "0011",
     "exported_at": "2026-12-06T21:00:00.000000Z", "row_counts": {"party": 5, "issue": 9, ...}}

and every other line is one row, named by its table:

    {"table": "party", "row": {"id": 2, "slug": "ukraine", "name": "Ukraine", ...}}

Tables come in foreign-key order (TABLE_ORDER), each table's rows together and in primary-key
order, ids included; a table without rows has no line, and the header's row counts say how many
each has. Dates are ISO 8601, timestamps in UTC with a trailing Z. The derived position history
and search index, and the transient idempotency keys, are left out.

Both directions stream: export writes a row at a time as it reads it, and import reads a line at a
time with `json.loads`. Import holds every row to the rules the API's writes keep
(app/services/integrity.py) before inserting it, so it keeps only the source texts in memory, to
check quotes against. Format 1, one JSON document written by earlier releases, is refused with the
way to convert it: those releases read it, and `stancemap migrate` carries their database forward.
"""

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from operator import itemgetter
from typing import IO, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from app.models.common import MAX_DATE, MIN_DATE, utcnow
from app.models.data_version import DataVersion
from app.services import integrity, position_history, schema, search_index

FORMAT = "stancemap-dump"
FORMAT_VERSION = 2
# How a dump of format 1 (one JSON document) began: the header's fields, its brace left open.
FORMAT_1_START = '{"format": "stancemap-dump", "format_version": 1,'
# Parents before children, so rows can be inserted in this order with every foreign key checked.
TABLE_ORDER = integrity.TABLES
HEADER_FIELDS = ("format", "format_version", "schema_revision", "exported_at", "row_counts")

# Rows are inserted in batches of this many, or fewer when their lines get this long: source
# texts can be megabytes each.
BATCH_ROWS = 500
BATCH_CHARS = 8_000_000

# Called with a table's name, the rows done so far and the table's total.
Progress = Callable[[str, int, int], None]


class BackupError(Exception):
    """A dump that cannot be written or loaded; the message says why and what to do."""


@dataclass
class ImportSummary:
    rows: dict[str, int]
    data_version: int


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


# --- export ---------------------------------------------------------------------------------


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _json_safe(value: Any) -> Any:
    # datetime first: it is a subclass of date.
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json(value: Any) -> bytes:
    # Not ASCII-escaped: texts stay readable and compact; the dump is always UTF-8.
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _require_head(engine: Engine) -> str:
    current, head = schema.current_revision(engine), schema.head_revision()
    if current is None or current != head:
        raise BackupError(
            f"the database is at schema revision {current or 'none'}, not {head}; run `stancemap migrate` first"
        )
    return current


def _snapshot_connection(engine: Engine) -> Connection:
    """A connection whose one transaction sees every table as of the same moment.

    SQLite's read transaction already is such a snapshot; PostgreSQL needs REPEATABLE READ, or
    rows committed while the dump is written could show up in some tables and not others.
    """
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return connection


def export_dump(engine: Engine, out: IO[bytes], *, progress: Progress | None = None) -> dict[str, int]:
    """Writes the dump to `out` as UTF-8 and returns the rows written per table."""
    revision = _require_head(engine)
    with _snapshot_connection(engine) as connection, connection.begin():
        counts = {
            name: connection.execute(select(func.count()).select_from(_table(name))).scalar_one()
            for name in TABLE_ORDER
        }
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_revision": revision,
            "exported_at": _iso_utc(utcnow()),
            "row_counts": counts,
        }
        out.write(_json(header) + b"\n")
        for name in TABLE_ORDER:
            _export_table(connection, _table(name), counts[name], out, progress)
        out.flush()
    return counts


def _export_table(connection: Connection, table: Table, total: int, out: IO[bytes], progress: Progress | None) -> None:
    done = 0
    # yield_per streams (a server-side cursor on PostgreSQL) instead of fetching the whole table.
    query = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH_ROWS)
    for row in connection.execute(query).mappings():
        record = {"table": table.name, "row": {name: _json_safe(value) for name, value in row.items()}}
        out.write(_json(record) + b"\n")
        done += 1
        if progress is not None and done % BATCH_ROWS == 0 and done < total:
            progress(table.name, done, total)
    if done != total:
        # Cannot happen inside one snapshot; checked so a dump never silently disagrees with its header.
        raise BackupError(f"table {table.name} changed while it was exported ({done} rows, expected {total})")
    if progress is not None:
        progress(table.name, done, total)


# --- reading the dump -----------------------------------------------------------------------


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Each line of the dump as text, numbered from 1, its line break kept."""
    number = 0
    # Split on b"\n" alone: texts hold characters (U+2028, U+0085) that str.splitlines breaks at.
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.reason == "unexpected end of data":  # a character cut off by the end of the input
                raise BackupError(
                    f"the dump ends in the middle of a character on line {number} (is the file truncated?)"
                ) from None
            reason = f"line {number}, byte {error.start + 1}: {error.reason}"
            raise BackupError(f"the dump is not UTF-8 text ({reason})") from None
        yield number, line
    if number == 0:
        raise BackupError("the dump is empty")


def _parsed(number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        if not line.endswith("\n"):  # only the last line can lack its line break
            raise BackupError(f"the dump ends in the middle of line {number} (is the file truncated?)") from None
        raise BackupError(f"the dump is not valid JSON at line {number}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise BackupError(f"the dump nests arrays or objects too deeply on line {number}") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise BackupError(f"the dump has a value that cannot be read on line {number}: {error}") from None


def _read_header(lines: Iterator[tuple[int, str]]) -> dict[str, Any]:
    _, line = next(lines)
    if line.startswith(FORMAT_1_START):
        raise BackupError(
            "this dump is format version 1 (one JSON document), which this stancemap no longer reads: import it "
            "with the stancemap release that exported it, then run `stancemap migrate` with this one "
            "(and `stancemap export` for a dump of format version 2)"
        )
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"this is not a stancemap dump: its first line is not a '{FORMAT}' header")
    return header


def _rows(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[str, Any, int]]:
    """(table name, row, length of its line) for each line after the header."""
    for number, line in lines:
        record = _parsed(number, line)
        if not isinstance(record, dict) or record.keys() != {"table", "row"} or record["table"] not in TABLE_ORDER:
            raise BackupError(
                f'line {number} of the dump is not a row: expected {{"table": …, "row": {{…}}}} '
                f"naming one of the tables {', '.join(TABLE_ORDER)}"
            )
        yield record["table"], record["row"], len(line)


# --- import ---------------------------------------------------------------------------------


def _check_header(header: dict[str, Any], database_revision: str | None) -> None:
    if unknown := [name for name in header if name not in HEADER_FIELDS]:
        raise BackupError(f"the dump has an unknown header field '{unknown[0]}'")
    missing = [name for name in HEADER_FIELDS if name not in header]
    if missing:
        raise BackupError(f"the dump's header lacks {', '.join(missing)}")
    if type(header["format_version"]) is not int or header["format_version"] != FORMAT_VERSION:
        raise BackupError(
            f"the dump has format version {header['format_version']!r}; this stancemap reads version {FORMAT_VERSION}"
        )
    if header["schema_revision"] != database_revision:
        raise BackupError(
            f"the dump was taken at schema revision {header['schema_revision']!r} and this database is at "
            f"{database_revision!r}: import it with the stancemap release that exported it, then run `stancemap migrate`"
        )
    counts = header["row_counts"]
    if (
        not isinstance(counts, dict)
        or set(counts) != set(TABLE_ORDER)
        or not all(type(count) is int and count >= 0 for count in counts.values())
    ):
        raise BackupError(f"the dump's row_counts must give a row count for each of {', '.join(TABLE_ORDER)}")


def _refuse_unless_empty(connection: Connection) -> None:
    # data_version always has its one row; every other table must be empty.
    filled = [
        name
        for name in TABLE_ORDER
        if name != DataVersion.__tablename__
        and connection.execute(select(1).select_from(_table(name)).limit(1)).first() is not None
    ]
    if filled:
        raise BackupError(
            f"the database is not empty ({', '.join(filled)} have rows); import loads only into an empty database"
        )


# What the database columns hold: 32-bit integers, 64-bit big integers.
_INTEGER_BITS = 32
_BIG_INTEGER_BITS = 64


def _in_range(bits: int) -> Callable[[Any], Any]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{value} does not fit the column (a {bits}-bit integer)")
        return value

    return check


def _within_dates(value: date) -> date:
    # The years every engine and Python's own arithmetic represent; checked in UTC for timestamps.
    if isinstance(value, datetime):
        try:
            day = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
        except OverflowError:
            day = date.min
    else:
        day = value
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"{value.isoformat()} is not between {MIN_DATE} and {MAX_DATE}")
    return value


def _column_decoder(column: Column[Any]) -> Callable[[Any], Any]:
    """Turns a column's JSON value back into the Python value the database takes, or raises ValueError.

    Only the value's type and what the column can hold: the rules of the API's writes are the
    integrity checker's (app/services/integrity.py)."""
    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type

    def expect(*types: type) -> Callable[[Any], Any]:
        def check(value: Any) -> Any:
            # bool is an int in Python, but never a valid integer here (nor the reverse).
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise ValueError(f"expected {' or '.join(t.__name__ for t in types)}, got {type(value).__name__}")
            return value

        return check

    def parse(kind_of: type[date]) -> Callable[[Any], Any]:
        text = expect(str)
        return lambda value: _within_dates(kind_of.fromisoformat(text(value)))

    if isinstance(kind, DateTime):
        return parse(datetime)
    if isinstance(kind, Date):
        return parse(date)
    if isinstance(kind, Boolean):
        return expect(bool)
    if isinstance(kind, Integer):
        integer = expect(int)
        fits = _in_range(_BIG_INTEGER_BITS if isinstance(kind, BigInteger) else _INTEGER_BITS)
        return lambda value: fits(integer(value))
    if isinstance(kind, Float):
        number = expect(int, float)  # JSON writes 1.0 as 1.0, but a hand-edited dump may say 1
        return lambda value: _finite(number(value))
    if isinstance(kind, String):
        return expect(str)
    if isinstance(kind, JSON):
        return lambda value: value
    raise NotImplementedError(f"no dump decoding for {column.table.name}.{column.name} ({kind!r})")


def _finite(value: float) -> float:
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{value} is not a finite number")
    return number


class _RowDecoder:
    """Checks one table's rows from the dump and converts them to values to insert."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._decoders = {column.name: (_column_decoder(column), column.nullable) for column in table.columns}

    def decode(self, row: Any, number: int) -> dict[str, Any]:
        where = f"table {self.table.name}, row {number}"
        if not isinstance(row, dict):
            raise BackupError(f"{where}: expected an object")
        if row.keys() != self._decoders.keys():
            missing, unknown = self._decoders.keys() - row.keys(), row.keys() - self._decoders.keys()
            raise BackupError(
                f"{where}: the columns do not match the schema (missing: {', '.join(sorted(missing)) or 'none'}; "
                f"unknown: {', '.join(sorted(unknown)) or 'none'})"
            )
        values: dict[str, Any] = {}
        for name, value in row.items():
            decode, nullable = self._decoders[name]
            if value is None:
                if not nullable:
                    raise BackupError(f"{where}, column {name}: must not be null")
                values[name] = None
                continue
            try:
                values[name] = decode(value)
            except ValueError as error:
                raise BackupError(f"{where}, column {name}: {error}") from None
        return values


def _load_table(
    connection: Connection,
    rows: Iterator[tuple[str, Any, int]],
    table: Table,
    total: int,
    checker: integrity.RowChecker,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Checks and inserts the table's rows from the dump, in batches; returns them for
    data_version, which is not inserted (see _advance_data_version)."""
    decoder = _RowDecoder(table)
    is_data_version = table.name == DataVersion.__tablename__
    kept: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    batch_chars = 0
    done = 0
    for number, (_, row, length) in enumerate(rows, start=1):
        if number > total:
            raise BackupError(f"table {table.name} has more rows than the {total} its header gives")
        values = decoder.decode(row, number)
        if problems := checker.problems(table.name, values):
            raise BackupError(problems[0].describe(number))
        if is_data_version:
            kept.append(values)
            continue
        batch.append(values)
        batch_chars += length
        if len(batch) >= BATCH_ROWS or batch_chars >= BATCH_CHARS:
            connection.execute(table.insert(), batch)
            done += len(batch)
            batch, batch_chars = [], 0
            if progress is not None and done < total:
                progress(table.name, done, total)
    if batch:
        connection.execute(table.insert(), batch)
        done += len(batch)
    _table_done(table.name, done + len(kept), total, progress)
    return kept


def _table_done(name: str, done: int, total: int, progress: Progress | None) -> None:
    if done != total:
        raise BackupError(f"table {name} has {done} rows but the header gives {total} (is the file truncated?)")
    if progress is not None:
        progress(name, done, total)


def _load_tables(
    connection: Connection, rows: Iterator[tuple[str, Any, int]], counts: dict[str, int], progress: Progress | None
) -> int:
    """Loads every table; returns the data version the dump recorded."""
    checker = integrity.RowChecker()
    remaining = list(TABLE_ORDER)
    dumped_versions: list[dict[str, Any]] = []
    for name, table_rows in groupby(rows, key=itemgetter(0)):
        if name not in remaining:
            raise BackupError(
                f"the dump's rows of table {name} are not all together in table order ({', '.join(TABLE_ORDER)})"
            )
        # Tables without rows have no line in the dump.
        while (skipped := remaining.pop(0)) != name:
            _table_done(skipped, 0, counts[skipped], progress)
        loaded = _load_table(connection, table_rows, _table(name), counts[name], checker, progress)
        if name == DataVersion.__tablename__:
            dumped_versions = loaded
    for name in remaining:
        _table_done(name, 0, counts[name], progress)
    if len(dumped_versions) != 1:
        raise BackupError(f"the dump's data_version table must have one row, not {len(dumped_versions)}")
    return dumped_versions[0]["version"]


def _reset_sequences(connection: Connection) -> None:
    """Moves PostgreSQL's id sequences past the imported ids, so the next insert gets a free id.

    Rows were inserted with their ids, which does not advance a sequence. SQLite needs nothing:
    its next id is always one more than the largest stored.
    """
    if connection.dialect.name != "postgresql":
        return
    for name in TABLE_ORDER:
        table = _table(name)
        if "id" not in table.c:
            continue
        sequence = func.pg_get_serial_sequence(name, "id")
        next_id = func.coalesce(select(func.max(table.c.id)).scalar_subquery(), 0) + 1
        # is_called false: the next nextval() returns next_id itself. A null sequence (no
        # serial column) makes setval() return null and change nothing.
        connection.execute(select(func.setval(sequence, next_id, False)))


def _advance_data_version(connection: Connection, dumped_version: int) -> int:
    """Sets the data version past both the dump's and this database's own, so no ETag or cached
    view issued before the import, by the exporting server or by this one, matches after it."""
    data_version = _table(DataVersion.__tablename__)
    current = connection.execute(select(data_version.c.version).where(data_version.c.id == 1)).scalar_one()
    version = max(dumped_version, current) + 1
    connection.execute(update(data_version).where(data_version.c.id == 1).values(version=version, changed_at=utcnow()))
    return version


def import_dump(engine: Engine, stream: IO[bytes], *, progress: Progress | None = None) -> ImportSummary:
    """Loads a dump into an empty database at the dump's schema revision, in one transaction:
    on any error nothing is kept."""
    lines = _lines(stream)
    header = _read_header(lines)
    _check_header(header, schema.current_revision(engine))
    counts: dict[str, int] = header["row_counts"]
    try:
        with engine.begin() as connection:
            _refuse_unless_empty(connection)
            # Answers to earlier requests would name rows the dump's replace.
            for name in integrity.TRANSIENT_TABLES:
                connection.execute(_table(name).delete())
            dumped_version = _load_tables(connection, _rows(lines), counts, progress)
            # Statements and their revision rows are compared in SQL, once both are in.
            if (problem := next(integrity.revision_problems(connection), None)) is not None:
                raise BackupError(str(problem))
            _reset_sequences(connection)
            # Derived, so not in the dump: built from what was just loaded.
            position_history.rebuild_all(connection)
            search_index.rebuild_all(connection)
            version = _advance_data_version(connection, dumped_version)
    except (DBAPIError, StatementError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise BackupError(f"the database refused the dump, nothing was imported: {reason}") from None
    return ImportSummary(rows=counts, data_version=version)
