"""API tokens: created and revoked from the command line, checked on every request that needs one."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from app.errors import Conflict, NotFound
from app.models.audit import AuditAction, AuditEntity
from app.models.common import utcnow
from app.models.token import ApiToken, TokenScope
from app.services import unit_of_work
from app.services.audit import AuditEntry

TOKEN_PREFIX = "stm_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (recorded as the author of writes) and its scope."""

    name: str
    scope: TokenScope


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _audit_view(token: ApiToken) -> dict[str, str | None]:
    """A token as the audit trail records it: never its secret nor the secret's digest."""
    return {
        "name": token.name,
        "scope": token.scope,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def create_token(session: Session, *, name: str, scope: TokenScope, actor: str = "cli") -> str:
    """Stores a new token and returns its secret, which is never stored nor shown again."""
    if session.execute(select(ApiToken).where(col(ApiToken.name) == name)).scalars().first() is not None:
        raise Conflict(f"A token named '{name}' already exists; revoke it or choose another name.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, scope=scope.value, token_sha256=_digest(secret))
    session.add(token)
    unit_of_work.commit(
        session, audit=AuditEntry(actor, AuditEntity.token, name, AuditAction.create, after=_audit_view(token))
    )
    return secret


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(col(ApiToken.id))).scalars())


def revoke_token(session: Session, name: str, *, actor: str = "cli") -> ApiToken:
    token = session.execute(select(ApiToken).where(col(ApiToken.name) == name)).scalars().first()
    if token is None:
        raise NotFound(f"No token is named '{name}'.")
    if token.revoked_at is None:
        before = _audit_view(token)
        token.revoked_at = utcnow()
        session.add(token)
        unit_of_work.commit(
            session, audit=AuditEntry(actor, AuditEntity.token, name, AuditAction.revoke, before, _audit_view(token))
        )
    return token


def authenticate(session: Session, secret: str) -> Principal | None:
    """The principal a presented secret belongs to, or None for an unknown or revoked one."""
    digest = _digest(secret)
    token = session.execute(select(ApiToken).where(col(ApiToken.token_sha256) == digest)).scalars().first()
    # Looked up by digest, then compared in constant time all the same.
    if token is None or not hmac.compare_digest(token.token_sha256, digest) or token.revoked_at is not None:
        return None
    return Principal(name=token.name, scope=TokenScope(token.scope))
