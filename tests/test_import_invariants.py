"""`stancemap import` holds every row to the rules the API's writes keep, and `stancemap check`
holds a live database to them: each test breaks one thing in a valid dump (an export of the seed
database) or in a seeded database, and expects the problem named by table, row, column and rule."""

import copy
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlmodel import Session, SQLModel

from app.services import backup, schema
from app.services.integrity import ENUMERATED, TABLES
from seeds.loader import load_seeds
from tests.conftest import ENGINES
from tests.test_backup import dump_bytes, parse_dump, populate, run

# A parsed dump: {"header": its header line, "tables": its rows by table}.
Dump = dict[str, Any]


@pytest.fixture(scope="module", params=ENGINES)
def seed_dump(request: pytest.FixtureRequest, make_database) -> tuple[Dump, str]:
    """The seed database's dump, parsed, and an empty database of the same engine to import into."""
    source_url, target_url = make_database(request.param), make_database(request.param)
    schema.upgrade(source_url)
    schema.upgrade(target_url)
    engine = create_engine(source_url)
    try:
        with Session(engine) as session:
            load_seeds(session)
        out = io.BytesIO()
        backup.export_dump(engine, out)
    finally:
        engine.dispose()
    header, tables = parse_dump(out.getvalue())
    return {"header": header, "tables": tables}, target_url


def serialized(dump: Dump) -> bytes:
    return dump_bytes(dump["header"], dump["tables"])


def import_refused(target_url: str, data: bytes) -> str:
    """Imports the dump, which must be refused; returns why, after checking nothing was kept."""
    engine = create_engine(target_url)
    try:
        with pytest.raises(backup.BackupError) as refusal:
            backup.import_dump(engine, io.BytesIO(data))
        with engine.connect() as connection:
            kept = {
                name: connection.execute(select(func.count()).select_from(SQLModel.metadata.tables[name])).scalar_one()
                for name in TABLES
                if name != "data_version"
            }
    finally:
        engine.dispose()
    assert not any(kept.values()), kept
    return str(refusal.value)


def row(dump: Dump, table: str, row_id: int) -> dict[str, Any]:
    return next(entry for entry in dump["tables"][table] if entry["id"] == row_id)


def shift_quote(entry: dict[str, Any]) -> None:
    entry["quote_start"] += 1
    entry["quote_end"] += 1


