import enum
from datetime import datetime
from typing import Annotated

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel

from app.models import examples
from app.models.common import (
    MAX_ALIASES,
    Alias,
    LongText,
    ModelConfig,
    Name,
    Omittable,
    PatchModel,
    Slug,
    UTCDateTime,
    utcnow,
)


class PartyKind(enum.StrEnum):
    country = "country"
    government = "government"
    person = "person"
    bloc = "bloc"
    organization = "organization"
    political_party = "political_party"


class PartyBase(SQLModel):
    name: Name = Field(description="Display name.", schema_extra={"examples": ["Ukraine"]})
    kind: PartyKind = Field(sa_type=String(32), description="What sort of actor the party is.")
    description: LongText = Field(default="", description="Who the party is, in a sentence or two.")


class Party(PartyBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    aliases: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PartyCreate(PartyBase):
    model_config = ModelConfig(extra="forbid", json_schema_extra=examples.shown(examples.PARTY_CREATE))

    slug: Slug | None = Field(
        default=None,
        description="URL-safe identifier, e.g. `ukraine`. Left out: made from `name` (`Bündnis 90/Die Grünen` -> "
        "`buendnis-90-die-gruenen`), with `-2`, `-3`, ... when another party has or had it.",
    )
    aliases: list[Alias] = Field(
        default_factory=list,
        max_length=MAX_ALIASES,
        description='Names the party is referred by in texts ("Zelensky", "Kyiv").',
    )


class PartyUpdate(PatchModel):
    """Fields to change; omitted fields keep their value."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.PARTY_UPDATE))

    slug: Omittable[Slug] = None
    name: Omittable[Name] = None
    kind: Omittable[PartyKind] = None
    description: Omittable[LongText] = None
    aliases: Omittable[Annotated[list[Alias], Field(max_length=MAX_ALIASES)]] = None


class PartyPublic(PartyBase):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.PARTY_PUBLIC))

    slug: str
    aliases: list[str]
    created_at: datetime
    updated_at: datetime
