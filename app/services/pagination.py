"""Keyset pagination with opaque cursors: stable under inserts, no count(*) per page.

A list is read in the order of one sort key, ties broken by id in the same direction. The cursor
holds the last row's id and key value, and the sort it belongs to, so the next page starts exactly
after that row whatever was written meanwhile.
"""

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, ColumnElement, FunctionElement, Select, String, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped
from sqlmodel import Session

from app.errors import InvalidCursor, InvalidField

Row = TypeVar("Row")

# The order of the lists when no `sort` is given: by id, the order rows were created.
DEFAULT_SORT = "id"
_NOT_OURS = "The cursor is not one this server issued; start again without it."
# The largest id of an INTEGER column; BIGINT ids (events, deliveries) go up to what JSON readers
# hold exactly (JavaScript's Number.MAX_SAFE_INTEGER).
_MAX_INTEGER_ID = 2**31 - 1
MAX_BIG_ID = 2**53 - 1


class code_point_order(FunctionElement[str]):
    """Text compared by Unicode code point, as SQLite does by default: PostgreSQL would otherwise
    use the database's locale, and the two engines would list the same rows in different orders."""

    type = String()
    inherit_cache = True


@compiles(code_point_order)
def _compile_code_point_order(element: code_point_order, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(code_point_order, "postgresql")
def _compile_code_point_order_postgresql(element: code_point_order, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


@dataclass(frozen=True)
class SortKey:
    """What a list can be sorted by: an expression of its rows, never null, and the Python type of
    its values (str, int, date or datetime), as which a cursor carries the last row's value."""

    expression: Any
    value_type: type

    @classmethod
    def text(cls, column: Any) -> "SortKey":
        return cls(code_point_order(column), str)


@dataclass(frozen=True)
class SortOrder:
    """One list's order: by `key` (None: by id alone), ascending or not."""

    name: str
    key: SortKey | None
    descending: bool


class Sorting:
    """The sort keys of one list, by the names clients give in `sort`; `-name` sorts descending.
    `id` is one of them unless the list's rows show no id (it is still the default order)."""

    def __init__(self, *, with_id: bool = True, **keys: SortKey) -> None:
        self.keys = keys
        self.with_id = with_id

    @property
    def names(self) -> list[str]:
        return [DEFAULT_SORT, *self.keys] if self.with_id else list(self.keys)

    @property
    def pattern(self) -> str:
        return f"^-?({'|'.join(self.names)})$"

    def order(self, sort: str | None) -> SortOrder:
        """The order `sort` names (the default when None); an unknown key is an invalid `sort`."""
        if sort is None:
            return SortOrder(DEFAULT_SORT, None, descending=False)
        name = sort.removeprefix("-")
        if name not in self.names:
            choices = ", ".join(f"`{name}`" for name in self.names)
            raise InvalidField(
                "sort",
                f"`{sort}` is not a sort key of this list; sort by {choices}, with `-` before it for descending.",
            )
        return SortOrder(sort, self.keys.get(name), descending=sort.startswith("-"))


def encode_cursor(last_id: int, order: SortOrder | None = None, key_value: Any = None) -> str:
    position: dict[str, Any] = {"after": last_id}
    if order is not None and order.name != DEFAULT_SORT:
        position["sort"] = order.name
    if order is not None and order.key is not None:
        position["key"] = key_value.isoformat() if isinstance(key_value, date) else key_value
    return _encoded(position)


def _encoded(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decoded(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")))
    except (ValueError, UnicodeEncodeError, binascii.Error) as error:
        raise InvalidCursor(_NOT_OURS) from error


@dataclass(frozen=True)
class Position:
    """Where a cursor continues: after the row with this id and sort key value."""

    after: int
    key_value: Any = None


def decode_cursor(cursor: str, order: SortOrder | None = None, *, max_id: int = _MAX_INTEGER_ID) -> Position:
    """The position a cursor holds, for a list in `order` (by id when None) of ids up to `max_id`.
    A cursor of another order is refused: its position means nothing in this one."""
    order = order or SortOrder(DEFAULT_SORT, None, descending=False)
    value = _decoded(cursor)
    try:
        after = value["after"]
        sort = value.get("sort", DEFAULT_SORT)
    except (KeyError, TypeError, AttributeError) as error:
        raise InvalidCursor(_NOT_OURS) from error
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= max_id:
        raise InvalidCursor(_NOT_OURS)
    if sort != order.name:
        raise InvalidCursor(
            f"The cursor continues the list sorted by `{sort}`, not by `{order.name}`: send it with "
            f"`sort={sort}`, or start again without a cursor."
        )
    if order.key is None:
        return Position(after)
    return Position(after, _key_value(value.get("key"), order.key.value_type))


def _key_value(written: Any, value_type: type) -> Any:
    """A sort key value as the cursor wrote it, read back as `value_type`."""
    try:
        if value_type is datetime:
            return datetime.fromisoformat(written)
        if value_type is date:
            return date.fromisoformat(written)
    except (TypeError, ValueError) as error:
        raise InvalidCursor(_NOT_OURS) from error
    if type(written) is not value_type:
        raise InvalidCursor(_NOT_OURS)
    return written


@dataclass
class Window(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None


def _after(order: SortOrder, key: ColumnElement[Any] | None, id_column: Any, position: Position) -> Any:
    """SQL: the row comes after `position` in `order`."""
    if key is None:
        return id_column < position.after if order.descending else id_column > position.after
    if order.descending:
        return or_(key < position.key_value, and_(key == position.key_value, id_column < position.after))
    return or_(key > position.key_value, and_(key == position.key_value, id_column > position.after))


def paginate(
    session: Session,
    query: Select[Any],
    id_column: Mapped[Any],
    *,
    limit: int,
    cursor: str | None,
    id_of: Any = None,
    order: SortOrder | None = None,
) -> Window[Any]:
    """Run `query` in `order` (by `id_column` when None) from after the cursor; one extra row tells
    if more exist. Rows come back as `query` selects them: one entity as objects, several as rows."""
    order = order or SortOrder(DEFAULT_SORT, None, descending=False)
    single = len(query.column_descriptions) == 1
    key = order.key.expression if order.key is not None else None
    if cursor is not None:
        id_type = getattr(id_column, "type", None)  # a column's attribute: Mapped declares no type
        max_id = MAX_BIG_ID if isinstance(id_type, BigInteger) else _MAX_INTEGER_ID
        query = query.where(_after(order, key, id_column, decode_cursor(cursor, order, max_id=max_id)))
    direction = (lambda column: column.desc()) if order.descending else (lambda column: column.asc())
    if key is not None:
        # Selected too: the cursor carries the last row's value as the database compared it.
        query = query.add_columns(key).order_by(direction(key))
    result = session.execute(query.order_by(direction(id_column)).limit(limit + 1)).all()
    if key is not None:
        rows: list[Any] = [row[0] if single else row[:-1] for row in result]
    else:
        rows = [row[0] for row in result] if single else list(result)
    more = len(rows) > limit
    rows = rows[:limit]
    if not more:
        return Window(rows, None)
    last = rows[-1]
    last_id = id_of(last) if id_of else last.id
    return Window(rows, encode_cursor(last_id, order, result[limit - 1][-1] if key is not None else None))


@dataclass(frozen=True)
class RankedPosition:
    """Where a ranked list (search) continues: after the item with this score and key, in the
    window of candidates below `window` it was ranked in."""

    window: int
    score: float
    after: int


def encode_ranked_cursor(position: RankedPosition) -> str:
    return _encoded({"window": position.window, "score": position.score, "after": position.after})


def decode_ranked_cursor(cursor: str) -> RankedPosition:
    value = _decoded(cursor)
    try:
        window, score, after = value["window"], value["score"], value["after"]
    except (KeyError, TypeError) as error:
        raise InvalidCursor(_NOT_OURS) from error
    keys = (window, after)
    if not isinstance(score, float) or not math.isfinite(score) or not all(_is_key(key) for key in keys):
        raise InvalidCursor(_NOT_OURS)
    return RankedPosition(window, score, after)


def _is_key(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**62) < value < 2**62
