import enum
from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.models.common import UTCDateTime, utcnow


class TokenScope(enum.StrEnum):
    """What a token may do; each scope includes the ones before it."""

    read = "read"
    write = "write"
    admin = "admin"

    def allows(self, needed: "TokenScope") -> bool:
        order = list(TokenScope)
        return order.index(self) >= order.index(needed)


class ApiToken(SQLModel, table=True):
    """A bearer token. Only the SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    scope: str = Field(sa_type=String(16))
    token_sha256: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
