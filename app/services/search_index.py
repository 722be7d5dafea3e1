"""The search index: one document per statement, party and issue, in each engine's full-text index.

A document holds the stems of its fields (app/services/search_terms.py) twice, once as English and
once as German stems, so that a phrase matches within one language, and with a gap between fields,
so that a phrase never runs from one field into the next:

- a statement: its quote, summary and speaker;
- a party: its name and each of its aliases;
- an issue: its title and proposition.

A statement's document also carries tokens for what search filters it by (`_party_3`, `_issue_7`,
`_source_1`, `_stance_oppose`, and `_retracted` once it is): the engine's index then applies those
filters as it matches, however many statements there are. No query word can be such a token, nor
the field gap `_`: query words are made of letters and digits only.

On SQLite it is an FTS5 table (`search_index`) with the two readings as columns `en` and `de` and
the filter tokens in `facets`. On PostgreSQL it is a table of `tsvector`s with a GIN index, written
as tsvector literals: the English stems, then the German ones, each lexeme at its word's position,
positions skipped between fields and between the two readings (a phrase needs consecutive
positions), then the filter tokens. The stems are indexed as they are, without either engine's own
dictionaries, so both engines find the same documents for the same query: that is what the tests
hold them to.

Documents are keyed so that a search reads each kind as a range: a statement by its id, a party by
`-2 * id` and an issue by `-2 * id - 1`.

The index is derived: every write names what it changed (app/services/unit_of_work.py) and the
documents of those rows are replaced in the write's own transaction; `ensure_current` builds it
after migrations and at start-up, and an import rebuilds it. Backups leave it out.
"""

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    cast,
    column,
    delete,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Connection, Engine, Row
from sqlmodel import col

from app.errors import OutdatedServer
from app.models.issue import Issue
from app.models.party import Party
from app.models.position_span import Projection
from app.models.search import SearchKind
from app.models.statement import Statement
from app.services import projections
from app.services.data_version import bump
from app.services.search_terms import Clause, stem_sequence

# Bump when what a document holds changes: every document is then rebuilt.
FORMAT = 1
PROJECTION = "search_index"
FIELD_GAP = "_"  # SQLite: the token between fields
RETRACTED = "_retracted"
_BATCH = 2000
_ID_CHUNK = 5000
logger = logging.getLogger("stancemap")


def document_key(kind: SearchKind, object_id: int) -> int:
    if kind == SearchKind.statement:
        return object_id
    return -2 * object_id - (kind == SearchKind.issue)


def kind_and_id(key: int) -> tuple[SearchKind, int]:
    if key > 0:
        return SearchKind.statement, key
    return (SearchKind.party if -key % 2 == 0 else SearchKind.issue), -key // 2


def facet(name: str, value: object) -> str:
    """The token a statement's document carries for a filter's value (`_party_3`)."""
    return f"_{name}_{value}"


SQLITE_INDEX = table(
    "search_index",
    column("rowid", BigInteger),
    column("en", String),
    column("de", String),
    column("facets", String),
)
POSTGRESQL_INDEX = table("search_index", column("key", BigInteger), column("document", TSVECTOR))


@dataclass(frozen=True)
class Changes:
    """Rows whose documents a write changed, by id; a row that no longer exists loses its document."""

    statements: set[int] = field(default_factory=set)
    parties: set[int] = field(default_factory=set)
    issues: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.statements or self.parties or self.issues)


# --- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    key: int
    fields: tuple[str, ...]
    facets: tuple[str, ...] = ()


def _sqlite_row(document: Document) -> dict[str, Any]:
    found = [stem_sequence(text_of_field) for text_of_field in document.fields]
    gap = f" {FIELD_GAP} "
    english = gap.join([" ".join([word.english for word in field_words]) for field_words in found])
    german = gap.join([" ".join([word.german for word in field_words]) for field_words in found])
    return {"rowid": document.key, "en": english, "de": german, "facets": " ".join(document.facets)}


def _postgresql_row(document: Document) -> dict[str, Any]:
    found = [stem_sequence(text_of_field) for text_of_field in document.fields]
    positions: dict[str, list[int]] = {}
    position = 0
    for reading in (0, 1):  # the English stems, then the German ones
        for field_words in found:
            position += 1  # an unused position: no phrase spans a field's end
            for word in field_words:
                position += 1
                positions.setdefault(word[reading], []).append(position)
    for token in document.facets:
        position += 1
        positions.setdefault(token, []).append(position)
    literal = " ".join(f"'{_quoted(lexeme)}':{','.join(map(str, at))}" for lexeme, at in positions.items())
    return {"key": document.key, "document": literal}


