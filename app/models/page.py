from typing import Generic, TypeVar

from pydantic import BaseModel, Field

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list. Pass `next_cursor` as `cursor` to get the next; null on the last page."""

    items: list[Item]
    next_cursor: str | None = Field(description="Opaque; null when there are no more items.")
