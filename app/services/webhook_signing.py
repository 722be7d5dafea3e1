"""Signatures of webhook deliveries, as receivers check them (README.md, "Webhooks").

`Stancemap-Signature: v1=<hex>` where hex is HMAC-SHA256, keyed with the webhook's secret, of
`<Stancemap-Timestamp>.<raw body>`. The timestamp is signed too, so a receiver that refuses old
timestamps refuses a replayed delivery. `v1=` names the scheme: a later one can be sent beside it.
"""

import hashlib
import hmac
import time

SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `Stancemap-Signature` header value of a body sent at `timestamp` (Unix seconds)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether `header` (`Stancemap-Signature`) signs `body` with `secret` at `timestamp`
    (`Stancemap-Timestamp`), and that timestamp lies within `tolerance_s` of `now`."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    sent_at = int(timestamp)
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)  # as sent: the signed bytes are the header's
    # Several comma-separated signatures may come; one of this scheme that matches is enough.
    return any(hmac.compare_digest(candidate.strip(), expected) for candidate in header.split(","))
