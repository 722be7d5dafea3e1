"""Slugs a party or issue had before it was renamed. A former slug keeps answering: its address
redirects to the current one, and where a slug is a value (a filter, a statement's `party`) it
still names the same party or issue. It stays reserved for it: no other one can take it."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlmodel import Column, Field, SQLModel

from app.models.common import UTCDateTime, utcnow


class FormerSlug(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    replaced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PartyFormerSlug(FormerSlug, table=True):
    __tablename__ = "party_former_slug"

    party_id: int = Field(sa_column=Column(Integer, ForeignKey("party.id"), nullable=False, index=True))


class IssueFormerSlug(FormerSlug, table=True):
    __tablename__ = "issue_former_slug"

    issue_id: int = Field(sa_column=Column(Integer, ForeignKey("issue.id"), nullable=False, index=True))
