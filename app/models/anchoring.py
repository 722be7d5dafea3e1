"""Revisions of a source: what changed in the text, and where each quote of the old version landed.

When a source supersedes another, every standing statement quoting the old one is re-anchored on
the new text, the way annotation tools re-anchor highlights; one `Anchoring` row per statement
records the outcome. A `drifted` or `orphaned` row is a flag on the statement, shown in the matrix,
until an editor resolves it: by correcting the statement's quote, by retracting it, or by confirming
that it stands as it is on the old version (which stays stored and checkable).
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, and_
from sqlmodel import Column, Field, SQLModel

from app.models import examples
from app.models.common import ModelConfig, UTCDateTime, utcnow


class AnchoringOutcome(enum.StrEnum):
    anchored = "anchored"
    drifted = "drifted"
    orphaned = "orphaned"


class AnchoringResolution(enum.StrEnum):
    corrected = "corrected"
    retracted = "retracted"
    confirmed = "confirmed"


class Anchoring(SQLModel, table=True):
    """One statement's re-anchoring outcome on a newer version of its source."""

    id: int | None = Field(default=None, primary_key=True)
    # The new (superseding) source the statement was re-anchored on.
    source_id: int = Field(sa_column=Column(Integer, ForeignKey("source.id"), nullable=False, index=True))
    statement_id: int = Field(sa_column=Column(Integer, ForeignKey("statement.id"), nullable=False, index=True))
    outcome: str = Field(sa_type=String(16))
    old_start: int
    old_end: int
    new_start: int | None = None
    new_end: int | None = None
    similarity: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Null while a drifted or orphaned outcome awaits an editor (anchored ones need nobody).
    resolution: str | None = Field(default=None, sa_type=String(16))
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=100)


def awaiting_review(row: Any = Anchoring) -> Any:
    """SQL: the outcome is drifted or orphaned and no editor has resolved it (`row`: the table or an alias)."""
    return and_(row.resolution.is_(None), row.outcome != AnchoringOutcome.anchored.value)


# --- API schemas -------------------------------------------------------------------------------


class AnchoringPublic(SQLModel):
    source: int = Field(description="The newer version the statement's quote was looked for in.")
    statement: int
    outcome: AnchoringOutcome = Field(
        description="`anchored`: the exact quote was found and the statement now quotes the new source; "
        "`drifted`: only a close passage was found, the statement is unchanged until an editor confirms it; "
        "`orphaned`: nothing close enough, the statement is unchanged."
    )
    old_start: int = Field(description="Offset of the quote in the old source.")
    old_end: int
    new_start: int | None = Field(description="Offset of the passage in the new source; null when orphaned.")
    new_end: int | None
    new_text: str | None = Field(description="The passage of the new source at `new_start`–`new_end`.")
    similarity: float | None = Field(
        description="0–1: how close the passage is to the quote, context included (1 when anchored); for "
        "an orphaned quote, the best score found."
    )
    created_at: datetime
    resolution: AnchoringResolution | None = Field(
        description="How an editor settled a drifted or orphaned outcome: `corrected` (the statement's quote was "
        "changed), `retracted`, or `confirmed` (it stands as it is on the older version). Null while the outcome "
        "is still flagged in the matrix, and always for `anchored`."
    )
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="Name of the token that resolved it.")


class AnchoringCounts(SQLModel):
    anchored: int = 0
    drifted: int = 0
    orphaned: int = 0


class AnchoringReport(SQLModel):
    """Where the quotes of the superseded source landed in this one."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.ANCHORING_REPORT))

    source: int = Field(description="The new source.")
    supersedes: int | None = Field(description="The source whose statements were re-anchored.")
    counts: AnchoringCounts
    outcomes: list[AnchoringPublic] = Field(description="One per statement, in statement id order.")
    pending: int = Field(description="Drifted or orphaned outcomes no editor has resolved yet.")


class QuoteFlag(SQLModel):
    """Why a matrix cell's quote needs an editor: a newer version of its source lacks it verbatim."""

    outcome: AnchoringOutcome = Field(description="`drifted` (a close passage exists) or `orphaned` (none does).")
    source: int = Field(description="The newer version of the statement's source.")
    similarity: float | None
    flagged_at: datetime


class AnchoringReview(SQLModel):
    """The flags an editor's confirmation settled."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.ANCHORING_REVIEW))

    statement: int
    resolved: list[AnchoringPublic] = Field(description="The outcomes now resolved as `confirmed`.")


class TextChangeKind(enum.StrEnum):
    inserted = "inserted"
    deleted = "deleted"
    replaced = "replaced"


class TextChange(SQLModel):
    kind: TextChangeKind
    old_start: int = Field(description="Offset in the old text; for an insertion, where the passage goes.")
    old_end: int
    new_start: int = Field(description="Offset in the new text; for a deletion, where the passage was.")
    new_end: int
    old_text: str = Field(description="Exactly `old.text[old_start:old_end]`.")
    new_text: str = Field(description="Exactly `new.text[new_start:new_end]`.")


class TextDiff(SQLModel):
    """What changed from one source's text to another's, ignoring whitespace-only changes."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.TEXT_DIFF))

    source: int = Field(description="The new text.")
    against: int = Field(description="The old text.")
    granularity: str = Field(
        description="`word`; `line` when both texts are too long to compare word by word; `text` (one "
        "replaced passage, the whole text) when even their lines are too many to align."
    )
    changes: list[TextChange] = Field(description="In text order.")
