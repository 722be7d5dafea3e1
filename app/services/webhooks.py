"""Webhooks: the URLs change events are POSTed to, managed by admins.

A webhook follows parties, issues and classes of change (null: all). Its URL obeys the rules of
fetched sources (app/services/fetching.py): http or https, no credentials, and an address that is
public unless the server runs with STANCEMAP_FETCH_ALLOW_PRIVATE=true. The URL is checked when it is
given and again before every delivery (app/services/webhook_delivery.py), since DNS answers change.
Its secret signs the deliveries (app/services/webhook_signing.py) and is shown only when it is made.
"""

import secrets
import socket
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import Session, SQLModel, col

from app.errors import InvalidField, NotFound
from app.models.audit import AuditAction, AuditEntity
from app.models.common import utcnow
from app.models.issue import Issue
from app.models.party import Party
from app.models.webhook import (
    DeliveryPublic,
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookPublic,
    WebhookUpdate,
)
from app.services import unit_of_work
from app.services.audit import AuditEntry
from app.services.fetching import ALLOW_PRIVATE_VARIABLE, address_class
from app.services.matrix import resolve_grid
from app.services.pagination import Sorting, Window, paginate

SECRET_PREFIX = "whsec_"
# How long a URL's host may take to resolve, when it is given and before each delivery.
RESOLVE_TIMEOUT_S = 5.0
# The resolver asked for a URL's host; tests replace it to play the DNS of a public internet.
getaddrinfo = socket.getaddrinfo

IPAddress = IPv4Address | IPv6Address
SORTING = Sorting()


class ReceiverRefused(Exception):
    """A webhook URL that will not be sent to; the message says why and what to do."""


@dataclass(frozen=True)
class Receiver:
    """A webhook URL and the addresses its host resolved to, all of them allowed."""

    url: httpx.URL
    addresses: list[IPAddress]


def check_receiver(url: str, *, allow_private: bool, timeout_s: float = RESOLVE_TIMEOUT_S) -> Receiver:
    """Resolves the URL's host and checks it and its addresses; ReceiverRefused when they are not
    to be sent to. Blocks while the host is resolved: call it outside a transaction holding locks."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ReceiverRefused(f"{url} is not a URL a webhook can be sent to: {error}.") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ReceiverRefused(f"{url} is not an http or https URL.")
    if parsed.userinfo:
        raise ReceiverRefused(
            "A webhook URL cannot carry a user name or password; remove them (the receiver authenticates "
            "deliveries by their signature)."
        )
    if parsed.port == 0:
        raise ReceiverRefused(f"{url} names port 0, which nothing can be sent to; give the receiver's port.")
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        # Bytes: the host is IDNA-encoded already.
        found = _resolved(host.encode("ascii"), port, timeout_s)
    except FutureTimeout:
        raise ReceiverRefused(f"The host {parsed.host} was not resolved within {timeout_s:g} seconds.") from None
    except (OSError, UnicodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ReceiverRefused(f"The host {parsed.host} could not be resolved ({reason}).") from None
    # The zone of a link-local IPv6 address (fe80::1%eth0) is not part of the address.
    addresses = list(dict.fromkeys(ip_address(str(info[4][0]).partition("%")[0]) for info in found))
    if not addresses:
        raise ReceiverRefused(f"The host {parsed.host} has no address.")
    if not allow_private:
        for address in addresses:
            if (kind := address_class(address)) is not None:
                where = "is" if host == str(address) else f"resolves to {address},"
                article = "an" if kind[0] in "aeiou" else "a"
                raise ReceiverRefused(
                    f"{url} {where} {article} {kind} address; webhooks are sent only to public addresses "
                    f"(to others only by a server run with {ALLOW_PRIVATE_VARIABLE})."
                )
    return Receiver(parsed, addresses)


def _resolved(host: bytes, port: int, timeout_s: float) -> list[Any]:
    """getaddrinfo's answer, in a thread of its own that is abandoned at the timeout (the system
    resolver has none): a name server that does not answer holds up no other lookup."""
    answer: Future[list[Any]] = Future()

    def look_up() -> None:
        try:
            answer.set_result(getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as error:  # handed to the caller, who is waiting for it
            answer.set_exception(error)

    threading.Thread(target=look_up, name="stancemap-webhook-resolver", daemon=True).start()
    return answer.result(timeout_s)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _checked_url(url: Any, *, allow_private: bool) -> str:
    try:
        check_receiver(str(url), allow_private=allow_private)
    except ReceiverRefused as refused:
        raise InvalidField("url", str(refused)) from None
    return str(url)


def _filter_ids(session: Session, parties: list[str] | None, issues: list[str] | None) -> tuple[Any, Any]:
    """The ids of the parties and issues named by slug (former slugs too); None stays None (all).
    Unknown slugs are an invalid field naming every one of them."""
    grid = resolve_grid(session, parties or [], issues or [])
    party_ids = None if parties is None else [party.id for party in grid.parties]
    issue_ids = None if issues is None else [issue.id for issue in grid.issues]
    return party_ids, issue_ids


def _slugs(session: Session, model: type[SQLModel], ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    entry: Any = model  # Party or Issue: both have an id and a slug, which SQLModel does not
    return {row.id: row.slug for row in session.execute(select(entry.id, entry.slug).where(entry.id.in_(wanted)))}


def public_views(session: Session, webhooks: Sequence[Webhook]) -> list[WebhookPublic]:
    """The webhooks as the API shows them: filters by current slug (one deleted since is left out),
    never the secret."""
    party_slugs = _slugs(session, Party, (i for webhook in webhooks for i in webhook.parties or ()))
    issue_slugs = _slugs(session, Issue, (i for webhook in webhooks for i in webhook.issues or ()))
    return [
        WebhookPublic.model_validate(
            {
                **webhook.model_dump(exclude={"secret"}),
                "parties": _named(webhook.parties, party_slugs),
                "issues": _named(webhook.issues, issue_slugs),
            }
        )
        for webhook in webhooks
    ]


def _named(ids: list[int] | None, slugs: dict[int, str]) -> list[str] | None:
    return None if ids is None else [slugs[entry_id] for entry_id in ids if entry_id in slugs]


def public_view(session: Session, webhook: Webhook) -> WebhookPublic:
    return public_views(session, [webhook])[0]


def _audit(actor: str, webhook: Webhook, action: AuditAction, before: Any, after: Any) -> AuditEntry:
    return AuditEntry(actor, AuditEntity.webhook, str(webhook.id), action, before=before, after=after)


def create_webhook(
    session: Session, body: WebhookCreate, *, actor: str, allow_private: bool
) -> tuple[WebhookPublic, str]:
    """Stores a webhook; returns it and its secret. Resolves the URL's host first (see check_receiver)."""
    url = _checked_url(body.url, allow_private=allow_private)
    party_ids, issue_ids = _filter_ids(session, body.parties, body.issues)
    secret = new_secret()
    webhook = Webhook(
        url=url,
        parties=party_ids,
        issues=issue_ids,
        changes=None if body.changes is None else list(dict.fromkeys(str(change) for change in body.changes)),
        secret=secret,
        description=body.description,
        created_by=actor,
    )
    session.add(webhook)
    session.flush()  # its id names it in the audit trail
    created = public_view(session, webhook)
    unit_of_work.commit(session, audit=_audit(actor, webhook, AuditAction.create, None, created))
    return created, secret


