"""Safe retries: a write sent again with the same idempotency key is answered, not done, again.

A key is claimed inside the transaction of the write it guards: if the write fails, the claim goes
with it and the key can be used again; if it commits, so does the claim. The answer is stored
right after the commit, before the client gets it, so a client that received an answer always
gets the same one for a retry. Keys are scoped to a token's name and expire after a day.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from app.models.common import utcnow
from app.models.idempotency import IdempotencyRecord

KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    media_type: str
    location: str | None
    body: bytes


@dataclass(frozen=True)
class Claim:
    record_id: int
    key: str


def _live_record(session: Session, actor: str, key: str) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(
            col(IdempotencyRecord.actor) == actor,
            col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.created_at) > utcnow() - KEY_LIFETIME,
        )
    ).scalar_one_or_none()


def _answer_of(record: IdempotencyRecord, request_sha256: str) -> StoredAnswer:
    """The stored answer for a retry, or the problem that a request under a known key is."""
    if record.request_sha256 != request_sha256:
        raise IdempotencyKeyReused(
            f"The Idempotency-Key '{record.key}' was used at {record.created_at:%Y-%m-%dT%H:%M:%SZ} for a different "
            "request (method, path or body); use a new key for a new request."
        )
    if record.status is None or record.media_type is None or record.body is None:
        raise IdempotencyKeyInUse(
            f"A request with the Idempotency-Key '{record.key}' is still being answered. Retry shortly; if this "
            "persists, the first request was carried out but its answer was lost: look the result up instead."
        )
    return StoredAnswer(record.status, record.media_type, record.location, record.body)


def claim(session: Session, *, actor: str, key: str, request_sha256: str) -> StoredAnswer | Claim:
    """The stored answer when the key was used before for this request; otherwise claims the key in
    the session's transaction (flushed at once, so a concurrent claim of the same key waits for
    this transaction, then fails) and returns the claim. The caller commits it with its write."""
    found = _live_record(session, actor, key)
    if found is not None:
        return _answer_of(found, request_sha256)
    now = utcnow()
    session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) <= now - KEY_LIFETIME))
    record = IdempotencyRecord(actor=actor, key=key, request_sha256=request_sha256, created_at=now)
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        # Claimed by a concurrent request that has committed since this one looked.
        session.rollback()
        claimed = _live_record(session, actor, key)
        if claimed is None:
            raise
        return _answer_of(claimed, request_sha256)
    assert record.id is not None  # assigned by the flush
    return Claim(record.id, key)


def store_answer(engine: Engine, claimed: Claim, answer: StoredAnswer) -> None:
    """Records the answer to a claimed key, in a transaction of its own after the write's. It changes
    no data a view shows, so it commits without the unit of work and leaves the data version alone."""
    with Session(engine) as session:
        session.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.id) == claimed.record_id)
            .values(status=answer.status, media_type=answer.media_type, location=answer.location, body=answer.body)
        )
        session.commit()
