"""Types shared by every model: bounded strings, slugs, stances, UTC timestamps."""

import enum
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# SQLModel types `model_config` as its own TypedDict (pydantic's ConfigDict plus table options) and
# does not export it; mypy refuses a plain ConfigDict there, so SQLModel classes build theirs with this.
from sqlmodel._compat import SQLModelConfig as ModelConfig

# PostgreSQL rejects NUL in text and UTF-8 cannot encode lone surrogates: refuse both up front
# so such input is a 422, not a database error.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# The rules written for the OpenAPI schema too, so generated clients and fuzzers know them.
# (Lone surrogates are left out: they are not valid in interchanged JSON text to begin with.)
_STORABLE_PATTERN = r"^[^\u0000]*$"
_NOT_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def bounded(max_length: int, min_length: int = 0) -> Any:
    """A string type with length bounds that can be stored in any supported database."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_storable),
        Field(json_schema_extra={"pattern": _STORABLE_PATTERN}),
    ]


def trimmed(max_length: int, min_length: int = 1) -> Any:
    """Like bounded(), with surrounding whitespace removed first; blank is not enough."""
    return Annotated[
        str,
        BeforeValidator(_strip),
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_storable),
        Field(json_schema_extra={"pattern": _NOT_BLANK_PATTERN if min_length else _STORABLE_PATTERN}),
    ]


SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]

Name = trimmed(200)
ShortText = trimmed(500)
LongText = bounded(10_000)
Alias = trimmed(200)
Keyword = trimmed(100)
Speaker = trimmed(200)
Quote = trimmed(5_000)
# Text just before a quote, naming which of its occurrences is meant.
Prefix = trimmed(200, min_length=1)
Reason = trimmed(2_000)
# A client's key for a source in bulk imports (app/models/imports.py).
SourceRef = trimmed(200)
# Whole articles; the request body limit (about 2 MB) bounds it further.
SourceText = bounded(1_500_000, min_length=1)
Language = Annotated[
    str, StringConstraints(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
]

MAX_ALIASES = 20
MAX_KEYWORDS = 30

# Ids are 32-bit in PostgreSQL; anything larger cannot exist, so it is refused before any query.
MAX_ID = 2_147_483_647

# Dates the databases and Python can all represent without surprises.
MIN_DATE = date(1000, 1, 1)
MAX_DATE = date(9999, 12, 31)


def _date_in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
    return value


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # the one date form the API reads


def _iso_date_text(value: Any) -> Any:
    """Only `YYYY-MM-DD`: pydantic would also read numbers as Unix timestamps, which no client means."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


BoundedDate = Annotated[date, BeforeValidator(_iso_date_text), AfterValidator(_date_in_range)]


class Stance(enum.StrEnum):
    """A party's stance on an issue's proposition."""

    support = "support"
    lean_support = "lean_support"
    neutral = "neutral"
    lean_oppose = "lean_oppose"
    oppose = "oppose"
    unclear = "unclear"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores timestamps in UTC and always returns them timezone-aware.

    SQLite keeps no timezone, so values are normalised to UTC before they are written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_Value = TypeVar("_Value")


class _OmittableMarker:
    """Marks fields the OpenAPI document shows without their (unvalidated) None default."""


OMITTABLE = _OmittableMarker()
# A partial-update field that may be left out but not set to null. Its default (None, meaning
# "not given") is never validated, so an explicit null fails validation like any other wrong
# type, and the schema shows only the type (create_app() drops the null default): clients and
# server agree.
if TYPE_CHECKING:
    # The attribute does hold None when the field is left out; pydantic validates only _Value.
    Omittable = Annotated[_Value | None, OMITTABLE]
else:
    Omittable = Annotated[_Value, OMITTABLE]


class PatchModel(SQLModel):
    """Base of partial-update bodies: omitted fields stay, and `null` is only accepted where a
    field may really be empty (listed in `nullable_fields`)."""

    model_config = ModelConfig(extra="forbid")
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> "PatchModel":
        cleared = sorted(
            name for name in self.model_fields_set if getattr(self, name) is None and name not in self.nullable_fields
        )
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null; omit a field to keep its value")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
