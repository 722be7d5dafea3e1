"""Counting the standing statements behind each matrix cell without reading them all.

The evidence tally keeps, per party × issue × month, how many statements were stated in that
month and how many retractions took effect in it. Standing statements as of a date D are then
    (tallies of the months before D's month)
  + (statements stated from the first of D's month up to D)
  - (retractions effective from the first of D's month up to D),
which reads about one row per cell and month plus one month of statements. A retraction never
predates its statement, so a retracted statement is always counted as stated first.
"""

from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.models.evidence import EvidenceTally
from app.models.statement import Statement

if TYPE_CHECKING:
    from app.services.positions import CellKey, Scope


def month_of(day: date) -> date:
    return day.replace(day=1)


def tally(session: Session, party_id: int, issue_id: int, month: date, *, stated: int = 0, retracted: int = 0) -> None:
    """Add to a month's tally, creating it when needed; atomic under concurrent writers."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(EvidenceTally).values(
        party_id=party_id, issue_id=issue_id, month=month, stated=stated, retracted=retracted
    )
    statement = statement.on_conflict_do_update(
        index_elements=["party_id", "issue_id", "month"],
        set_={
            "stated": EvidenceTally.stated + statement.excluded.stated,
            "retracted": EvidenceTally.retracted + statement.excluded.retracted,
        },
    )
    session.exec(statement)


def _in_cells(model: Any) -> list[Any]:
    return [
        model.party_id.in_(bindparam("party_ids", expanding=True)),
        model.issue_id.in_(bindparam("issue_ids", expanding=True)),
    ]


def _count_per_cell(*conditions: Any) -> Any:
    return (
        select(Statement.party_id, Statement.issue_id, func.count())
        .where(*conditions)
        .group_by(Statement.party_id, Statement.issue_id)
    )


@cache
def _queries() -> dict[str, Any]:
    """Built once with bound parameters, so SQLAlchemy compiles each a single time."""
    month_start = bindparam("month_start", type_=Date)
    as_of = bindparam("as_of", type_=Date)
    from app.services.positions import standing

    return {
        "from_source": _count_per_cell(standing(Statement, from_source=True)),
        "earlier_months": select(
            EvidenceTally.party_id, EvidenceTally.issue_id, func.sum(EvidenceTally.stated - EvidenceTally.retracted)
        )
        .where(EvidenceTally.month < month_start, *_in_cells(EvidenceTally))
        .group_by(EvidenceTally.party_id, EvidenceTally.issue_id),
        "stated_this_month": _count_per_cell(
            Statement.stated_on >= month_start, Statement.stated_on <= as_of, *_in_cells(Statement)
        ),
        "retracted_this_month": _count_per_cell(
            Statement.retracted_on >= month_start, Statement.retracted_on <= as_of, *_in_cells(Statement)
        ),
    }


def evidence_counts(session: Session, scope: "Scope") -> dict["CellKey", int]:
    """Standing statements per cell as of `scope.as_of`; cells with none are absent."""
    queries = _queries()
    connection = session.connection()
    if scope.source_id is not None:
        # One source holds few statements: count them directly.
        rows = connection.execute(queries["from_source"], scope.params()).all()
        return {(party_id, issue_id): count for party_id, issue_id, count in rows}

    params = {**scope.params(), "month_start": month_of(scope.as_of)}
    counts: dict[CellKey, int] = {}
    for name, sign in (("earlier_months", 1), ("stated_this_month", 1), ("retracted_this_month", -1)):
        for party_id, issue_id, count in connection.execute(queries[name], params).all():
            counts[(party_id, issue_id)] = counts.get((party_id, issue_id), 0) + sign * int(count)
    return {key: count for key, count in counts.items() if count > 0}
