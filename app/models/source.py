import enum
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    HttpUrl,
    SerializerFunctionWrapHandler,
    StrictBool,
    model_serializer,
)
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlmodel import Column, Field, SQLModel

from app.models import examples
from app.models.anchoring import AnchoringReport
from app.models.common import (
    Language,
    ModelConfig,
    Name,
    Omittable,
    PatchModel,
    ShortText,
    SourceText,
    UTCDateTime,
    utcnow,
)


class SourceKind(enum.StrEnum):
    article = "article"
    update = "update"
    transcript = "transcript"
    statement = "statement"


_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]|$)")


def _date_or_datetime(value: object) -> object:
    """A bare date means midnight UTC of that day; a timestamp without offset is taken as UTC."""
    if not isinstance(value, str | date) or (isinstance(value, str) and not _ISO_START.match(value)):
        raise ValueError("must be an ISO 8601 date or timestamp, e.g. 2025-08-18 or 2025-08-18T14:30:00Z")
    if isinstance(value, str) and len(value) == 10:
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must lie between the years 1000 and 9999 in UTC") from None
    if not 1000 <= value.year <= 9999:
        raise ValueError("must lie between the years 1000 and 9999 in UTC")
    return value


PublishedAt = Annotated[datetime, BeforeValidator(_date_or_datetime), AfterValidator(_utc)]
Url = Annotated[HttpUrl, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]


class SourceBase(SQLModel):
    title: ShortText = Field(description="Headline, or an editorial title (see `title_is_editorial`).")
    title_is_editorial: StrictBool = Field(
        default=False, description="True when the document has no headline and the title was given by an editor."
    )
    publisher: Name | None = Field(default=None)
    kind: SourceKind = Field(default=SourceKind.article, sa_type=String(16))
    language: Language = Field(default="en", description="BCP 47 language tag.")


class Source(SourceBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str | None = Field(default=None, max_length=2048)
    published_at: datetime = Field(sa_type=UTCDateTime)
    retrieved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64, index=True)
    supersedes_id: int | None = Field(
        default=None,
        # Unique: one successor per version, so the versions of a document form a chain.
        sa_column=Column(Integer, ForeignKey("source.id"), nullable=True, index=True, unique=True),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The key a bulk import gave the source, so later lines and later imports can quote it.
    ref: str | None = Field(default=None, max_length=200, unique=True, index=True)


class SourceCreate(SourceBase):
    """A document to store: its `text` with `title` and `published_at`, or only its `url` for the server to fetch."""

    # The rule is checked by the route, not written as `anyOf` here: generated clients would lose the model.
    model_config = ModelConfig(
        extra="forbid", json_schema_extra=examples.shown(examples.SOURCE_CREATE, examples.SOURCE_CREATE_FROM_URL)
    )

    title: ShortText | None = Field(
        default=None,
        description="Headline, or an editorial title (see `title_is_editorial`). Required with `text`. When the "
        "page is fetched and no title is given: the page's headline, else the URL's host and path, marked editorial.",
    )
    publisher: Name | None = Field(
        default=None,
        description="When the page is fetched and this is left out: the site's name from its metadata, else the "
        "author's, else the host's.",
    )
    language: Language = Field(
        default="en", description="BCP 47 language tag. When the page is fetched and this is left out: the page's own."
    )
    url: Url | None = Field(
        default=None,
        max_length=2048,
        description="Where the document is published. Without `text`, the server fetches it: http or https, public "
        "addresses only, redirects followed up to a limit (5 by default), text/html (whose main text is extracted, "
        "without navigation and boilerplate) or text/plain; the address the text was finally read from is stored.",
    )
    published_at: PublishedAt | None = Field(
        default=None,
        description="Publication time; a bare date (`2025-08-18`) means midnight UTC that day. Required with "
        "`text`. When the page is fetched and this is left out: the time the page states, else `retrieved_at`, "
        "the latest it can have been published.",
        schema_extra={"examples": ["2025-08-18"]},
    )
    text: SourceText | None = Field(
        default=None,
        description="The full text, stored exactly as given; quotes are checked against it character by character. "
        "Leave it out to have the server fetch `url` and store the text it extracts, which is then just as fixed.",
    )
    retrieved_at: PublishedAt | None = Field(
        default=None,
        description="When the text was taken from `url`. Set by the server when it fetches the page; with `text`, "
        "when your copy was taken, if known.",
    )
    supersedes: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="Id of the earlier version of the same document."
    )


class SourceUpdate(PatchModel):
    """Metadata corrections. The text of a source never changes: store a new version with `supersedes`."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.SOURCE_UPDATE))
    nullable_fields = frozenset({"publisher", "url"})

    title: Omittable[ShortText] = None
    title_is_editorial: Omittable[StrictBool] = None
    publisher: Name | None = None
    url: Url | None = Field(default=None, max_length=2048)
    published_at: Omittable[PublishedAt] = None
    kind: Omittable[SourceKind] = None
    language: Omittable[Language] = None


class SourceSummary(SourceBase):
    """A source without its text, as listed."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.SOURCE_SUMMARY))

    id: int
    url: str | None
    published_at: datetime
    retrieved_at: datetime | None = Field(
        description="When the text was taken from `url`: the time the server fetched the page, or the time the "
        "client gave with the text; null when not known."
    )
    sha256: str = Field(description="SHA-256 of the text encoded as UTF-8, in hex.")
    text_length: int = Field(description="Length of the text in characters (the unit of quote offsets).")
    supersedes: int | None
    created_at: datetime
    updated_at: datetime


class SourcePublic(SourceSummary):
    model_config = ModelConfig(json_schema_extra=examples.shown(examples.SOURCE_PUBLIC))

    text: str


class SourceCreated(SourcePublic):
    """The stored source and, when it supersedes another, where that one's quotes landed in it."""

    model_config = ModelConfig(json_schema_extra=examples.shown(examples.SOURCE_CREATED))

    anchoring: AnchoringReport | None = Field(
        default=None,
        description="Present only when `supersedes` was given: every standing statement quoting the superseded "
        "source was re-anchored on this one, with the outcome per statement.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_anchoring(self, serialize: SerializerFunctionWrapHandler):
        # Absent rather than null: any other source is exactly what GET /v1/sources/{id} returns.
        # (No return annotation, so the documented schema stays the model's own fields.)
        data: dict[str, Any] = serialize(self)
        if data.get("anchoring") is None:
            data.pop("anchoring", None)
        return data