def retracted(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """Sets a retraction's fields on a statement, as given (some of them left null)."""
    return lambda entry: entry.update(
        {"retracted_at": None, "retracted_on": None, "retracted_by": None, "retraction_reason": None, **fields}
    )


RETRACTION = {
    "retracted_at": "2025-08-21T09:00:00.000000Z",
    "retracted_on": "2025-08-21",
    "retracted_by": "editor",
    "retraction_reason": "Misattributed.",
}

# (table, row id, change, what the error must say: row, column, rule)
BREAKAGES: dict[str, tuple[str, int, Callable[[dict[str, Any]], None], tuple[str, ...]]] = {
    "quote-shifted-by-one": (
        "statement",
        3,
        shift_quote,
        ("row 3 (id 3)", "column quote:", "is not source 1's text at"),
    ),
    "quote-text-changed": (
        "statement",
        3,
        lambda e: e.update(quote=e["quote"].upper()),
        ("row 3 (id 3)", "column quote:", "is not source 1's text"),
    ),
    "quote-end-past-the-text": (
        "statement",
        3,
        lambda e: e.update(quote_end=10**6),
        ("row 3 (id 3)", "column quote_end:", "is past the end of source 1's text"),
    ),
    "quote-start-after-end": (
        "statement",
        3,
        lambda e: e.update(quote_start=e["quote_end"] + 1),
        ("row 3 (id 3)", "column quote_start:", "is not before quote_end"),
    ),
    "quote-start-negative": (
        "statement",
        3,
        lambda e: e.update(quote_start=-1),
        ("row 3 (id 3)", "column quote_start:", "is negative"),
    ),
    "quote-prefix-not-the-texts": (
        "statement",
        3,
        lambda e: e.update(quote_prefix="x" + e["quote_prefix"][1:]),
        ("column quote_prefix:", "is not the text before the quote"),
    ),
    "quote-suffix-not-the-texts": (
        "statement",
        3,
        lambda e: e.update(quote_suffix=e["quote_suffix"][:-1]),
        ("column quote_suffix:", "is not the text after the quote"),
    ),
    "revision-quote-shifted": (
        "statement_revision",
        3,
        shift_quote,
        ("table statement_revision, row 3 (id 3)", "column quote:", "is not source 1's text"),
    ),
    "source-text-changed-sha-kept": (
        "source",
        1,
        lambda e: e.update(text=e["text"].replace("Zelensky", "Zelenskyy", 1)),
        ("row 1 (id 1)", "column sha256:", "is not the SHA-256 of the source's text"),
    ),
    "source-sha256-wrong": ("source", 1, lambda e: e.update(sha256="0" * 64), ("column sha256:", "is not the SHA-256")),
    "source-sha256-not-hex": (
        "source",
        1,
        lambda e: e.update(sha256="zz" * 32),
        ("column sha256:", "is not the SHA-256"),
    ),
    "party-slug-invalid": (
        "party",
        2,
        lambda e: e.update(slug="Ukraine!"),
        ("row 2 (id 2)", "column slug:", "should match pattern"),
    ),
    "party-name-empty": ("party", 2, lambda e: e.update(name=""), ("row 2 (id 2)", "column name:", "at least 1")),
    "party-name-with-nul": (
        "party",
        2,
        lambda e: e.update(name="Ukr\x00aine"),
        ("column name:", "must not contain NUL"),
    ),
    "party-name-untrimmed": (
        "party",
        2,
        lambda e: e.update(name=" Ukraine"),
        ("column name:", "the API stores 'Ukraine'"),
    ),
    "aliases-a-string": (
        "party",
        2,
        lambda e: e.update(aliases="Kyiv"),
        ("row 2 (id 2)", "column aliases:", "valid list"),
    ),
    "aliases-integers": ("party", 2, lambda e: e.update(aliases=[1, 2]), ("column aliases:", "valid string", "item 0")),
    "issue-keywords-over-the-limit": (
        "issue",
        1,
        lambda e: e.update(keywords=[f"k{n}" for n in range(31)]),
        ("table issue, row 1 (id 1)", "column keywords:", "at most 30"),
    ),
    "statement-unknown-party": (
        "statement",
        1,
        lambda e: e.update(party_id=99),
        ("row 1 (id 1)", "column party_id:", "refers to party 99, which does not exist"),
    ),
    "statement-stance-unknown": ("statement", 1, lambda e: e.update(stance="maybe"), ("column stance:", "'maybe'")),
    "retracted-on-without-retracted-at": (
        "statement",
        1,
        retracted(**{**RETRACTION, "retracted_at": None}),
        ("row 1 (id 1)", "column retracted_at:", "set together"),
    ),
    "retracted-at-without-retracted-on": (
        "statement",
        1,
        retracted(**{**RETRACTION, "retracted_on": None}),
        ("row 1 (id 1)", "column retracted_on:", "set together"),
    ),
    "retracted-before-stated": (
        "statement",
        1,
        retracted(**{**RETRACTION, "retracted_on": "2020-01-01"}),
        ("row 1 (id 1)", "column retracted_on:", "is before stated_on"),
    ),
    "audit-action-unknown": (
        "audit_event",
        1,
        lambda e: e.update(action="explode"),
        ("table audit_event, row 1 (id 1)", "column action:", "'explode' is not one of"),
    ),
    "audit-after-not-an-object": (
        "audit_event",
        1,
        lambda e: e.update(after=["slug"]),
        ("column after:", "must be an object or null"),
    ),
    "audit-before-not-an-object": (
        "audit_event",
        2,
        lambda e: e.update(before="none"),
        ("row 2 (id 2)", "column before:", "must be an object or null"),
    ),
    "party-id-zero": (
        "party",
        1,
        lambda e: e.update(id=0),
        ("table party, row 1 (id 0)", "column id:", "between 1 and"),
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_row_breaking_a_rule_is_refused_by_table_row_column_and_rule(seed_dump, breakage):
    dump, target = seed_dump
    table, row_id, change, expected = BREAKAGES[breakage]
    broken = copy.deepcopy(dump)
    change(row(broken, table, row_id))

    reason = import_refused(target, serialized(broken))

    assert reason.startswith(f"table {table}, "), reason
    for part in expected:
        assert part in reason, reason


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: row(d, "statement", 2).update(revision=2),
            "table statement, id 2, column revision: is 2, but its highest statement_revision is 1",
        ),
        (
            lambda d: (row(d, "statement", 2).update(revision=2), row(d, "statement_revision", 2).update(revision=2)),
            "table statement, id 2, column revision: its statement_revision rows are not numbered 1 to 2: 1 row(s), the first numbered 2",
        ),
        (
            lambda d: row(d, "statement_revision", 2).update(summary="Another summary."),
            "table statement_revision, id 2, column summary: differs from statement 2's summary: the latest revision holds the statement's current values",
        ),
        (
            lambda d: row(d, "statement_revision", 2).update(
                stance="neutral" if row(d, "statement", 2)["stance"] != "neutral" else "oppose"
            ),
            "table statement_revision, id 2, column stance: differs from statement 2's stance: the latest revision holds the statement's current values",
        ),
    ],
    ids=[
        "revision-above-its-rows",
        "revisions-not-numbered-from-1",
        "latest-revision-summary-differs",
        "latest-revision-stance-differs",
    ],
)
def test_revisions_that_disagree_with_their_statement_are_refused(seed_dump, change, expected):
    dump, target = seed_dump
    broken = copy.deepcopy(dump)
    change(broken)
    assert import_refused(target, serialized(broken)) == expected


