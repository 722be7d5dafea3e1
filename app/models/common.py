"""Types shared by every model: bounded strings, slugs, stances, UTC timestamps."""

import enum
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, StringConstraints, model_validator
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# PostgreSQL rejects NUL in text and UTF-8 cannot encode lone surrogates: refuse both up front
# so such input is a 422, not a database error.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def bounded(max_length: int, min_length: int = 0) -> Any:
    """A string type with length bounds that can be stored in any supported database."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_storable),
    ]


def trimmed(max_length: int, min_length: int = 1) -> Any:
    """Like bounded(), with surrounding whitespace removed first."""
    return Annotated[
        str,
        BeforeValidator(_strip),
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_storable),
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
Reason = trimmed(2_000)
# Whole articles; the request body limit (about 2 MB) bounds it further.
SourceText = bounded(1_500_000, min_length=1)
Language = Annotated[
    str, StringConstraints(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
]

MAX_ALIASES = 20
MAX_KEYWORDS = 30

# Dates the databases and Python can all represent without surprises.
MIN_DATE = date(1000, 1, 1)
MAX_DATE = date(9999, 12, 31)


def _date_in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
    return value


BoundedDate = Annotated[date, AfterValidator(_date_in_range)]


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


class PatchModel(SQLModel):
    """Base of partial-update bodies: omitted fields stay, and `null` is only accepted where a
    field may really be empty (listed in `nullable_fields`)."""

    model_config = ConfigDict(extra="forbid")
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> "PatchModel":
        cleared = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name not in self.nullable_fields
        )
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null; omit a field to keep its value")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
