from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from app.config import Settings


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        # check_same_thread off: FastAPI runs sync endpoints in a thread pool.
        engine = create_engine(
            url,
            echo=settings.log_sql,
            connect_args={"check_same_thread": False},
            pool_size=settings.pool_size,
            max_overflow=settings.pool_size,
        )
        _configure_sqlite(engine, settings)
        return engine
    return create_engine(
        url, echo=settings.log_sql, pool_pre_ping=True, pool_size=settings.pool_size, max_overflow=settings.pool_size
    )


def _configure_sqlite(engine: Engine, settings: Settings) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        # WAL lets readers proceed while one writer commits; foreign keys are off by default in SQLite.
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute(f"PRAGMA cache_size=-{int(settings.sqlite_cache_mb) * 1024}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
