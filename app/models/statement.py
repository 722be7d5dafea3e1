"""Stance statements: a party's stance on an issue, backed by a verbatim quote from a source.

A statement is never overwritten. `Statement` holds the current revision (what reads and the
matrix use); every revision, the current one included, is kept in `StatementRevision`.
A retraction keeps the statement and records why and from when it no longer stands.
"""

from datetime import date, datetime
from typing import Annotated

from pydantic import Field as PydanticField
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from app.models import examples
from app.models.common import (
    BoundedDate,
    ModelConfig,
    Omittable,
    PatchModel,
    Prefix,
    Quote,
    Reason,
    ShortText,
    Slug,
    Speaker,
    Stance,
    UTCDateTime,
    utcnow,
)

CONTEXT_CHARS = 32


class QuoteFields(SQLModel):
    """The stored anchor of a quote: the exact text and where it stands in the source."""

    quote: str = Field(sa_type=Text)
    quote_start: int
    quote_end: int
    quote_prefix: str = Field(max_length=CONTEXT_CHARS * 4)
    quote_suffix: str = Field(max_length=CONTEXT_CHARS * 4)


class Statement(QuoteFields, table=True):
    __table_args__ = (
        # Finds a cell's newest or oldest standing statement from the index alone (app/services/positions.py).
        Index("ix_statement_cell_stated_on", "party_id", "issue_id", "stated_on", "id", "retracted_on"),
        Index("ix_statement_issue_stated_on", "issue_id", "stated_on"),
        # Counting the statements of part of a month, across all cells (app/services/evidence.py).
        Index("ix_statement_stated_on_cell", "stated_on", "party_id", "issue_id"),
        Index("ix_statement_retracted_on", "retracted_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(sa_column=Column(Integer, ForeignKey("party.id"), nullable=False))
    issue_id: int = Field(sa_column=Column(Integer, ForeignKey("issue.id"), nullable=False))
    source_id: int = Field(sa_column=Column(Integer, ForeignKey("source.id"), nullable=False, index=True))
    stance: str = Field(sa_type=String(16))
    summary: str = Field(default="", max_length=500)
    speaker: str | None = Field(default=None, max_length=200)
    stated_on: date
    revision: int = 1
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retracted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retracted_on: date | None = None
    retracted_by: str | None = Field(default=None, max_length=100)
    retraction_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class StatementRevision(QuoteFields, table=True):
    __tablename__ = "statement_revision"
    __table_args__ = (UniqueConstraint("statement_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(sa_column=Column(Integer, ForeignKey("statement.id"), nullable=False))
    revision: int
    source_id: int = Field(sa_column=Column(Integer, ForeignKey("source.id"), nullable=False, index=True))
    stance: str = Field(sa_type=String(16))
    summary: str = Field(default="", max_length=500)
    speaker: str | None = Field(default=None, max_length=200)
    stated_on: date
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# --- API schemas -------------------------------------------------------------------------------

QuoteStart = PydanticField(
    default=None,
    ge=0,
    le=10_000_000,
    description="When the quote occurs more than once: the character offset where the intended occurrence starts.",
)
QuotePrefix = PydanticField(
    default=None,
    description="When the quote occurs more than once: text immediately before the intended occurrence.",
)


class StatementCreate(SQLModel):
    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(examples.STATEMENT_CREATE))

    party: Slug = Field(description="Slug of the party whose stance this is.")
    issue: Slug = Field(description="Slug of the issue.")
    source: int = Field(ge=1, le=2_147_483_647, description="Id of the source the quote is taken from.")
    quote: Quote = Field(
        description="Verbatim passage of the source. Curly vs straight quotes, whitespace runs and Unicode "
        "normalization may differ; the exact source text is what gets stored.",
    )
    stance: Stance
    summary: ShortText | None = Field(default=None, description="The position in one line.")
    speaker: Speaker | None = Field(default=None, description="Who said it, when not the party itself.")
    stated_on: BoundedDate | None = Field(
        default=None,
        description="When the position was held or expressed; defaults to the source's publication date.",
    )
    start: int | None = QuoteStart
    prefix: Prefix | None = QuotePrefix


class StatementUpdate(PatchModel):
    """A correction: creates a new revision; the previous one stays in the history."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.STATEMENT_UPDATE))
    nullable_fields = frozenset({"speaker", "summary", "start", "prefix", "note"})

    source: Omittable[Annotated[int, Field(ge=1, le=2_147_483_647)]] = None
    quote: Omittable[Quote] = None
    stance: Omittable[Stance] = None
    summary: ShortText | None = None
    speaker: Speaker | None = None
    stated_on: Omittable[BoundedDate] = None
    start: int | None = QuoteStart
    prefix: Prefix | None = QuotePrefix
    note: Reason | None = Field(default=None, description="Why the statement was corrected.")


class StatementRetract(SQLModel):
    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(examples.STATEMENT_RETRACT))

    reason: Reason = Field(description="Why the statement no longer stands.")
    retracted_on: BoundedDate | None = Field(
        default=None,
        description="From when the statement no longer stands (matrix queries as of this date or later "
        "ignore it); defaults to today.",
    )


class Selector(SQLModel):
    """Where the quote stands in the source text (W3C TextPositionSelector + TextQuoteSelector)."""

    start: int = Field(description="Offset of the first character, counted in Unicode code points.")
    end: int = Field(description="Offset just past the last character (exclusive).")
    prefix: str = Field(description="Up to 32 characters of source text before the quote.")
    suffix: str = Field(description="Up to 32 characters of source text after the quote.")


class Retraction(SQLModel):
    reason: str
    retracted_on: date
    retracted_at: datetime
    retracted_by: str


class StatementPublic(SQLModel):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.STATEMENT_PUBLIC))

    id: int
    party: str
    issue: str
    source: int
    stance: Stance
    summary: str
    quote: str = Field(description="Exactly `source.text[selector.start:selector.end]`.")
    selector: Selector
    speaker: str | None
    stated_on: date
    revision: int
    recorded_by: str
    recorded_at: datetime
    created_at: datetime
    retraction: Retraction | None


class StatementRevisionPublic(SQLModel):
    revision: int
    source: int
    stance: Stance
    summary: str
    quote: str
    selector: Selector
    speaker: str | None
    stated_on: date
    recorded_by: str
    recorded_at: datetime
    note: str | None


class StatementHistory(SQLModel):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.STATEMENT_HISTORY))

    statement: int
    party: str
    issue: str
    revisions: list[StatementRevisionPublic] = Field(description="Oldest first; the last one is current.")
    retraction: Retraction | None
