from pydantic import BaseModel, ConfigDict, Field

from app.models import examples
from app.models.imports import ImportReport
from app.models.statement import Selector
from app.models.token import TokenScope


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where the error is: `body`, `query` or `path`, then the field (on import-refused: `body`, the "
        "line, then the field)."
    )
    field: str = Field(
        description="`loc` joined with dots, e.g. `body.quote`. On import-refused: the field within the line "
        "(`quote`), empty when the line as a whole is refused."
    )
    message: str
    type: str | None = None
    line: int | None = Field(
        default=None, description="On import-refused: the line of the body (CSV: its row's first line)."
    )


class ClosestPassage(BaseModel):
    """The passage of the source most similar to a quote that was not found in it."""

    text: str = Field(description="Exactly `source.text[start:end]`.")
    start: int
    end: int
    similarity: float = Field(description="From 0 to 1.")


class Problem(BaseModel):
    """An RFC 9457 problem detail, served as application/problem+json."""

    model_config = ConfigDict(
        json_schema_extra=examples.shown(examples.PROBLEM_QUOTE_NOT_FOUND, examples.PROBLEM_NOT_FOUND)
    )

    type: str = Field(description="URI reference naming the problem type; GET it for a description.")
    title: str
    status: int
    detail: str = Field(description="What went wrong in this request and what to do about it.")
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="Per-field errors, on 400 and 422.")
    closest_passage: ClosestPassage | None = Field(
        default=None, description="On quote-not-found: the most similar passage, when there is one."
    )
    occurrences: list[Selector] | None = Field(
        default=None, description="On ambiguous-quote: every occurrence of the quote in the source."
    )
    needed_scope: TokenScope | None = Field(default=None, description="On 403: the scope the request needs.")
    report: ImportReport | None = Field(
        default=None, description="On import-refused: the lines read and what each type's lines would have done."
    )


class Moved(BaseModel):
    """The answer at a former slug's address: where the party or issue is now."""

    model_config = ConfigDict(
        json_schema_extra=examples.shown(
            {
                "detail": "The party 'afd' is now 'alternative-fuer-deutschland'. Use its current address.",
                "location": "/v1/parties/alternative-fuer-deutschland",
            }
        )
    )

    detail: str
    location: str = Field(description="The same as the `Location` header: the request with the current slug.")
