from datetime import date

from sqlalchemy import ForeignKey, Integer
from sqlmodel import Column, Field, SQLModel


class EvidenceTally(SQLModel, table=True):
    """Statements per party × issue × calendar month: how many were stated in that month and how
    many retractions took effect in it. Counting standing statements as of a date then reads a few
    tally rows per cell instead of every statement (see app/services/evidence.py)."""

    __tablename__ = "evidence_tally"
    # Clustered by cell and month in SQLite: the sums read contiguous rows.
    __table_args__ = {"sqlite_with_rowid": False}

    party_id: int = Field(sa_column=Column(Integer, ForeignKey("party.id"), primary_key=True))
    issue_id: int = Field(sa_column=Column(Integer, ForeignKey("issue.id"), primary_key=True))
    month: date = Field(primary_key=True, description="First day of the month.")
    stated: int = 0
    retracted: int = 0
