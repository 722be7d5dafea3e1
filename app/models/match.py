"""Which party stands closest to a reader: the reader's answers (`MatchRequest`) and the parties
ranked by how many of the points those answers allow each one earns (`MatchResult`)."""

import enum
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.models import examples
from app.models.common import BoundedDate, ModelConfig, Omittable, Slug, Stance
from app.models.matrix import Cell, IssueRef, PartyRef

MAX_ANSWERS = 500
MAX_PARTIES = 500
MAX_WEIGHT = 10


class MatchAnswer(enum.StrEnum):
    """A reader's answer to an issue's proposition: a stance on the scale, or `skip`."""

    support = "support"
    lean_support = "lean_support"
    neutral = "neutral"
    lean_oppose = "lean_oppose"
    oppose = "oppose"
    skip = "skip"


# A JSON number: strict, so that `true` or "2" is refused rather than read as 1.0 or 2.0.
Weight = Annotated[float, Field(gt=0, le=MAX_WEIGHT, allow_inf_nan=False, strict=True)]


# Named, so that generated clients get a type of their own rather than an anonymous object.
class MatchAnswers(RootModel[Annotated[dict[Slug, MatchAnswer], Field(min_length=1, max_length=MAX_ANSWERS)]]):
    """Issue slug -> the reader's answer."""


class MatchWeights(RootModel[Annotated[dict[Slug, Weight], Field(max_length=MAX_ANSWERS)]]):
    """Issue slug -> how much the issue counts."""


POINTS = (
    "weight × agreement × 2, agreement being 1 − |a − b| / 4 between the answer and the party's stance on the scale "
    "support +2, lean_support +1, neutral 0, lean_oppose −1, oppose −2 (on agree, neutral and disagree: the "
    "Wahl-O-Mat's 2, 1 or 0 points); 0 where the party has no position."
)


class MatchRequest(BaseModel):
    """A reader's answers. Nothing of them is stored or logged."""

    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(examples.MATCH_REQUEST))

    answers: MatchAnswers = Field(
        description="Issue slug -> the reader's stance on the issue's proposition, or `skip` to leave the issue out. "
        "Every slug must be an issue's.",
    )
    weights: Omittable[MatchWeights] = Field(
        default=None,
        description=f"Issue slug -> how much the issue counts (default 1, above 0 and at most {MAX_WEIGHT}; the "
        "Wahl-O-Mat's “counts double” is 2). Only issues in `answers`.",
    )
    as_of: Omittable[BoundedDate] = Field(
        default=None, description="The parties' positions as of this date (default: today, UTC)."
    )
    parties: Omittable[Annotated[list[Slug], Field(min_length=1, max_length=MAX_PARTIES)]] = Field(
        default=None, description="The parties to rank (default: all); ties keep this order."
    )


class MatchIssue(BaseModel):
    issue: Slug
    answer: Stance = Field(description="The reader's answer.")
    weight: float = Field(gt=0, le=MAX_WEIGHT)
    stance: Stance | None = Field(description="The party's stance as of the date (null: no statement).")
    agreement: float | None = Field(
        ge=0, le=1, description="1 − |a − b| / 4; null when the party has no position (none, or `unclear`)."
    )
    points: float = Field(ge=0, description=POINTS)
    max_points: float = Field(gt=0, description="weight × 2: what the issue is worth, with or without a position.")
    cell: Cell = Field(description="The party's matrix cell: the quote, its selector and source behind `stance`.")


class MatchParty(BaseModel):
    rank: int = Field(ge=1, description="Competition ranking on `score`: equal scores share a rank (1, 1, 3).")
    party: PartyRef
    score: float = Field(
        ge=0, le=100, description="100 × points / max_points, one decimal (half up); 0 when every answer was skipped."
    )
    points: float = Field(ge=0, description="Sum of the issues' `points`.")
    max_points: float = Field(ge=0, description="Sum of the issues' `max_points`: the same for every party.")
    issues_with_position: int = Field(ge=0, description="Answered issues on which the party has a position.")
    issues: list[MatchIssue] = Field(description="One per answered issue, in the order of `issues`.")


class MatchResult(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.shown(examples.MATCH_RESULT))

    as_of: date
    answered: int = Field(ge=0, description="Issues answered with a stance (not skipped).")
    skipped: int = Field(ge=0)
    max_points: float = Field(ge=0, description="What the answers allow: the sum of weight × 2 over answered issues.")
    issues: list[IssueRef] = Field(description="The answered issues, in the order of `answers`.")
    results: list[MatchParty] = Field(
        description="The parties by `score`, highest first; on equal score, more `issues_with_position` first, then "
        "in the order of `parties` (default: the order the parties were created in)."
    )
