from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from app.models.common import UTCDateTime, utcnow


class DataVersion(SQLModel, table=True):
    """One row whose `version` every write bumps in its own transaction, so every server process
    derives the same ETags from the database alone."""

    __tablename__ = "data_version"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=1, sa_type=BigInteger)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