def test_the_seed_dump_itself_imports(seed_dump):
    # The breakages above fail because of what they break: the same dump unbroken loads.
    dump, target = seed_dump
    engine = create_engine(target)
    try:
        summary = backup.import_dump(engine, io.BytesIO(serialized(dump)))
        assert summary.rows["statement"] == len(dump["tables"]["statement"])
        with engine.begin() as connection:  # empty again for the other tests
            for name in reversed((*TABLES[:-1], "position_span", "position_cell")):
                connection.execute(SQLModel.metadata.tables[name].delete())
    finally:
        engine.dispose()


def test_every_enumerated_column_exists():
    # A renamed table or column must not silently turn its check off.
    for table, column in ENUMERATED:
        assert column in SQLModel.metadata.tables[table].c, (table, column)


# --- what used to end in a traceback: refused in one line by the command -----------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda dump: dump.replace(b'"id": 1,', b'"id": 9223372036854775808,', 1),
            "table party, row 1, column id: 9223372036854775808 does not fit",
        ),
        (
            lambda dump: dump.replace(b'"name": "Ukraine"', b'"name": "Ukr\\ud800aine"', 1),
            "table party, row 2 (id 2), column name: must not contain NUL characters or unpaired surrogates",
        ),
        (
            lambda dump: dump.replace(b'"aliases": [', b'"aliases": [' + b"[" * 5000 + b"]" * 5000 + b", ", 1),
            "the dump nests arrays or objects too deeply",
        ),
        (
            lambda dump: dump.replace(b'"aliases": [', b'"aliases": [' + b"[" * 100 + b"]" * 100 + b", ", 1),
            "table party, row 1 (id 1), column aliases: nests deeper than 32 levels",
        ),
        (
            lambda dump: dump.replace(b'"id": 1,', b'"id": ' + b"9" * 5000 + b",", 1),
            "the dump has a value that cannot be read",
        ),
    ],
    ids=["id-of-2-to-the-63", "lone-surrogate", "array-5000-deep", "array-100-deep-in-a-column", "id-of-5000-digits"],
)
def test_values_no_database_can_hold_are_refused_by_the_command_without_a_traceback(
    seed_dump, tmp_path, damage, reason
):
    dump, target = seed_dump
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(damage(serialized(dump)))

    result = run(["import", str(damaged)], target, text=True)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"stancemap import: {reason}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # "database at migration …", then the refusal


