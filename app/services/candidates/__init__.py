"""Candidate statements of a stored source, for an editor to accept or ignore.

The rules run on plain text and plain lists of names (extract.py and the modules beside it); this
module reads what they need in a fixed number of queries and shapes the answer. Nothing is written:
no statement, no audit event, no data version.
"""

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from app.errors import InvalidField
from app.models.candidate import (
    Candidate,
    CandidateCounts,
    CandidateKind,
    CandidateList,
    CandidateRequest,
    IssueMatch,
)
from app.models.issue import Issue
from app.models.party import Party
from app.models.statement import Statement, StatementCreate
from app.services.candidates.extract import Proposal, extract
from app.services.candidates.lexicon import IssueTerms, PartyTerms
from app.services.sources import get_source

__all__ = ["propose_candidates"]

# A stored quote is at most 5,000 characters of matching form; its exact span can only be a little
# longer, so a statement overlapping a candidate starts at most this far before it.
_LONGEST_STORED_QUOTE = 20_000


def propose_candidates(session: Session, source_id: int, request: CandidateRequest) -> CandidateList:
    source = get_source(session, source_id)
    parties = [
        PartyTerms(slug, name, tuple(aliases or ()))
        for slug, name, aliases in session.execute(select(col(Party.slug), col(Party.name), col(Party.aliases))).all()
    ]
    issues = [
        IssueTerms(slug, title, proposition, tuple(keywords or ()))
        for slug, title, proposition, keywords in session.execute(
            select(col(Issue.slug), col(Issue.title), col(Issue.proposition), col(Issue.keywords))
        ).all()
    ]
    _check_known("parties", request.parties, {party.slug for party in parties}, "party")
    _check_known("issues", request.issues, {issue.slug for issue in issues}, "issue")
    standing = sorted(
        session.execute(
            select(col(Statement.quote_start), col(Statement.quote_end), col(Statement.id)).where(
                col(Statement.source_id) == source_id,
                col(Statement.retracted_at).is_(None),
            )
        ).all()
    )
    text, stated_on = source.text, source.published_at.date()
    # Everything is read: end the transaction (and its snapshot) before the longer text work.
    session.rollback()

    extraction = extract(text, parties, issues)
    candidates = [
        _candidate(proposal, source_id, stated_on, _overlapping(standing, proposal.start, proposal.end))
        for proposal in extraction.proposals
    ]
    found = len(candidates)
    candidates = [candidate for candidate in candidates if _wanted(candidate, request)]
    return CandidateList(
        source=source_id,
        candidates=candidates,
        counts=CandidateCounts(
            found=found,
            returned=len(candidates),
            direct=sum(candidate.kind is CandidateKind.direct for candidate in candidates),
            reported=sum(candidate.kind is CandidateKind.reported for candidate in candidates),
            with_party=sum(candidate.party is not None for candidate in candidates),
            with_issue=sum(candidate.issue is not None for candidate in candidates),
            existing=sum(candidate.existing_statement is not None for candidate in candidates),
        ),
        truncated=extraction.truncated,
    )


def _check_known(field: str, wanted: list[str] | None, known: set[str], what: str) -> None:
    unknown = sorted(set(wanted or ()) - known)
    if unknown:
        raise InvalidField(
            field, f"No {what} has the slug(s) {', '.join(unknown)}; leave them out or create them first."
        )


def _overlapping(standing: Sequence[tuple[int, int, int]], start: int, end: int) -> int | None:
    """The standing statement whose quote overlaps [start, end) the most (the lowest id on a tie)."""
    best: tuple[int, int] | None = None
    first = bisect_left(standing, (start - _LONGEST_STORED_QUOTE,))
    for quote_start, quote_end, statement_id in standing[first:]:
        if quote_start >= end:
            break
        overlap = min(end, quote_end) - max(start, quote_start)
        if overlap > 0 and (best is None or (overlap, -statement_id) > (best[0], -best[1])):
            best = (overlap, statement_id)
    return best[1] if best else None


def _candidate(proposal: Proposal, source_id: int, stated_on: date, existing: int | None) -> Candidate:
    speaker = proposal.speaker
    statement = None
    if proposal.party is not None and proposal.issue is not None:
        statement = StatementCreate(
            party=proposal.party,
            issue=proposal.issue,
            source=source_id,
            quote=proposal.quote,
            stance=proposal.stance,
            speaker=speaker.text if speaker else None,
            stated_on=stated_on,
            start=proposal.start,
        )
    return Candidate(
        quote=proposal.quote,
        start=proposal.start,
        end=proposal.end,
        kind=CandidateKind(proposal.kind),
        speaker=speaker.text if speaker else None,
        speaker_pronoun=speaker.pronoun if speaker else None,
        party=proposal.party,
        issue=proposal.issue,
        issues=[
            IssueMatch(issue=match.slug, score=match.score, keywords=list(match.keywords)) for match in proposal.issues
        ],
        stance=proposal.stance,
        confidence=proposal.confidence,
        split_from=proposal.split_from,
        existing_statement=existing,
        statement=statement,
    )


def _wanted(candidate: Candidate, request: CandidateRequest) -> bool:
    if candidate.confidence < request.min_confidence:
        return False
    if request.parties is not None and candidate.party not in request.parties:
        return False
    return request.issues is None or candidate.issue in request.issues
