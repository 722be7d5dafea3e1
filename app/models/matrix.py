"""Response shapes of the matrix, the diffs and the timeline."""

import enum
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.models import examples
from app.models.anchoring import QuoteFlag
from app.models.common import Stance
from app.models.statement import Selector, StatementPublic


class SourceRef(BaseModel):
    id: int
    title: str
    published_at: datetime
    url: str | None


class PartyRef(BaseModel):
    slug: str
    name: str
    kind: str


class IssueRef(BaseModel):
    slug: str
    title: str
    proposition: str


class Cell(BaseModel):
    """A party's position on an issue as of a date: its latest standing statement, citing the
    version of its source that was published by that date."""

    party: str
    issue: str
    stance: Stance | None = Field(description="Null when the party has no standing statement on the issue.")
    summary: str | None
    stated_on: date | None
    statement: int | None = Field(description="Id of the statement the position rests on.")
    quote: str | None = Field(description="Exactly `text[selector.start:selector.end]` of the cited `source`.")
    selector: Selector | None
    speaker: str | None
    source: SourceRef | None = Field(
        description="The version of the source the quote is cited from as of the date: that of the statement's newest "
        "revision whose source was published on or before it (a quote re-anchored on a newer version is cited from "
        "the older one until the newer one's publication day), or the first version published when none was yet."
    )
    evidence_count: int = Field(
        description="How many standing statements, up to the as-of date, have held the position's stance since the "
        "party last took it: in (`stated_on`, id) order, the consecutive ones ending with the newest that share its "
        "stance. An earlier statement of another stance, such as the one the position reversed, is not counted; "
        "0 without a position."
    )
    evidence_since: date | None = Field(
        description="`stated_on` of the first of the statements `evidence_count` counts."
    )
    flag: QuoteFlag | None = Field(
        default=None,
        description="Set while a newer version of the quote's source lacks the quote verbatim (re-anchoring found it "
        "`drifted` or `orphaned`) and no editor has corrected, retracted or confirmed the statement.",
    )
    evidence: list[StatementPublic] | None = Field(
        default=None,
        description="With `?evidence=all`: every standing statement of the party on the issue, oldest first, each "
        "cited as the cell is; the last `evidence_count` of them are the cell's evidence.",
    )


class Matrix(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.shown(examples.MATRIX))

    as_of: date
    source: int | None = Field(description="Only positions stated in this source, when filtered.")
    parties: list[PartyRef]
    issues: list[IssueRef]
    cells: list[Cell] = Field(description="One per party × issue, parties in order, then issues in order.")


class ChangeClass(enum.StrEnum):
    new = "new"
    withdrawn = "withdrawn"
    unchanged = "unchanged"
    shifted = "shifted"
    reversed = "reversed"


class Change(BaseModel):
    party: str
    issue: str
    change: ChangeClass
    before: Cell | None
    after: Cell | None


class DiffEnd(BaseModel):
    """One side of a diff: the date positions are taken as of, and the source that named it."""

    as_of: date
    source: int | None = None


class DiffSummary(BaseModel):
    new: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    shifted: int = 0
    reversed: int = 0


class Diff(BaseModel):
    from_: DiffEnd = Field(alias="from", serialization_alias="from")
    to: DiffEnd
    summary: DiffSummary = Field(description="Changes per class (before `only=changed` drops any).")
    changes: list[Change]

    model_config = ConfigDict(populate_by_name=True, json_schema_extra=examples.shown(examples.DIFF))


class TimelineEntry(BaseModel):
    change: ChangeClass = Field(description="How this statement's stance differs from the position before it.")
    statement: StatementPublic = Field(
        description="The statement, its quote cited from the version of its source published by `as_of` "
        "(as the matrix's `source`)."
    )


class Timeline(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.shown(examples.TIMELINE))

    party: str
    issue: str
    entries: list[TimelineEntry] = Field(description="Standing statements in `stated_on` order, then recording order.")
