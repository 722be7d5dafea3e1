"""Response shapes of the party comparison: agreement between every pair of parties, issue by
issue, as of a date (`Comparison`) or at two moments (`ComparisonDrift`)."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.models import examples
from app.models.common import Omittable, Slug, Stance
from app.models.matrix import Cell, DiffEnd, IssueRef, PartyRef

AGREEMENT = (
    "Mean over the issues where both parties have a position of 1 − |a − b| / 4, the stances on the scale "
    "support +2, lean_support +1, neutral 0, lean_oppose −1, oppose −2; null when there is no such issue."
)
ISSUE_AGREEMENT = "1 − |a − b| / 4 on the scale; null when either party has no position (none, or `unclear`)."
# A pair's two parties, or their two stances, in the pair's order.
SlugPair = Annotated[list[Slug], Field(min_length=2, max_length=2)]
StancePair = Annotated[list[Stance | None], Field(min_length=2, max_length=2)]


class IssueAgreement(BaseModel):
    issue: Slug
    stances: StancePair = Field(description="Both parties' stances, in the pair's order (null: no statement).")
    agreement: float | None = Field(ge=0, le=1, description=ISSUE_AGREEMENT)
    no_position: Omittable[list[Slug]] = Field(
        default=None,
        description="Present when the issue is not scored: the parties of the pair without a position on it "
        "(no statement, or `unclear`).",
    )


class PairComparison(BaseModel):
    parties: SlugPair
    agreement: float | None = Field(ge=0, le=1, description=AGREEMENT)
    issues_compared: int = Field(ge=0, description="How many issues both parties have a position on.")
    issues: list[IssueAgreement] = Field(description="One per issue, in the order of `issues`.")


class Comparison(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.shown(examples.COMPARISON))

    as_of: date
    parties: list[PartyRef]
    issues: list[IssueRef]
    cells: list[Cell] = Field(
        description="The matrix's cells of these parties and issues, parties in order, then issues: the quotes "
        "behind every pair's stances, served once."
    )
    pairs: list[PairComparison] = Field(
        description="Every pair of parties once, in the order the parties were given: (a, b), (a, c), …, (b, c), …"
    )


class AgreementDrift(BaseModel):
    from_: float | None = Field(alias="from", serialization_alias="from", ge=0, le=1)
    to: float | None = Field(ge=0, le=1)

    model_config = ConfigDict(populate_by_name=True)


class CountDrift(BaseModel):
    from_: int = Field(alias="from", serialization_alias="from", ge=0)
    to: int = Field(ge=0)

    model_config = ConfigDict(populate_by_name=True)


class StancesDrift(BaseModel):
    from_: StancePair = Field(alias="from", serialization_alias="from")
    to: StancePair

    model_config = ConfigDict(populate_by_name=True)


class IssueDrift(BaseModel):
    issue: Slug
    stances: StancesDrift
    agreement: AgreementDrift = Field(description=ISSUE_AGREEMENT)
    changed: bool = Field(description="Whether the agreement differs between the two moments (null vs a number too).")


class PairDrift(BaseModel):
    parties: SlugPair
    agreement: AgreementDrift = Field(description=AGREEMENT)
    issues_compared: CountDrift
    issues: list[IssueDrift] = Field(
        description="One per issue, in the order of `issues`; with `only=changed`, those whose agreement changed."
    )


class CellsDrift(BaseModel):
    from_: list[Cell] = Field(alias="from", serialization_alias="from")
    to: list[Cell]

    model_config = ConfigDict(populate_by_name=True)


class ComparisonDrift(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra=examples.shown(examples.COMPARISON_DRIFT))

    from_: DiffEnd = Field(alias="from", serialization_alias="from")
    to: DiffEnd
    parties: list[PartyRef]
    issues: list[IssueRef]
    cells: CellsDrift = Field(
        description="The matrix's cells at each moment, parties in order, then issues (as in `Comparison`)."
    )
    pairs: list[PairDrift] = Field(description="Every pair of parties once, in the order the parties were given.")


class ComparisonView(RootModel[Comparison | ComparisonDrift]):
    """`Comparison` as of a date, or `ComparisonDrift` with `from` and `to`."""

    model_config = ConfigDict(json_schema_extra=examples.shown(examples.COMPARISON, examples.COMPARISON_DRIFT))
