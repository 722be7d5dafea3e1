"""Idempotency keys: a POST sent again with the same `Idempotency-Key` gets the first answer again."""

from datetime import datetime

from sqlalchemy import Column, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.common import UTCDateTime

# The IETF draft leaves the length open; 255 visible ASCII characters hold any UUID or ULID.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


class IdempotencyRecord(SQLModel, table=True):
    """A key claimed by a token's holder, with the request it came with and, once answered, the answer.

    The claim is written in the transaction of the write it guards, so the two commit or fail
    together; the answer is stored right after, before it is sent."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("actor", "key", name="uq_idempotency_key_actor_key"),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Keys are scoped to the token's name: two clients never see each other's answers.
    actor: str = Field(sa_column=Column(String(64), nullable=False))
    key: str = Field(sa_column=Column(String(255), nullable=False))
    # sha256 of the method, path, query and body: the same key with another request is refused.
    request_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Null until the answer is stored.
    status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    media_type: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    location: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