# --- stancemap check ---------------------------------------------------------------------------


def check(url: str) -> tuple[int, str, str]:
    result = run(["check"], url, text=True)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def test_check_passes_the_seed_database_and_names_each_corruption(database_url, engine, seeded):
    code, out, err = check(database_url)
    assert (code, out) == (0, ""), err
    assert err.startswith("stancemap check: every invariant holds in ") and "statement 25" in err

    with engine.begin() as connection:
        connection.execute(text("UPDATE statement SET quote_start = quote_start + 1 WHERE id = 3"))
        connection.execute(text("UPDATE source SET sha256 = 'abc' WHERE id = 1"))
        connection.execute(text("DELETE FROM position_span WHERE span_key = (SELECT min(span_key) FROM position_span)"))

    code, out, err = check(database_url)

    assert code == 1, err
    problems = out.splitlines()
    assert (
        "table source, id 1, column sha256: is not the SHA-256 of the source's text (UTF-8, lowercase hex)" in problems
    )
    assert any(
        line.startswith("table statement, id 3, column quote: is not source 1's text at") for line in problems
    ), out
    assert any(
        line.startswith("table statement_revision, id 3, column quote_start: differs from statement 3's")
        for line in problems
    ), out
    assert any(
        line.startswith("table position_span, ") and line.endswith("is missing: a rebuilt position history has it")
        for line in problems
    ), out
    assert err.startswith(f"stancemap check: {len(problems)} problem(s) in "), err


def test_check_passes_a_database_with_corrections_retractions_and_a_new_source_version(make_database):
    url = make_database(ENGINES[0])
    populate(url)
    code, out, err = check(url)
    assert (code, out) == (0, ""), out + err


def test_check_changes_nothing(database_url, engine, seeded):
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version FROM data_version")).scalar_one()
        spans = connection.execute(text("SELECT count(*) FROM position_span")).scalar_one()
    with engine.begin() as connection:
        connection.execute(text("UPDATE statement SET retracted_on = '2020-01-01' WHERE id = 1"))

    code, out, _ = check(database_url)

    assert code == 1 and "table statement, id 1, column retracted_at: is null while retracted_on is set" in out
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version FROM data_version")).scalar_one() == version
        assert connection.execute(text("SELECT count(*) FROM position_span")).scalar_one() == spans


@pytest.mark.parametrize("command", ["check", "import", "export"])
def test_an_unreachable_database_is_one_line_and_exit_2(command, tmp_path):
    dump = tmp_path / "dump.json"
    dump.write_text("{}")
    arguments = [command, str(dump)] if command == "import" else [command]
    result = run(arguments, "postgresql+psycopg://stancemap:secret@127.0.0.1:1/nowhere", text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"stancemap {command}: cannot use the database postgresql+psycopg://stancemap:***@127.0.0.1:1/nowhere: "
    )


def test_check_refuses_a_database_that_is_not_migrated(make_database):
    code, out, err = check(make_database(ENGINES[0]))
    assert (code, out) == (2, "")
    assert "run `stancemap migrate` first" in err


def test_check_names_a_position_history_of_another_format(database_url, engine, seeded):
    with engine.begin() as connection:
        built = connection.execute(text("SELECT format FROM projection WHERE name = 'position_span'")).scalar_one()
        connection.execute(text("UPDATE projection SET format = 1 WHERE name = 'position_span'"))
    try:
        code, out, _ = check(database_url)
    finally:  # the database serves the tests after this one
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE projection SET format = :built WHERE name = 'position_span'"), {"built": built}
            )
    assert code == 1
    assert (
        out
        == f"table projection, name position_span, column format: is 1, not {built}: run `stancemap migrate` to rebuild the position history\n"
    )
