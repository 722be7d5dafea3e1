"""The change feed: one row per change of a cell's position, written in the transaction of the
write that caused it (app/services/change_feed.py)."""

import enum
from datetime import date, datetime

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from app.models.common import UTCDateTime
from app.models.matrix import Cell


class PositionChange(enum.StrEnum):
    """How a cell's position changed, as the diff classes say, plus `restated`: new evidence for
    the same stance (the cell now cites another statement)."""

    new = "new"
    shifted = "shifted"
    reversed = "reversed"
    withdrawn = "withdrawn"
    restated = "restated"


class ChangeEvent(SQLModel, table=True):
    __tablename__ = "change_event"
    __table_args__ = (
        Index("ix_change_event_party", "party_id", "id"),
        Index("ix_change_event_issue", "issue_id", "id"),
        # Ids are never reused, not even the highest after a delete: clients resume from them.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    # No foreign keys: an event stays what it was whatever happens to the rows it names.
    party_id: int = Field(sa_column=Column(Integer, nullable=False))
    issue_id: int = Field(sa_column=Column(Integer, nullable=False))
    change: str = Field(sa_column=Column(String(16), nullable=False))
    # The cell before and after, as the matrix served it (UTF-8 JSON); null where there was no position.
    before: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    after: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    # The day the new position holds from: the statement's day, or the retraction's.
    stated_on: date
    # The write: its first audit event (null for a write that records none), the token's name, when.
    audit_event_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    actor: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    at: datetime = Field(sa_type=UTCDateTime)


class ChangeCause(BaseModel):
    """The write that changed the position."""

    audit_event: int | None = PydanticField(description="Its (first) audit event; null if it recorded none.")
    actor: str | None = PydanticField(description="The name of the token that wrote it.")
    at: datetime = PydanticField(description="When it was committed.")


class ChangeEventPublic(BaseModel):
    id: int = PydanticField(description="Increases in commit order; pass the last one seen as `after`.")
    party: str
    issue: str
    change: PositionChange
    before: Cell | None = PydanticField(description="The cell as the matrix served it before; null: no position.")
    after: Cell | None = PydanticField(description="The cell as the matrix serves it since; null: no position.")
    stated_on: date = PydanticField(
        description="The day the new position holds from (the statement's or the retraction's)."
    )
    caused_by: ChangeCause
