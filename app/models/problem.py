from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the error is: `body`, `query` or `path`, then the field.")
    field: str = Field(description="`loc` joined with dots, e.g. `body.quote`.")
    message: str
    type: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem detail, served as application/problem+json."""

    type: str = Field(description="URI reference naming the problem type; GET it for a description.")
    title: str
    status: int
    detail: str = Field(description="What went wrong in this request and what to do about it.")
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="Per-field errors, on 400 and 422.")
    closest_passage: dict[str, Any] | None = Field(
        default=None, description="On quote-not-found: the most similar passage (text, start, end, similarity)."
    )
    occurrences: list[dict[str, Any]] | None = Field(
        default=None, description="On ambiguous-quote: every occurrence (start, end, prefix, suffix)."
    )
