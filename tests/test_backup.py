"""`stancemap export` and `stancemap import`, run as the installed console script: a dump loaded
into an empty database gives back every row of every table, on each engine and across them."""

import hashlib
import json
import os
import pty
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlmodel import Session, SQLModel

from app.models.common import Stance
from app.models.source import Source, SourceCreate
from app.models.statement import (
    Statement,
    StatementCreate,
    StatementRetract,
    StatementUpdate,
)
from app.models.token import TokenScope
from app.services import backup, position_history, schema
from app.services.backup import TABLE_ORDER
from app.services.data_version import read_version
from app.services.integrity import DERIVED_TABLES, FEED_TABLES, TRANSIENT_TABLES
from app.services.sources import create_source
from app.services.statements import (
    correct_statement,
    create_statement,
    retract_statement,
)
from app.services.tokens import create_token, revoke_token
from seeds.loader import load_seeds
from tests.conftest import ENGINES, SEED_DIR, SEED_SOURCE_SHA256
from tests.test_cli import STANCEMAP, cli_env

# Curly quotes, an emoji, CRLF, the line breaks of Unicode (which a dump read with str.splitlines
# would cut) and no trailing newline: everything a text could lose on the way.
EDITED_TEXT = (
    "The minister said: “We will never give up the north.”\r\nLater: “talks continue” 🕊️\tend"
    "\u2028next\u2029para\x85graph"
)
SEED_STATEMENTS = json.loads((SEED_DIR / "statements.json").read_text(encoding="utf-8"))


def run(command: list[str], url: str, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [STANCEMAP, *command],
        check=False,
        env=cli_env(STANCEMAP_DATABASE_URL=url),
        capture_output=True,
        timeout=180,
        **kwargs,
    )


def run_export(url: str, stdout: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [STANCEMAP, "export"],
        check=False,
        env=cli_env(STANCEMAP_DATABASE_URL=url),
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=180,
    )


def export(url: str, dump: Path) -> None:
    with open(dump, "wb") as out:
        result = run_export(url, out)
    assert result.returncode == 0, result.stderr.decode()
    assert b"exported " in result.stderr


def import_dump(url: str, dump: Path) -> subprocess.CompletedProcess:
    return run(["import", str(dump)], url, text=True)


def parse_dump(data: bytes) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """A dump's header and its rows by table, after checking each line is one JSON object."""
    *lines, last = data.decode("utf-8").split("\n")
    assert last == "", "the dump ends with a line break"
    header, tables = json.loads(lines[0]), {name: [] for name in TABLE_ORDER}
    for line in lines[1:]:
        record = json.loads(line)
        assert record.keys() == {"table", "row"}, line
        tables[record["table"]].append(record["row"])
    return header, tables


def dump_bytes(header: dict[str, Any], tables: dict[str, list[dict[str, Any]]]) -> bytes:
    """A dump as `stancemap export` writes one."""
    records = [{"table": name, "row": entry} for name, rows in tables.items() for entry in rows]
    return b"".join(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in [header, *records])


