"""Position history: every matrix cell's position as a function of the date, stored as spans.

A cell's position as of a date (its newest standing statement, how many statements stand and
since when) changes only on the days a statement of that cell was stated or a retraction of one
took effect. Between two such days it is constant; each stretch is one `PositionSpan` row, which
holds the cell's stance and the whole cell as the matrix serves it. These rows are derived from
statements, sources, anchoring flags and the party's and issue's slugs, and rebuilt from them
(app/services/position_history.py).

A span is found by one integer key, `span_key(cell, day)`: the cell's number times DAYS_PER_CELL
plus the day's ordinal. The span holding a date is then the greatest key at or below the date's,
within the cell's range of keys. On SQLite that key is the rowid: one descent of the table's own
B-tree, whose interior pages hold nothing but integers and stay in memory. (A composite key of
party, issue and date needs a second index or, clustered, carries the stored cells up into its
interior pages: both cost two to three times as much per cell there.) On PostgreSQL it is one
primary-key index probe and the row, as with any key.
"""

from datetime import date

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlmodel import Column, Field, SQLModel

# Every date's ordinal (date.max's is 3,652,059) is below 2**22.
DAYS_PER_CELL = 2**22


class PositionCell(SQLModel, table=True):
    """A party × issue pair that has statements; its number keys its spans."""

    __tablename__ = "position_cell"
    __table_args__ = (UniqueConstraint("party_id", "issue_id", name="uq_position_cell_party_issue"),)

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(
        sa_column=Column(Integer, ForeignKey("party.id", name="fk_position_cell_party"), nullable=False)
    )
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", name="fk_position_cell_issue"), nullable=False)
    )


class PositionSpan(SQLModel, table=True):
    """A cell's position from its day (see `span_key`) until the cell's next span, or for good."""

    __tablename__ = "position_span"

    # INTEGER on SQLite, where that makes it the rowid itself; 64 bits elsewhere.
    span_key: int = Field(
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    )
    # Null, as are the stance and cell, when every statement of the cell has been retracted by the
    # span's day.
    statement_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("statement.id", name="fk_position_span_statement"), nullable=True),
    )
    # What diffs compare, in a column of its own.
    stance: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    # The whole cell as UTF-8 JSON, exactly as the matrix and diffs serve it, party and issue slugs
    # included (so renaming a party or an issue rebuilds its spans). Bytes: embedded, never parsed.
    cell: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


def span_key(cell_id: int, day: date) -> int:
    return cell_id * DAYS_PER_CELL + day.toordinal()


def cell_key_range(cell_id: int) -> tuple[int, int]:
    """The first and last possible key of a cell's spans."""
    return cell_id * DAYS_PER_CELL, (cell_id + 1) * DAYS_PER_CELL - 1


def span_cell_and_day(key: int) -> tuple[int, date]:
    """The cell number and the first day of the span with this key."""
    cell_id, ordinal = divmod(key, DAYS_PER_CELL)
    return cell_id, date.fromordinal(ordinal)


class Projection(SQLModel, table=True):
    """The format of a derived table's rows; when it differs from the code's, the table is rebuilt."""

    __tablename__ = "projection"

    name: str = Field(primary_key=True, max_length=64)
    format: int
