"""Tables and API schemas, one module per concept. Importing this registers every table."""

from app.models.anchoring import Anchoring
from app.models.audit import AuditEvent
from app.models.change_event import ChangeEvent
from app.models.data_version import DataVersion
from app.models.former_slug import IssueFormerSlug, PartyFormerSlug
from app.models.idempotency import IdempotencyRecord
from app.models.issue import Issue
from app.models.party import Party
from app.models.position_span import PositionCell, PositionSpan, Projection
from app.models.source import Source
from app.models.statement import Statement, StatementRevision
from app.models.token import ApiToken
from app.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "Anchoring",
    "ApiToken",
    "AuditEvent",
    "ChangeEvent",
    "DataVersion",
    "IdempotencyRecord",
    "Issue",
    "IssueFormerSlug",
    "Party",
    "PartyFormerSlug",
    "PositionCell",
    "PositionSpan",
    "Projection",
    "Source",
    "Statement",
    "StatementRevision",
    "Webhook",
    "WebhookDelivery",
]
