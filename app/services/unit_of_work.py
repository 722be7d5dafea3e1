"""How a write commits: every writing service ends with `commit`, naming what it changed.

What is derived from the stored rows is brought up to date in the write's own transaction, in
this order: the audit event joins it, the data version is bumped (views cached under the old
version are not served again), the position history of the cells the write changed is rebuilt
(a server older than that history's format refuses, 503), an event is recorded in the change feed
for each of those cells whose position changed, with a delivery for every webhook wanting it, the
search documents of the statements, parties and issues it changed are replaced, and everything
commits together; a failure at any step leaves all of it as it was.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from app.services import change_feed, position_history, search_index, webhook_outbox
from app.services.audit import AuditEntry, first_of_write, forget_write, record
from app.services.data_version import bump
from app.services.positions import CellKey


def commit(
    session: Session,
    *,
    audit: AuditEntry | None = None,
    statements: Iterable[int] = (),
    sources: Iterable[int] = (),
    cells: Iterable[CellKey] = (),
    parties: Iterable[int] = (),
    issues: Iterable[int] = (),
    refresh: Iterable[object] = (),
) -> None:
    """Commits the session's write with its effects.

    `statements`, `sources` and `cells` name what changed in a way the matrix shows: the cells of
    those statements, the cells quoting or having quoted those sources (their titles and dates are
    shown), and cells named outright (one a statement moved out of) are rebuilt. A write that
    changes none of them (a party, an issue, a token) still bumps the version. The search index
    follows `statements`, `parties` and `issues` (their ids; one deleted loses its document).
    `refresh` reloads what the caller returns, which the commit expired.
    """
    if audit is not None:
        record(session, audit)
    session.flush()
    # First: on PostgreSQL the bump locks the version row until the commit, so no two writers
    # rebuild the same cell at once, and each rebuild reads every write committed before it.
    bump(session)
    statement_ids = set(statements)
    changed = position_history.Changes(statements=statement_ids, sources=set(sources), cells=set(cells))
    if changed:
        connection = session.connection()
        rebuilt = position_history.cells_to_rebuild(connection, changed)
        before = change_feed.positions(connection, rebuilt)
        position_history.rebuild_cells(connection, rebuilt)
        after = change_feed.positions(connection, rebuilt)
        cause = change_feed.Cause.of(first_of_write(session))
        events = change_feed.record_changes(connection, before, after, rebuilt, cause)
        webhook_outbox.enqueue(connection, events)
    searchable = search_index.Changes(statements=statement_ids, parties=set(parties), issues=set(issues))
    if searchable:
        search_index.update_documents(session.connection(), searchable)
    session.commit()
    forget_write(session)
    for instance in refresh:
        session.refresh(instance)


def statements_inserted(session: Session, statements: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """For a write too large to name its statements at `commit` (a bulk import, whose memory must
    not grow with the file): adds the search documents of statements just inserted (id, column
    values) to the transaction now, batch by batch. `commit` still ends the write."""
    search_index.add_statements(session.connection(), statements)
