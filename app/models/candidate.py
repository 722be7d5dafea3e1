"""Candidate statements: passages of a source that look like a party's stance, proposed for an
editor to accept (one POST of `statement` to /v1/statements) or ignore. Computed, never stored."""

import enum
from typing import Annotated

from pydantic import Field as PydanticField
from pydantic import StrictFloat
from sqlmodel import Field, SQLModel

from app.models import examples
from app.models.common import ModelConfig, Slug, Stance
from app.models.statement import StatementCreate

MAX_FILTER_SLUGS = 100


class CandidateKind(enum.StrEnum):
    direct = "direct"
    reported = "reported"


class CandidateRequest(SQLModel):
    """Filters on the candidates returned; `{}` (or no body) returns them all."""

    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(examples.CANDIDATE_REQUEST))

    # Strict: `false` or "0.5" is a client's mistake, not a number.
    min_confidence: Annotated[StrictFloat, PydanticField(allow_inf_nan=False)] = Field(
        default=0.0, ge=0, le=1, description="Only candidates at least this confident."
    )
    # An empty list would filter everything out, which no one means: give slugs or leave the field out.
    parties: Annotated[list[Slug], PydanticField(min_length=1, max_length=MAX_FILTER_SLUGS)] | None = Field(
        default=None,
        description="Only candidates attributed to these parties (slugs); those without a party are left out.",
    )
    issues: Annotated[list[Slug], PydanticField(min_length=1, max_length=MAX_FILTER_SLUGS)] | None = Field(
        default=None, description="Only candidates whose best issue is one of these (slugs)."
    )


class IssueMatch(SQLModel):
    issue: str = Field(description="Issue slug.")
    score: float = Field(
        description="Weighted count of the issue's keywords (and rarer title words) found: in the passage "
        "×1, elsewhere in its sentence ×0.5, and, when those say too little, in the two sentences before ×0.3."
    )
    keywords: list[str] = Field(description="The keywords and words that were found, first ones first.")


class Candidate(SQLModel):
    quote: str = Field(description="Exactly `source.text[start:end]`.")
    start: int = Field(description="Offset of the first character, in Unicode code points.")
    end: int = Field(description="Offset just past the last character (exclusive).")
    kind: CandidateKind = Field(
        description="`direct`: words inside quotation marks; `reported`: the clause of a reporting verb "
        '("X said that …", "according to X, …").'
    )
    speaker: str | None = Field(
        description='Who said it, as the text names them; for "he said", the name the pronoun refers back to.'
    )
    speaker_pronoun: str | None = Field(description="The pronoun the attribution used, when it used one.")
    party: str | None = Field(
        description="Slug of the party the speaker's name, title or alias matches; null when none does."
    )
    issue: str | None = Field(description="Slug of the best-matching issue, when the evidence is enough.")
    issues: list[IssueMatch] = Field(description="Every issue with some evidence, best first (at most five).")
    stance: Stance = Field(
        description="Suggested from the wording (negation against affirmation); `unclear` otherwise."
    )
    confidence: float = Field(ge=0, le=1, description="How likely the candidate is usable as proposed.")
    split_from: int | None = Field(
        description="For a later piece of a quotation split by its attribution (“…,” she said. “…”): "
        "`start` of its first piece. Each piece is a candidate of its own, with the same speaker."
    )
    existing_statement: int | None = Field(
        description="Id of a standing statement of this source whose quote overlaps this passage (the largest overlap)."
    )
    statement: StatementCreate | None = Field(
        description="The body to POST to /v1/statements to accept the candidate (stated on the source's "
        "publication date); null when the party or the issue is unknown, which the editor then chooses."
    )


class CandidateCounts(SQLModel):
    found: int = Field(description="Candidates found in the text, before the request's filters.")
    returned: int
    direct: int
    reported: int
    with_party: int
    with_issue: int
    existing: int = Field(description="Returned candidates that overlap a standing statement.")


class CandidateList(SQLModel):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.CANDIDATE_LIST))

    source: int
    candidates: list[Candidate] = Field(description="In text order.")
    counts: CandidateCounts
    truncated: bool = Field(
        description="True when the text held more candidates than one answer lists (5,000, or 2 million quoted "
        "characters); the later ones are left out."
    )