def get_webhook(session: Session, webhook_id: int) -> Webhook:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"No webhook has the id {webhook_id}; GET /v1/webhooks lists those that exist.")
    return webhook


def list_webhooks(session: Session, *, limit: int, cursor: str | None, sort: str | None = None) -> Window[Webhook]:
    order = SORTING.order(sort)
    return paginate(session, select(Webhook), col(Webhook.id), limit=limit, cursor=cursor, order=order)


def update_webhook(
    session: Session, webhook_id: int, changes: WebhookUpdate, *, actor: str, allow_private: bool
) -> tuple[WebhookPublic, str | None]:
    """Applies the changes; returns the webhook as it is now and its new secret when it was rotated (else None).
    Changes to the values it has already write nothing. A new URL's host is resolved before anything
    is read (see check_receiver)."""
    values = changes.changes()
    url = _checked_url(values["url"], allow_private=allow_private) if "url" in values else None
    webhook = get_webhook(session, webhook_id)
    before = public_view(session, webhook)
    if url is not None:
        webhook.url = url
    if "parties" in values or "issues" in values:
        party_ids, issue_ids = _filter_ids(session, values.get("parties"), values.get("issues"))
        if "parties" in values:
            webhook.parties = party_ids
        if "issues" in values:
            webhook.issues = issue_ids
    if "change_classes" in values:
        classes = values["change_classes"]
        webhook.changes = None if classes is None else list(dict.fromkeys(str(change) for change in classes))
    if "description" in values:
        webhook.description = values["description"]
    if values.get("enabled") is True:
        # Deliveries left pending while it was disabled are sent again.
        webhook.enabled, webhook.disabled_reason, webhook.disabled_at = True, None, None
        webhook.consecutive_failures = 0
    elif values.get("enabled") is False and webhook.enabled:
        webhook.enabled, webhook.disabled_reason, webhook.disabled_at = False, f"Disabled by {actor}.", utcnow()
    secret = None
    if values.get("rotate_secret"):
        secret = webhook.secret = new_secret()
    changed = public_view(session, webhook)
    if secret is None and changed == before:
        session.rollback()  # values it already had: no write, and no audit event saying nothing
        return before, None
    webhook.updated_at = utcnow()
    session.add(webhook)
    updated = changed.model_copy(update={"updated_at": webhook.updated_at})
    unit_of_work.commit(session, audit=_audit(actor, webhook, AuditAction.update, before, updated))
    return updated, secret


def delete_webhook(session: Session, webhook_id: int, *, actor: str) -> None:
    """Deletes the webhook and every delivery of it, those still pending too (the foreign key cascades)."""
    webhook = get_webhook(session, webhook_id)
    audit = _audit(actor, webhook, AuditAction.delete, public_view(session, webhook), None)
    session.delete(webhook)
    unit_of_work.commit(session, audit=audit)


def list_deliveries(
    session: Session,
    webhook_id: int,
    *,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
    sort: str | None = None,
) -> Window[DeliveryPublic]:
    get_webhook(session, webhook_id)
    query = select(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id)
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status.value)
    window = paginate(session, query, col(WebhookDelivery.id), limit=limit, cursor=cursor, order=SORTING.order(sort))
    return Window([delivery_view(row) for row in window.rows], window.next_cursor)


def delivery_view(delivery: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate({**delivery.model_dump(exclude={"event_id"}), "event": delivery.event_id})
