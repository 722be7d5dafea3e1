"""Position history: every matrix cell's position as a function of the date, stored as spans.

A cell's position as of a date (its newest standing statement, how many statements stand and
since when) changes only on the days a statement of that cell was stated or a retraction of one
took effect. Between two such days it is constant; each stretch is one `PositionSpan` row, which
holds the cell as the matrix serves it. These rows are derived from statements, sources and
anchoring flags, and rebuilt from them (app/services/position_history.py).
"""

from datetime import date

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlmodel import Column, Field, SQLModel


class PositionSpan(SQLModel, table=True):
    """A cell's position from `valid_from` until the cell's next span (or for good)."""

    __tablename__ = "position_span"
    # Clustered by cell and date in SQLite: the span for a date is found and read in one descent.
    __table_args__ = {"sqlite_with_rowid": False}

    party_id: int = Field(sa_column=Column(Integer, ForeignKey("party.id"), primary_key=True))
    issue_id: int = Field(sa_column=Column(Integer, ForeignKey("issue.id"), primary_key=True))
    valid_from: date = Field(primary_key=True)
    # Both null when every statement of the cell has been retracted by `valid_from`.
    statement_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("statement.id"), nullable=True))
    # The matrix cell as UTF-8 JSON, without its `party` and `issue` slugs (added when it is served,
    # so renaming a party touches no span). Bytes, not text: served as they are, never decoded.
    cell: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class Projection(SQLModel, table=True):
    """The format of a derived table's rows; when it differs from the code's, the table is rebuilt."""

    __tablename__ = "projection"

    name: str = Field(primary_key=True, max_length=64)
    format: int