def refused(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"stancemap import: {reason}" in result.stderr, result.stderr


def table_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order, as the models' column types read them."""
    engine = create_engine(url)
    rows = {}
    try:
        with engine.connect() as connection:
            for name in (*TABLE_ORDER, *DERIVED_TABLES):
                table = SQLModel.metadata.tables[name]
                query = select(table).order_by(*table.primary_key.columns)
                rows[name] = [dict(row) for row in connection.execute(query).mappings()]
            # Cells may be numbered differently: compared by party, issue and day instead.
            del rows["position_cell"]
            rows["position_span"] = position_history.readable_spans(connection)
    finally:
        engine.dispose()
    return rows


def without_data_version(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Without the one-row tables every migrated database has, even an empty one."""
    return {name: table for name, table in rows.items() if name not in ("data_version", "projection")}


def populate(url: str) -> None:
    """The seeds, plus a superseding source, a correction, a retraction and two tokens, one revoked."""
    schema.upgrade(url)
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            load_seeds(session)
            create_source(
                session,
                SourceCreate(title="Minister on the north", published_at="2025-08-19", text=EDITED_TEXT, supersedes=1),
                actor="editor",
            )
            correct_statement(
                session, 1, StatementUpdate(stance=Stance.lean_support, note="Reported, not confirmed."), actor="editor"
            )
            retract_statement(
                session,
                2,
                StatementRetract(reason="Misattributed “quote”.", retracted_on=date(2025, 8, 20)),
                actor="editor",
            )
            create_token(session, name="editor", scope=TokenScope.write)
            create_token(session, name="former", scope=TokenScope.read)
            revoke_token(session, "former")
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=ENGINES)
def exported(request: pytest.FixtureRequest, make_database, tmp_path_factory) -> tuple[str, str, Path]:
    """An interesting database of one engine and its dump: (engine name, url, dump path)."""
    url = make_database(request.param)
    populate(url)
    dump = tmp_path_factory.mktemp("dump") / "dump.json"
    export(url, dump)
    return request.param, url, dump


def test_every_table_is_dumped_after_the_tables_it_refers_to():
    not_dumped = set(DERIVED_TABLES) | set(TRANSIENT_TABLES) | set(FEED_TABLES)
    assert set(TABLE_ORDER) | not_dumped == set(SQLModel.metadata.tables)
    assert not set(TABLE_ORDER) & not_dumped
    for position, name in enumerate(TABLE_ORDER):
        referred = {key.column.table.name for key in SQLModel.metadata.tables[name].foreign_keys}
        assert referred - {name} <= set(TABLE_ORDER[:position]), name


def test_the_dump_is_a_header_line_then_a_line_per_row_and_keeps_texts_exact(exported):
    _, _, dump = exported
    data = dump.read_bytes()
    header, tables = parse_dump(data)
    assert header["format"] == "stancemap-dump"
    assert header["format_version"] == 2
    assert header["schema_revision"] == schema.head_revision()
    assert header["exported_at"].endswith("Z")
    assert header["row_counts"] == {name: len(rows) for name, rows in tables.items()}
    # Each table's rows together, tables parents first, rows in id order.
    named = [json.loads(line)["table"] for line in data.decode("utf-8").split("\n")[1:-1]]
    assert named == sorted(named, key=TABLE_ORDER.index)
    assert all([entry["id"] for entry in rows] == sorted(entry["id"] for entry in rows) for rows in tables.values())
    sources = tables["source"]
    assert hashlib.sha256(sources[0]["text"].encode("utf-8")).hexdigest() == SEED_SOURCE_SHA256
    assert sources[1]["text"] == EDITED_TEXT
    statement = tables["statement"][1]
    assert statement["retracted_on"] == "2025-08-20"
    assert statement["retracted_at"].endswith("Z")


def test_round_trip_keeps_every_row_and_the_database_stays_usable(exported, make_database):
    engine_name, url, dump = exported
    target = make_database(engine_name)

    result = import_dump(target, dump)

    assert result.returncode == 0, result.stderr
    assert "imported " in result.stderr and "\r" not in result.stderr
    before, after = table_rows(url), table_rows(target)
    assert without_data_version(after) == without_data_version(before)
    assert after["statement"][1]["retraction_reason"] == "Misattributed “quote”."
    assert [token["revoked_at"] is not None for token in after["api_token"]] == [False, True]
    assert {event["action"] for event in after["audit_event"]} >= {"create", "correct", "retract"}
    assert len(after["statement_revision"]) == len(SEED_STATEMENTS) + 1
    assert after["data_version"][0]["version"] == before["data_version"][0]["version"] + 1
    assert_usable_after_import(target, before)


def assert_usable_after_import(url: str, before: dict[str, list[dict[str, Any]]]) -> None:
    """New rows get fresh ids (PostgreSQL's sequences were moved past the imported ones), the
    source text is the seed's byte for byte, and the data version moves on from the dump's."""
    engine = create_engine(url)
    try:
        imported_version = read_version(engine)
        with Session(engine) as session:
            source = session.get(Source, 1)
            assert hashlib.sha256(source.text.encode("utf-8")).hexdigest() == SEED_SOURCE_SHA256
            assert session.get(Source, 2).text == EDITED_TEXT
            seed = SEED_STATEMENTS[0]
            created = create_statement(
                session,
                StatementCreate(
                    party=seed["party"], issue=seed["issue"], source=1, quote=seed["quote"], stance=seed["stance"]
                ),
                actor="editor",
            )
            create_token(session, name="newcomer", scope=TokenScope.read)
            ids = session.exec(select(func.max(Statement.id))).scalar_one()
        assert created.id == ids == max(row["id"] for row in before["statement"]) + 1
        assert read_version(engine) > imported_version > before["data_version"][0]["version"]
    finally:
        engine.dispose()


def test_import_inserts_in_batches_and_reports_each_tables_progress(exported, make_database, monkeypatch):
    engine_name, url, dump = exported
    target = make_database(engine_name)
    schema.upgrade(target)
    monkeypatch.setattr(backup, "BATCH_ROWS", 3)  # tiny batches split tables
    reports: list[tuple[str, int, int]] = []
    engine = create_engine(target)
    try:
        with open(dump, "rb") as stream:
            backup.import_dump(engine, stream, progress=lambda *report: reports.append(report))
    finally:
        engine.dispose()
    before = table_rows(url)
    assert without_data_version(table_rows(target)) == without_data_version(before)
    finals = [(table, done) for table, done, total in reports if done == total]
    assert finals == [(name, len(before[name])) for name in TABLE_ORDER]
    assert ("audit_event", 3, len(before["audit_event"])) in reports


def test_export_refuses_a_database_that_is_not_migrated(make_database):
    result = run(["export"], make_database(ENGINES[0]), text=True)
    assert result.returncode == 1
    assert "run `stancemap migrate` first" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_export_into_a_closed_pipe_ends_in_one_line(exported):
    # As `stancemap export | head -1` does once head has its line.
    _, url, _ = exported
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = run_export(url, writer)
    finally:
        os.close(writer)
    assert result.returncode == 1
    assert result.stderr == b"stancemap export: the output was closed before the dump was complete\n"


def test_import_into_a_database_with_rows_is_refused_and_changes_nothing(exported):
    _, url, dump = exported
    before = table_rows(url)

    result = import_dump(url, dump)

    refused(result, "the database is not empty")
    assert table_rows(url) == before


def rewrite_header(dump: Path, target: Path, **fields: Any) -> Path:
    header, tables = parse_dump(dump.read_bytes())
    target.write_bytes(dump_bytes({**header, **fields}, tables))
    return target


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"format_version": 3}, "the dump has format version 3; this stancemap reads version 2"),
        ({"format": "pg_dump"}, "this is not a stancemap dump"),
        ({"schema_revision": "0003"}, "the dump was taken at schema revision '0003'"),
        ({"row_counts": {"party": 5}}, "the dump's row_counts must give a row count for each of party, issue"),
        ({"comment": "hand-made"}, "the dump has an unknown header field 'comment'"),
    ],
    ids=["format-version", "format", "schema-revision", "row-counts", "unknown-field"],
)
def test_a_dump_of_another_format_or_schema_is_refused(exported, make_database, tmp_path, fields, reason):
    engine_name, _, dump = exported
    target = make_database(engine_name)

    result = import_dump(target, rewrite_header(dump, tmp_path / "other.json", **fields))

    refused(result, reason)
    assert not any(without_data_version(table_rows(target)).values())


def format_1_layout(dump: Path) -> bytes:
    """The dump as format 1 wrote it: one JSON document whose first line holds the header's
    fields, then `"tables": {` and each table as `"name": [`, a row per line, `]`."""
    header, tables = parse_dump(dump.read_bytes())
    lines = [json.dumps({**header, "format_version": 1})[:-1] + ",", '"tables": {']
    for position, (name, rows) in enumerate(tables.items()):
        rows_text = ",\n".join(json.dumps(entry, ensure_ascii=False) for entry in rows)
        lines.append(
            f"{json.dumps(name)}: ["
            + (f"\n{rows_text}\n]" if rows else "]")
            + ("," if position < len(tables) - 1 else "")
        )
    return ("\n".join(lines) + "\n}}\n").encode("utf-8")


def test_a_dump_of_format_1_is_refused_in_one_line_that_says_how_to_convert_it(exported, make_database, tmp_path):
    engine_name, _, dump = exported
    target = make_database(engine_name)
    old = tmp_path / "format-1.json"
    old.write_bytes(format_1_layout(dump))

    result = import_dump(target, old)

    refused(result, "this dump is format version 1 (one JSON document), which this stancemap no longer reads: ")
    refusal = result.stderr.strip().splitlines()[-1]
    assert "import it with the stancemap release that exported it, then run `stancemap migrate`" in refusal
    assert not any(without_data_version(table_rows(target)).values())


def first_line_of(dump: bytes, table: str) -> bytes:
    start = dump.index(b'{"table": "%s"' % table.encode())
    return dump[start : dump.index(b"\n", start) + 1]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (lambda dump: dump[: len(dump) // 2], "the dump ends in the middle of line"),
        (
            lambda dump: dump[: dump.index(first_line_of(dump, "audit_event"))],
            "table audit_event has 0 rows but the header gives",
        ),
        (
            lambda dump: dump[
                : dump.index(first_line_of(dump, "audit_event")) + len(first_line_of(dump, "audit_event"))
            ],
            "table audit_event has 1 rows but the header gives",
        ),
        (lambda dump: dump[: dump.index("🕊".encode()) + 2], "the dump ends in the middle of a character on line"),
        (
            lambda dump: b"this is not json",
            "this is not a stancemap dump: its first line is not a 'stancemap-dump' header",
        ),
        (lambda dump: b"", "the dump is empty"),
        (lambda dump: b"\xff\xfe{}", "the dump is not UTF-8 text (line 1, byte 1"),
        (lambda dump: dump.replace(b"Ukraine", b"Ukr\xffaine", 1), "the dump is not UTF-8 text (line 2, byte"),
        (lambda dump: b'{"format": "stancemap-dump"}\n', "the dump's header lacks format_version, schema_revision"),
        (lambda dump: dump.replace(b'"slug": ', b'"slug" ', 1), "the dump is not valid JSON at line 2, column"),
        (lambda dump: dump.replace(b"\n", b'\n{"party": {}}\n', 1), "line 2 of the dump is not a row: expected"),
        (lambda dump: dump.replace(b'"table": "issue"', b'"table": "issues"', 1), "line 7 of the dump is not a row"),
        (lambda dump: dump + first_line_of(dump, "party"), "the dump's rows of table party are not all together"),
        (lambda dump: dump.replace(b'"id": 1,', b'"id": "1",', 1), "table party, row 1, column id: expected int"),
        (
            lambda dump: dump.replace(b'"slug": "', b'"slugs": "', 1),
            "table party, row 1: the columns do not match the schema",
        ),
        (lambda dump: dump + first_line_of(dump, "data_version"), "table data_version has more rows than the 1"),
        (
            lambda dump: dump.replace(b'"stance": "', b'"stance": "x', 1),
            "table statement, row 1 (id 1), column stance: Input should be 'support'",
        ),
    ],
    ids=[
        "cut-mid-line",
        "cut-between-tables",
        "cut-mid-table",
        "cut-mid-character",
        "garbage",
        "empty",
        "not-utf8",
        "not-utf8-in-a-row",
        "header-only-format",
        "bad-json-in-a-row",
        "line-not-a-row",
        "unknown-table",
        "table-rows-apart",
        "wrong-type",
        "unknown-column",
        "extra-row",
        "unknown-stance",
    ],
)
def test_a_damaged_dump_gives_a_clear_error_and_imports_nothing(exported, make_database, tmp_path, content, reason):
    engine_name, _, dump = exported
    target = make_database(engine_name)
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(content(dump.read_bytes()))

    result = import_dump(target, damaged)

    refused(result, reason)
    # Rows before the damage were inserted, then rolled back with the rest.
    assert not any(without_data_version(table_rows(target)).values())


def test_import_reads_stdin_and_draws_progress_on_a_terminal(exported, make_database):
    engine_name, url, dump = exported
    target = make_database(engine_name)
    with open(dump, "rb") as stdin:
        result, shown = run_on_terminal(["import", "-"], target, stdin=stdin)
    assert result.returncode == 0, shown
    parties = len(table_rows(url)["party"])
    assert "\rparty" in shown and f"{parties}/{parties}" in shown
    assert "imported " in shown


def run_on_terminal(command: list[str], url: str, stdin: Any = None) -> tuple[subprocess.CompletedProcess, str]:
    """Runs the command with its stderr on a terminal, as a user at one sees it; returns what it showed there."""
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [STANCEMAP, *command],
            check=False,
            env=cli_env(STANCEMAP_DATABASE_URL=url),
            stdin=stdin,
            stderr=terminal,
            timeout=180,
        )
        os.close(terminal)
        terminal = -1
        return result, read_all(controller)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)


def read_all(descriptor: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.skipif(not {"sqlite", "postgresql"} <= set(ENGINES), reason="needs both engines")
def test_a_sqlite_dump_moves_to_postgresql(make_database, tmp_path):
    sqlite_url, postgres_url = make_database("sqlite"), make_database("postgresql")
    populate(sqlite_url)
    dump = tmp_path / "dump.json"
    export(sqlite_url, dump)

    result = import_dump(postgres_url, dump)

    assert result.returncode == 0, result.stderr
    before = table_rows(sqlite_url)
    assert without_data_version(table_rows(postgres_url)) == without_data_version(before)
    assert_usable_after_import(postgres_url, before)
