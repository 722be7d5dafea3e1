"""Finding what was said: parties, issues and statements that match a query, ranked.

The engine's full-text index (app/services/search_index.py) finds the documents that hold every
word of the query, and applies the statement filters with them. Parties and issues come first,
then statements, each ranked by relevance: how often the query's words occur in a document, for
its length. On SQLite that is BM25's term-frequency part, the matches counted by FTS5's
`highlight()`; on PostgreSQL `ts_rank`. Neither weighs how rare a word is: FTS5's own `bm25()`
learns that by reading the entry of every document that holds each query word, on every query, a
cost that grows with the data for the words most statements share.

Candidates are ranked a window at a time: the WINDOW most recently recorded matches, ranked, then
the WINDOW before them, ranked, and so on. A query with no more matches than that is ranked as a
whole, and a search reads about as much however many statements match. A cursor holds the last
result's window, score and key, and the next page continues from there; a write between two pages
can move results across the cursor, as in any ranked list.

The page's objects are then read, and the matched words found again in their fields
(app/services/search_terms.py) for the snippet and the quote's highlights.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Double, String, bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.sql.elements import ColumnClause
from sqlmodel import Session, col

from app.errors import InvalidField
from app.models.issue import Issue, IssuePublic
from app.models.party import Party, PartyPublic
from app.models.search import SearchKind, SearchResult, Snippet, SnippetField, TextSpan
from app.models.statement import Statement, StatementPublic
from app.services.issues import issues
from app.services.pagination import RankedPosition, decode_ranked_cursor, encode_ranked_cursor
from app.services.parties import parties
from app.services.search_index import (
    POSTGRESQL_INDEX,
    SQLITE_INDEX,
    facet,
    fts5_query,
    kind_and_id,
    tsquery_literal,
)
from app.services.search_terms import Clause, matched_spans, parse_query
from app.services.statements import StatementFilter, get_statements

WINDOW = 200
SNIPPET_CHARS = 200
# How much of a long field's text comes before its first match in a snippet.
SNIPPET_LEAD = 60
# BM25's term-frequency saturation and length normalisation, at their usual values.
_K1 = 1.2
_B = 0.75


@dataclass(frozen=True)
class SearchFilter:
    """`kind`, and the statement filters; any of these but `include_retracted` leaves parties and issues out."""

    kind: SearchKind | None = None
    statements: StatementFilter = field(default_factory=StatementFilter)

    def narrows_statements(self) -> bool:
        chosen = self.statements
        return any(
            value is not None
            for value in (
                chosen.party,
                chosen.issue,
                chosen.source,
                chosen.stance,
                chosen.speaker,
                chosen.stated_from,
                chosen.stated_to,
            )
        )

    def kinds(self) -> set[SearchKind]:
        if self.narrows_statements() and self.kind not in (None, SearchKind.statement):
            raise InvalidField(
                "kind",
                f"party, issue, source, stance, speaker, stated_from and stated_to select statements; kind={self.kind} "
                "finds none. Leave out kind, or those filters.",
            )
        if self.kind is not None:
            return {self.kind}
        return {SearchKind.statement} if self.narrows_statements() else set(SearchKind)


@dataclass(frozen=True)
class _Match:
    """What the index is asked: the words and the filter tokens; the speaker and the dates are
    read from the statements."""

    clauses: list[Clause]
    facets: list[str]
    include_retracted: bool
    speaker: str | None
    stated_from: date | None
    stated_to: date | None


@dataclass(frozen=True)
class _Segment:
    """The documents of some kinds, in a range of keys: parties and issues below 0, statements above."""

    kinds: frozenset[SearchKind]
    statements: bool

    def holds(self, key: int) -> bool:
        return (key > 0) == self.statements


def _segments(kinds: set[SearchKind]) -> list[_Segment]:
    entities = frozenset(kinds - {SearchKind.statement})
    segments = [_Segment(entities, statements=False)] if entities else []
    return segments + (
        [_Segment(frozenset({SearchKind.statement}), statements=True)] if SearchKind.statement in kinds else []
    )


@dataclass(frozen=True)
class _Hit:
    key: int
    score: float
    window: int  # the exclusive upper bound of the keys of the window it was ranked in

    def follows(self, position: RankedPosition) -> bool:
        """Whether it comes after `position` in the ranking: lower score, then older (lower key)."""
        return self.score < position.score or (self.score == position.score and self.key < position.after)


def _bm25_frequency(occurrences: int, words: int, average_words: float) -> float:
    return occurrences * (_K1 + 1) / (occurrences + _K1 * (1 - _B + _B * words / average_words))


def _sqlite_window(session: Session, match: _Match, conditions: list[Any]) -> list[tuple[int, float]]:
    index = SQLITE_INDEX
    table_name: ColumnClause[Any] = literal_column("search_index")
    # highlight() marks each match with char(1): the marks counted are the matches in the column.
    occurrences = [
        func.length(func.highlight(table_name, column, func.char(1), "")) - func.length(text_of_column)
        for column, text_of_column in ((0, index.c.en), (1, index.c.de))
    ]
    words = func.length(index.c.en) - func.length(func.replace(index.c.en, " ", "")) + 1
    expression = fts5_query(match.clauses, match.facets, include_retracted=match.include_retracted)
    query = (
        select(index.c.rowid, *occurrences, words)
        .where(text("search_index MATCH :match").bindparams(match=expression), *conditions)
        .order_by(index.c.rowid.desc())
        .limit(WINDOW)
    )
    found = session.execute(_with_statement_columns(query, index.c.rowid, match)).all()
    if not found:
        return []
    average_words = sum(row[3] for row in found) / len(found)
    return [
        (key, _bm25_frequency(english, words, average_words) + _bm25_frequency(german, words, average_words))
        for key, english, german, words in found
    ]


def _postgresql_window(session: Session, match: _Match, conditions: list[Any]) -> list[tuple[int, float]]:
    index = POSTGRESQL_INDEX

    def tsquery(literal: str, name: str) -> Any:
        return cast(bindparam(name, literal, type_=String), TSQUERY)

    literal = tsquery_literal(match.clauses, match.facets, include_retracted=match.include_retracted)
    candidates = (
        select(index.c.key, index.c.document)
        .where(index.c.document.op("@@")(tsquery(literal, "tsquery")), *conditions)
        .order_by(index.c.key.desc())
        .limit(WINDOW)
    )
    window = _with_statement_columns(candidates, index.c.key, match).subquery("window")
    # Ranked by the words alone: ts_rank scores an AND with a term of no weight as 0, and the
    # filter tokens are no evidence of relevance anyway. As double precision, exactly: a cursor
    # compares the score it carries with the next page's.
    words = tsquery(tsquery_literal(match.clauses), "words")
    score = cast(func.ts_rank(window.c.document, words), Double)
    return [(row[0], row[1]) for row in session.execute(select(window.c.key, score).order_by(window.c.key.desc()))]


def _with_statement_columns(query: Any, key: Any, match: _Match) -> Any:
    """The query, joined to the statements when a filter reads their columns."""
    conditions = []
    if match.speaker is not None:
        conditions.append(col(Statement.speaker) == match.speaker)
    if match.stated_from is not None:
        conditions.append(col(Statement.stated_on) >= match.stated_from)
    if match.stated_to is not None:
        conditions.append(col(Statement.stated_on) <= match.stated_to)
    return query.join(Statement, col(Statement.id) == key).where(*conditions) if conditions else query


def _ranked_window(
    session: Session, match: _Match, segment: _Segment, upper: int | None
) -> tuple[list[_Hit], int | None]:
    """The window of candidates of `segment` below `upper` (from its newest when None), ranked, and
    the upper bound of the next window (None when this one was the last)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    key = SQLITE_INDEX.c.rowid if sqlite else POSTGRESQL_INDEX.c.key
    conditions = [key > 0] if segment.statements else [key < 0]
    if upper is not None:
        conditions.append(key < upper)
    if not segment.statements and len(segment.kinds) == 1:  # parties' keys are even, issues' odd
        conditions.append((-key) % 2 == (0 if SearchKind.party in segment.kinds else 1))
    window = (_sqlite_window if sqlite else _postgresql_window)(session, match, conditions)
    if not window:
        return [], None
    keys = [found_key for found_key, _ in window]
    bound = upper if upper is not None else max(keys) + 1
    hits = sorted(
        (_Hit(found_key, score, bound) for found_key, score in window), key=lambda hit: (-hit.score, -hit.key)
    )
    return hits, (min(keys) if len(window) == WINDOW else None)


