"""Search results: what a query found, ranked, with the passages where it was found."""

import enum
from typing import Literal

from sqlmodel import Field, SQLModel

from app.models import examples
from app.models.common import ModelConfig
from app.models.issue import IssuePublic
from app.models.party import PartyPublic
from app.models.statement import StatementPublic


class SearchKind(enum.StrEnum):
    statement = "statement"
    party = "party"
    issue = "issue"


# The field a snippet is taken from: a statement's, a party's or an issue's.
SnippetField = Literal["quote", "summary", "speaker", "name", "aliases", "title", "proposition"]


class TextSpan(SQLModel):
    start: int = Field(description="Offset of the first character, counted in Unicode code points.")
    end: int = Field(description="Offset just past the last character (exclusive).")


class Snippet(SQLModel):
    field: SnippetField = Field(description="The field the passage is taken from (one alias, for `aliases`).")
    text: str = Field(
        description="The field's text, or about 200 characters of it around the first match; `…` marks a cut."
    )
    highlights: list[TextSpan] = Field(description="The matched words and phrases in `text`: `text[start:end]`.")


class SearchResult(SQLModel):
    kind: SearchKind
    score: float = Field(
        description="Relevance: how often the words occur, for the text's length; higher is better. Scores of one "
        "response compare; each engine computes its own."
    )
    snippet: Snippet
    statement: StatementPublic | None = Field(description="The statement found, when `kind` is `statement`.")
    quote_matches: list[TextSpan] = Field(
        description="For a statement, where the query matched its quote: `statement.quote[start:end]` "
        "(empty when only the summary or speaker matched, and for parties and issues)."
    )
    party: PartyPublic | None = Field(description="The party found, when `kind` is `party`.")
    issue: IssuePublic | None = Field(description="The issue found, when `kind` is `issue`.")


class SearchPage(SQLModel):
    """One page of results, in ranking order. Pass `next_cursor` as `cursor` to get the next; null on the last page."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.SEARCH_PAGE))

    items: list[SearchResult]
    next_cursor: str | None = Field(description="Opaque; null when there are no more results.")
