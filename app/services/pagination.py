"""Keyset pagination with opaque cursors: stable under inserts, no count(*) per page."""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Mapped
from sqlmodel import Session

from app.errors import InvalidCursor

Row = TypeVar("Row")


def encode_cursor(last_id: int) -> str:
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = value["after"]
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error) as error:
        raise InvalidCursor("The cursor is not one this server issued; start again without it.") from error
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**31:
        raise InvalidCursor("The cursor is not one this server issued; start again without it.")
    return after


@dataclass
class Window(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None


def paginate(
    session: Session,
    query: Select[Any],
    id_column: Mapped[Any],
    *,
    limit: int,
    cursor: str | None,
    id_of: Any = None,
) -> Window[Any]:
    """Run `query` ordered by `id_column` from after the cursor; one extra row tells if more exist."""
    if cursor is not None:
        query = query.where(id_column > decode_cursor(cursor))
    result = session.execute(query.order_by(id_column).limit(limit + 1))
    # One selected entity comes back as objects; several (an entity with joined slugs) as rows.
    rows = list(result.scalars().all() if len(query.column_descriptions) == 1 else result.all())
    if len(rows) <= limit:
        return Window(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    last_id = id_of(last) if id_of else last.id
    return Window(rows, encode_cursor(last_id))
