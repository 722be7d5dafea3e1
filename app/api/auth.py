"""Bearer-token access control: writes need a token with the write scope, the audit trail the
admin scope, and reads a token only when STANCEMAP_READ_REQUIRES_TOKEN is set."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from app.db import SessionDep
from app.errors import Forbidden, Unauthorized
from app.models.token import TokenScope
from app.services.tokens import Principal, authenticate

# Declares the scheme in OpenAPI (generated clients and /docs learn to send the header);
# the header itself is checked below, so a malformed one gets a clear problem instead of a bare 403.
bearer_scheme = HTTPBearer(auto_error=False, description="A token from `stancemap token create`.")

_UNSET = object()


def current_principal(request: Request, session: SessionDep) -> Principal | None:
    """The caller, from `Authorization: Bearer <token>`; None when no header was sent."""
    cached = getattr(request.state, "principal", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]  # request.state is untyped; this is the Principal | None stored below
    header = request.headers.get("authorization")
    principal = None
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("The Authorization header must read `Bearer <token>`.", invalid_token=True)
        principal = authenticate(session, secret.strip())
        if principal is None:
            raise Unauthorized("The token is unknown or has been revoked.", invalid_token=True)
    request.state.principal = principal
    return principal


def require_scope(needed: TokenScope) -> Callable[..., Principal]:
    def dependency(
        principal: Annotated[Principal | None, Depends(current_principal)],
        _credentials: Annotated[object, Security(bearer_scheme)] = None,
    ) -> Principal:
        if principal is None:
            raise Unauthorized(f"This request needs `Authorization: Bearer <token>` with the {needed} scope.")
        if not principal.scope.allows(needed):
            raise Forbidden(
                f"The token '{principal.name}' has the {principal.scope} scope; this request needs {needed}.",
                needed_scope=needed.value,
            )
        return principal

    return dependency


def read_access(request: Request, session: SessionDep) -> None:
    """Router-wide: reads need a token only when the server is configured so."""
    if request.app.state.settings.read_requires_token:
        principal = current_principal(request, session)
        require_scope(TokenScope.read)(principal)


def _writer_name(principal: Annotated[Principal, Depends(require_scope(TokenScope.write))]) -> str:
    return principal.name


ActorDep = Annotated[str, Depends(_writer_name)]
AdminDep = Annotated[Principal, Depends(require_scope(TokenScope.admin))]
