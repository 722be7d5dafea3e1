"""Bulk import: the lines an import reads and the report it answers with.

A line holds the body of a single create (PartyCreate, IssueCreate, SourceCreate,
StatementCreate) plus what only an import has: a source's `ref`, and a statement's `source_ref`.
"""

import enum

from pydantic import BaseModel, ConfigDict, Field

from app.models import examples
from app.models.common import SourceRef
from app.models.source import SourceCreate

REF_DESCRIPTION = (
    "A key chosen by the client for this source, unique among sources: statements of the same import or of a "
    "later one name the source by it (`source_ref`)."
)


class ImportKind(enum.StrEnum):
    """What a line creates: the value of its `type` (JSON Lines), or of `?type=` for a CSV file."""

    party = "party"
    issue = "issue"
    source = "source"
    statement = "statement"


class SourceLine(SourceCreate):
    """A source in an import: SourceCreate with its `text`, and optionally a `ref`."""

    ref: SourceRef | None = Field(default=None, description=REF_DESCRIPTION)


class ImportCounts(BaseModel):
    created: int = Field(default=0, description="Lines that create a new entry (on a dry run: would create).")
    existing: int = Field(
        default=0, description="Lines whose entry is already stored, or given by an earlier line: nothing to write."
    )
    refused: int = Field(default=0, description="Lines that break a rule; any refused line means nothing is written.")


class ImportReport(BaseModel):
    """What an import read, created and found already stored, per type."""

    model_config = ConfigDict(json_schema_extra=examples.shown(examples.IMPORT_REPORT))

    dry_run: bool
    written: bool = Field(description="True when the import was committed; false on a dry run or a refusal.")
    lines: int = Field(description="Lines (CSV: rows) read, blank lines aside.")
    stopped_early: bool = Field(
        default=False,
        description="True when checking stopped at the problem limit: the lines after `lines` were not read.",
    )
    parties: ImportCounts = Field(default_factory=ImportCounts)
    issues: ImportCounts = Field(default_factory=ImportCounts)
    sources: ImportCounts = Field(default_factory=ImportCounts)
    statements: ImportCounts = Field(default_factory=ImportCounts)