def _quoted(lexeme: str) -> str:
    return lexeme.replace("\\", "\\\\").replace("'", "''")


# Each kind of row as (id, fields...); a list (a party's aliases) is a field per item.
_STATEMENT_ROWS = select(
    col(Statement.id),
    col(Statement.quote),
    col(Statement.summary),
    col(Statement.speaker),
    col(Statement.party_id),
    col(Statement.issue_id),
    col(Statement.source_id),
    col(Statement.stance),
    col(Statement.retracted_at),
)
_PARTY_ROWS = select(col(Party.id), col(Party.name), col(Party.aliases))
_ISSUE_ROWS = select(col(Issue.id), col(Issue.title), col(Issue.proposition))


def statement_document(statement_id: int, values: Mapping[Any, Any]) -> Document:
    """A statement's document from its column values (`quote`, `summary`, `speaker`, `party_id`,
    `issue_id`, `source_id`, `stance`, `retracted_at`)."""
    facets = [facet(name, values[f"{name}_id"]) for name in ("party", "issue", "source")]
    facets.append(facet("stance", values["stance"]))
    if values["retracted_at"] is not None:
        facets.append(RETRACTED)
    return Document(statement_id, (values["quote"], values["summary"], values["speaker"] or ""), tuple(facets))


def _statement_document(row: Row[Any]) -> Document:
    return statement_document(row.id, row._mapping)


def _party_document(row: Row[Any]) -> Document:
    party_id, name, aliases = tuple(row)
    return Document(document_key(SearchKind.party, party_id), (name, *aliases))


def _issue_document(row: Row[Any]) -> Document:
    issue_id, title, proposition = tuple(row)
    return Document(document_key(SearchKind.issue, issue_id), (title, proposition))


@dataclass(frozen=True)
class _Source:
    """Where the documents of one kind come from."""

    kind: SearchKind
    rows: Any  # a Select of (id, fields...)
    document: Callable[[Row[Any]], Document]

    def of(self, connection: Connection, ids: Sequence[int]) -> list[Document]:
        return [
            self.document(row) for row in connection.execute(self.rows.where(self.rows.selected_columns[0].in_(ids)))
        ]

    def every(self, connection: Connection) -> Iterator[Document]:
        """Every row's document, read a chunk of ids at a time: memory stays bounded."""
        id_column = self.rows.selected_columns[0]
        last_id = 0
        while chunk := connection.execute(
            self.rows.where(id_column > last_id).order_by(id_column).limit(_ID_CHUNK)
        ).all():
            yield from map(self.document, chunk)
            last_id = chunk[-1][0]


_STATEMENTS = _Source(SearchKind.statement, _STATEMENT_ROWS, _statement_document)
_PARTIES = _Source(SearchKind.party, _PARTY_ROWS, _party_document)
_ISSUES = _Source(SearchKind.issue, _ISSUE_ROWS, _issue_document)


def _insert(connection: Connection, documents: Iterable[Document]) -> int:
    sqlite = connection.dialect.name == "sqlite"
    written = 0
    documents = iter(documents)
    while batch := list(islice(documents, _BATCH)):
        if sqlite:
            connection.execute(insert(SQLITE_INDEX), [_sqlite_row(document) for document in batch])
        else:
            literal = cast(bindparam("document", type_=String), TSVECTOR)
            connection.execute(
                insert(POSTGRESQL_INDEX).values(key=bindparam("key"), document=literal),
                [_postgresql_row(document) for document in batch],
            )
        written += len(batch)
    return written


# --- keeping it current ------------------------------------------------------------------------