def _hits(session: Session, match: _Match, kinds: set[SearchKind], *, limit: int, cursor: str | None) -> list[_Hit]:
    """Up to `limit + 1` results in ranking order, from after the cursor."""
    position = decode_ranked_cursor(cursor) if cursor is not None else None
    found: list[_Hit] = []
    for segment in _segments(kinds):
        if position is not None and not segment.holds(position.after):
            if segment.statements:  # the cursor is among the parties and issues, before every statement
                position = None
            else:
                continue
        upper = position.window if position is not None else None
        while len(found) <= limit:
            hits, upper = _ranked_window(session, match, segment, upper)
            if position is not None:
                hits = [hit for hit in hits if hit.follows(position)]
                position = None
            found.extend(hits)
            if upper is None:
                break
        if len(found) > limit:
            break
    return found[: limit + 1]


def _snippet(fields: Sequence[tuple[SnippetField, str, list[tuple[int, int]]]]) -> Snippet:
    """The passage of the field with the most matches (the first field on a tie), cut to about
    SNIPPET_CHARS around its first match, at spaces. Each field comes with its matches."""
    candidates = [(name, text, spans) for name, text, spans in fields if text]
    if not candidates:
        return Snippet(field=fields[0][0], text="", highlights=[])
    name, text_of_field, spans = max(candidates, key=lambda candidate: len(candidate[2]))
    start, end = 0, len(text_of_field)
    if len(text_of_field) > SNIPPET_CHARS:
        first_start, first_end = spans[0] if spans else (0, 0)
        start = max(0, first_start - SNIPPET_LEAD)
        if start > 0:  # from the start of a word
            space = text_of_field.find(" ", start, first_start)
            start = space + 1 if space >= 0 else start
        end = min(len(text_of_field), start + SNIPPET_CHARS)
        if end < len(text_of_field):  # to the end of a word
            space = text_of_field.rfind(" ", first_end, end)
            end = space if space >= 0 else end
    lead = "…" if start > 0 else ""
    shift = len(lead) - start
    highlights = [
        TextSpan(start=span_start + shift, end=min(span_end, end) + shift)
        for span_start, span_end in spans
        if start <= span_start < end
    ]
    tail = "…" if end < len(text_of_field) else ""
    return Snippet(field=name, text=lead + text_of_field[start:end] + tail, highlights=highlights)


