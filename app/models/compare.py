"""Response shapes of the party comparison: agreement between every pair of parties, issue by
issue, as of a date (`Comparison`) or at two moments (`ComparisonDrift`)."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel

from app.models import examples
from app.models.common import Slug
from app.models.matrix import Cell, DiffEnd, IssueRef, PartyRef

AGREEMENT = (
    "Mean over the issues where both parties have a position of 1 − |a − b| / 4, the stances on the scale "
    "support +2, lean_support +1, neutral 0, lean_oppose −1, oppose −2; null when there is no such issue."
)
AGREEMENTS = (
    "One per issue, in the order of `issues`: 1 − |a − b| / 4 on the scale, or null where either party has no "
    "position (no statement, or `unclear`; the two cells' stances say which). The cells behind the agreement of "
    "parties i and k on issue j are `cells[i × len(issues) + j]` and `cells[k × len(issues) + j]`."
)
CELLS = (
    "The matrix's cells of these parties and issues, each once, parties in order, then issues: the cell of party i "
    "(its place in `parties`) on issue j (its place in `issues`) is at i × len(issues) + j. They hold the stances "
    "and quotes behind every pair's agreements."
)
# A pair's two parties, in the order the parties were given.
SlugPair = Annotated[list[Slug], Field(min_length=2, max_length=2)]
IssueAgreement = Annotated[float, Field(ge=0, le=1)]


class PairComparison(BaseModel):
    parties: SlugPair
    agreement: float | None = Field(ge=0, le=1, description=AGREEMENT)
    issues_compared: int = Field(ge=0, description="How many issues both parties have a position on.")
    agreements: list[IssueAgreement | None] = Field(description=AGREEMENTS)


class Comparison(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.shown(examples.COMPARISON))

    as_of: date
    parties: list[PartyRef]
    issues: list[IssueRef]
    cells: list[Cell] = Field(description=CELLS)
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


class AgreementsDrift(BaseModel):
    from_: list[IssueAgreement | None] = Field(alias="from", serialization_alias="from")
    to: list[IssueAgreement | None]

    model_config = ConfigDict(populate_by_name=True)


class PairDrift(BaseModel):
    parties: SlugPair
    agreement: AgreementDrift = Field(description=AGREEMENT)
    issues_compared: CountDrift
    agreements: AgreementsDrift = Field(
        description="At each moment, one per issue in the order of `issues`, as in `Comparison` (the cells behind "
        "them in `cells.from` and `cells.to`)."
    )
    changed: list[Slug] = Field(
        description="The issues whose agreement differs between the two moments (null against a number too), "
        "in the order of `issues`."
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
        description="The matrix's cells at each moment, parties in order, then issues, as in `Comparison`: party i "
        "on issue j at i × len(issues) + j."
    )
    pairs: list[PairDrift] = Field(
        description="Every pair of parties once, in the order the parties were given; with `only=changed`, only "
        "the pairs with an issue in `changed`."
    )


class ComparisonView(RootModel[Comparison | ComparisonDrift]):
    """`Comparison` as of a date, or `ComparisonDrift` with `from` and `to`."""

    model_config = ConfigDict(json_schema_extra=examples.shown(examples.COMPARISON, examples.COMPARISON_DRIFT))