def _chunks(ids: set[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _ID_CHUNK):
        yield ordered[start : start + _ID_CHUNK]


def _delete_keys(connection: Connection, keys: list[int]) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(delete(SQLITE_INDEX).where(SQLITE_INDEX.c.rowid.in_(keys)))
    else:
        connection.execute(delete(POSTGRESQL_INDEX).where(POSTGRESQL_INDEX.c.key.in_(keys)))


def update_documents(connection: Connection, changes: Changes) -> None:
    """Replaces the documents of the rows a write changed, in its transaction, before it commits."""
    _refuse_a_newer_format(projections.stored_format(connection, PROJECTION))
    changed = ((changes.statements, _STATEMENTS), (changes.parties, _PARTIES), (changes.issues, _ISSUES))
    for ids, source in changed:
        for chunk in _chunks(ids):
            _delete_keys(connection, [document_key(source.kind, object_id) for object_id in chunk])
            _insert(connection, source.of(connection, chunk))


def add_statements(connection: Connection, statements: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """Adds the documents of statements just inserted (id, column values), in their transaction."""
    _refuse_a_newer_format(projections.stored_format(connection, PROJECTION))
    _insert(connection, (statement_document(statement_id, values) for statement_id, values in statements))


def rebuild_all(connection: Connection) -> int:
    """Every document from scratch; returns how many were written."""
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        # Building the GIN index once over all rows is much faster than growing it row by row.
        connection.execute(text("DROP INDEX ix_search_index_document"))
        connection.execute(text("TRUNCATE search_index"))
    else:
        connection.execute(delete(SQLITE_INDEX))
    written = sum(_insert(connection, source.every(connection)) for source in (_PARTIES, _ISSUES, _STATEMENTS))
    if postgresql:
        connection.execute(text("CREATE INDEX ix_search_index_document ON search_index USING gin (document)"))
    else:
        # One b-tree per term instead of the many segments inserting in batches leaves.
        connection.execute(text("INSERT INTO search_index(search_index) VALUES ('optimize')"))
    return written


def _is_current(connection: Connection) -> bool:
    """Built in this format, and not left empty while there is something to find (rows loaded with SQL)."""
    if projections.stored_format(connection, PROJECTION) != FORMAT:
        return False
    key = SQLITE_INDEX.c.rowid if connection.dialect.name == "sqlite" else POSTGRESQL_INDEX.c.key
    if connection.execute(select(key).limit(1)).first() is not None:
        return True
    return all(
        connection.execute(select(id_column).limit(1)).first() is None
        for id_column in (col(Party.id), col(Issue.id), col(Statement.id))
    )


def ensure_current(engine: Engine) -> bool:
    """Rebuilds every document if the index was built in another format, or never; True if it did.

    Safe to run from several processes at once: the check is repeated under the write lock
    (SQLite's; the projection row's on PostgreSQL), so one rebuilds and the others find it done.
    """
    with engine.connect() as connection:
        if _is_current(connection):
            return False
    with engine.begin() as connection:
        lock = update(Projection).where(col(Projection.name) == PROJECTION).values(format=col(Projection.format))
        connection.execute(lock)
        if _is_current(connection):
            return False
        # Writers wait behind the rebuild: every write bumps the version first.
        bump(connection)
        written = rebuild_all(connection)
        connection.execute(update(Projection).where(col(Projection.name) == PROJECTION).values(format=FORMAT))
    logger.info("rebuilt the search index (format %s): %s documents", FORMAT, written)
    return True


def _refuse_a_newer_format(stored: int | None) -> None:
    """A server of an older release, still running beside a newer one that rebuilt the index in
    its own format, must not write documents in the old one: it answers 503 until it is replaced."""
    if stored is not None and stored > FORMAT:
        raise OutdatedServer(
            f"This server writes search index format {FORMAT}, and the database holds format {stored}; "
            "nothing was changed. Retry: a server of the newer release can answer."
        )


# --- queries -----------------------------------------------------------------------------------


def fts5_query(clauses: list[Clause], facets: Sequence[str] = (), *, include_retracted: bool = True) -> str:
    """An FTS5 MATCH expression: every clause, each in any of its readings, and every facet token.
    Every stem is a quoted string, so nothing the user typed is read as FTS5 syntax."""

    def string(words_in_order: Sequence[str]) -> str:
        return '"' + " ".join(words_in_order).replace('"', '""') + '"'

    terms = ["(" + " OR ".join(map(string, clause.readings())) + ")" for clause in clauses]
    expression = " AND ".join([*terms, *(string([token]) for token in facets)])
    return expression if include_retracted else f"({expression}) NOT {string([RETRACTED])}"


def tsquery_literal(clauses: list[Clause], facets: Sequence[str] = (), *, include_retracted: bool = True) -> str:
    """The same as a tsquery literal: a phrase's words follow each other (`<->`)."""

    def phrase(words_in_order: Sequence[str]) -> str:
        return "(" + " <-> ".join(f"'{_quoted(stem)}'" for stem in words_in_order) + ")"

    terms = ["(" + " | ".join(map(phrase, clause.readings())) + ")" for clause in clauses]
    expression = " & ".join([*terms, *(phrase([token]) for token in facets)])
    return expression if include_retracted else f"({expression}) & !{phrase([RETRACTED])}"