def _spans(text_of_field: str, clauses: list[Clause]) -> list[tuple[int, int]]:
    return matched_spans(text_of_field, clauses) if text_of_field else []


def _statement_result(score: float, statement: StatementPublic, clauses: list[Clause]) -> SearchResult:
    quote_spans = _spans(statement.quote, clauses)
    fields: list[tuple[SnippetField, str, list[tuple[int, int]]]] = [
        ("quote", statement.quote, quote_spans),
        ("summary", statement.summary, _spans(statement.summary, clauses)),
        ("speaker", statement.speaker or "", _spans(statement.speaker or "", clauses)),
    ]
    return SearchResult(
        kind=SearchKind.statement,
        score=score,
        snippet=_snippet(fields),
        statement=statement,
        quote_matches=[TextSpan(start=start, end=end) for start, end in quote_spans],
        party=None,
        issue=None,
    )


def _party_result(score: float, party: PartyPublic, clauses: list[Clause]) -> SearchResult:
    names: list[tuple[SnippetField, str]] = [("name", party.name), *(("aliases", alias) for alias in party.aliases)]
    snippet = _snippet([(field_name, name, _spans(name, clauses)) for field_name, name in names])
    return SearchResult(
        kind=SearchKind.party, score=score, snippet=snippet, statement=None, quote_matches=[], party=party, issue=None
    )


def _issue_result(score: float, issue: IssuePublic, clauses: list[Clause]) -> SearchResult:
    fields: list[tuple[SnippetField, str, list[tuple[int, int]]]] = [
        ("title", issue.title, _spans(issue.title, clauses)),
        ("proposition", issue.proposition, _spans(issue.proposition, clauses)),
    ]
    return SearchResult(
        kind=SearchKind.issue,
        score=score,
        snippet=_snippet(fields),
        statement=None,
        quote_matches=[],
        party=None,
        issue=issue,
    )


def _match(session: Session, clauses: list[Clause], filters: StatementFilter) -> _Match:
    facets = []
    if filters.party is not None:
        facets.append(facet("party", parties.resolve(session, filters.party, "party").id))
    if filters.issue is not None:
        facets.append(facet("issue", issues.resolve(session, filters.issue, "issue").id))
    if filters.source is not None:
        facets.append(facet("source", filters.source))
    if filters.stance is not None:
        facets.append(facet("stance", filters.stance.value))
    return _Match(clauses, facets, filters.include_retracted, filters.speaker, filters.stated_from, filters.stated_to)


def _results(session: Session, hits: list[_Hit], clauses: list[Clause]) -> Iterator[SearchResult]:
    """The results of the hits, in their order, each with its object read in one query per kind."""
    ids: dict[SearchKind, list[int]] = {kind: [] for kind in SearchKind}
    for hit in hits:
        kind, object_id = kind_and_id(hit.key)
        ids[kind].append(object_id)
    statements = get_statements(session, ids[SearchKind.statement])
    found_parties = {
        row.id: PartyPublic.model_validate(row)
        for row in session.execute(select(Party).where(col(Party.id).in_(ids[SearchKind.party]))).scalars()
    }
    found_issues = {
        row.id: IssuePublic.model_validate(row)
        for row in session.execute(select(Issue).where(col(Issue.id).in_(ids[SearchKind.issue]))).scalars()
    }
    for hit in hits:
        kind, object_id = kind_and_id(hit.key)
        # Each document's row exists (both change in one transaction); one deleted by hand is left out.
        if kind == SearchKind.statement and object_id in statements:
            yield _statement_result(hit.score, statements[object_id], clauses)
        elif kind == SearchKind.party and object_id in found_parties:
            yield _party_result(hit.score, found_parties[object_id], clauses)
        elif kind == SearchKind.issue and object_id in found_issues:
            yield _issue_result(hit.score, found_issues[object_id], clauses)


def search(
    session: Session, query: str, filters: SearchFilter, *, limit: int, cursor: str | None
) -> tuple[list[SearchResult], str | None]:
    clauses = parse_query(query)
    kinds = filters.kinds()
    match = _match(session, clauses, filters.statements)
    hits = _hits(session, match, kinds, limit=limit, cursor=cursor)
    results = list(_results(session, hits[:limit], clauses))
    if len(hits) <= limit:
        return results, None
    last = hits[limit - 1]
    return results, encode_ranked_cursor(RankedPosition(last.window, last.score, last.key))
