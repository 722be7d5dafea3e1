"""Derived tables record the format their rows were built in (`projection`); code that finds another
format rebuilds them (app/services/position_history.py, app/services/search_index.py)."""

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import col

from app.models.position_span import Projection


def stored_format(connection: Connection, name: str) -> int | None:
    """The format the derived table `name` was built in; 0 when it was never built."""
    return connection.execute(select(col(Projection.format)).where(col(Projection.name) == name)).scalar_one_or_none()
