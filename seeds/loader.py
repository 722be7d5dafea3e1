"""Loads the seed data through the same services the API uses, so every seeded quote is anchored
and checked like any other. Running it again changes nothing."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.models.issue import IssueCreate
from app.models.party import PartyCreate
from app.models.source import Source, SourceCreate
from app.models.statement import Statement, StatementCreate, StatementRevision
from app.services.issues import issues
from app.services.parties import parties
from app.services.quotes import locate_quote
from app.services.sources import create_source, text_sha256
from app.services.statements import create_statement

SEEDS_DIR = Path(__file__).parent
SEED_ACTOR = "seed"


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        tally = self.created if created else self.existing
        tally[kind] = tally.get(kind, 0) + 1

    def __str__(self) -> str:
        kinds = ("parties", "issues", "sources", "statements")
        return ", ".join(
            f"{kind}: {self.created.get(kind, 0)} created, {self.existing.get(kind, 0)} present" for kind in kinds
        )


def _read(name: str, directory: Path) -> list[dict[str, Any]]:
    return json.loads((directory / name).read_text(encoding="utf-8"))


def load_seeds(session: Session, directory: Path = SEEDS_DIR) -> SeedReport:
    report = SeedReport()
    for entry in _read("parties.json", directory):
        party = PartyCreate.model_validate(entry)
        exists = parties.find(session, party.slug) is not None
        if not exists:
            parties.create(session, party, actor=SEED_ACTOR)
        report.count("parties", not exists)
    for entry in _read("issues.json", directory):
        issue = IssueCreate.model_validate(entry)
        exists = issues.find(session, issue.slug) is not None
        if not exists:
            issues.create(session, issue, actor=SEED_ACTOR)
        report.count("issues", not exists)

    source_ids: dict[str, int] = {}
    for entry in _read("sources.json", directory):
        fields = {name: value for name, value in entry.items() if name not in ("key", "file")}
        # Bytes read as they are: no newline translation, so the stored text is byte-identical.
        text = (directory / entry["file"]).read_bytes().decode("utf-8")
        digest = text_sha256(text)
        source = session.execute(select(Source).where(col(Source.sha256) == digest)).scalars().first()
        report.count("sources", source is None)
        if source is None:
            source = create_source(session, SourceCreate.model_validate({**fields, "text": text}), actor=SEED_ACTOR)
        assert source.id is not None  # a stored source
        source_ids[entry["key"]] = source.id

    for entry in _read("statements.json", directory):
        statement = StatementCreate.model_validate({**entry, "source": source_ids[entry["source"]]})
        exists = _already_seeded(session, statement)
        if not exists:
            create_statement(session, statement, actor=SEED_ACTOR)
        report.count("statements", not exists)
    return report


def _already_seeded(session: Session, data: StatementCreate) -> bool:
    """A seed statement is present when some statement was first recorded with the same party,
    issue, source, quote span and date; later corrections by editors do not make it missing."""
    party = parties.get(session, data.party)
    issue = issues.get(session, data.issue)
    source = session.get(Source, data.source)
    assert source is not None and source.id is not None  # stored by load_seeds before its statements
    anchor = locate_quote(source.text, data.quote, source_id=source.id, start=data.start, prefix=data.prefix)
    stated_on = data.stated_on or source.published_at.date()
    query = (
        select(col(StatementRevision.id))
        .join(Statement, col(Statement.id) == col(StatementRevision.statement_id))
        .where(
            col(StatementRevision.revision) == 1,
            col(Statement.party_id) == party.id,
            col(Statement.issue_id) == issue.id,
            col(StatementRevision.source_id) == source.id,
            col(StatementRevision.quote_start) == anchor.start,
            col(StatementRevision.quote_end) == anchor.end,
            col(StatementRevision.stated_on) == stated_on,
        )
    )
    return session.execute(query.limit(1)).first() is not None
