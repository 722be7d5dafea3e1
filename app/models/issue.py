from datetime import datetime
from typing import Annotated

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.models import examples
from app.models.common import (
    MAX_KEYWORDS,
    Keyword,
    LongText,
    ModelConfig,
    Omittable,
    PatchModel,
    ShortText,
    Slug,
    UTCDateTime,
    utcnow,
)


class IssueBase(SQLModel):
    title: ShortText = Field(description='Short label, e.g. "Ceding the Donbas".')
    proposition: ShortText = Field(
        description="The claim stances are taken on: `support` means agreeing with it.",
        schema_extra={"examples": [examples.ISSUE_CREATE["proposition"]]},
    )
    description: LongText = Field(default="")


class Issue(IssueBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    keywords: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IssueCreate(IssueBase):
    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(examples.ISSUE_CREATE))

    slug: Slug | None = Field(
        default=None,
        description="URL-safe identifier, e.g. `cede-donbas`. Left out: made from `title` (`Tempolimit auf "
        "Autobahnen` -> `tempolimit-auf-autobahnen`), with `-2`, `-3`, ... when another issue has or had it.",
    )
    keywords: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS)


class IssueUpdate(PatchModel):
    """Fields to change; omitted fields keep their value."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.ISSUE_UPDATE))

    slug: Omittable[Slug] = None
    title: Omittable[ShortText] = None
    proposition: Omittable[ShortText] = None
    description: Omittable[LongText] = None
    keywords: Omittable[Annotated[list[Keyword], Field(max_length=MAX_KEYWORDS)]] = None


class IssuePublic(IssueBase):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.ISSUE_PUBLIC))

    slug: str
    keywords: list[str]
    created_at: datetime
    updated_at: datetime
