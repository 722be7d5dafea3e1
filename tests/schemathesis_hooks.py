"""Schemathesis hooks for tests/test_fuzzing.py (loaded through SCHEMATHESIS_HOOKS)."""

from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def json_lines(_context: Any, value: Any) -> bytes:
    """A bulk import's body (POST /v1/imports) is JSON Lines text, a string in the schema: sent as
    its UTF-8 bytes, as text/plain would be. Schemathesis knows no serializer for the media type."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", errors="surrogatepass")
