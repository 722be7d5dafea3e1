"""Test fixtures. Every test runs once per database engine: SQLite (the embedded default) and
PostgreSQL (production). Each engine's schema is built with `alembic upgrade head`, and every
test starts from empty tables.

STANCEMAP_TEST_DATABASES picks the engines (default "sqlite,postgresql");
STANCEMAP_TEST_POSTGRES_URL is the server's maintenance database, where a throwaway test
database is created. Without a reachable PostgreSQL its tests are skipped, except under CI=true,
where they fail.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies import models as fastapi_dependencies
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.config import Settings
from app.db import dispose_engines
from app.main import create_app
from app.models.token import TokenScope
from app.services import schema
from app.services.tokens import create_token
from seeds.loader import load_seeds
from seeds.wahlomat import load_wahlomat

# The viewer's browser fixtures (chromium, a seeded server) for the tests of its pages.
pytest_plugins = ["tests.viewer_browser"]

ENGINES = [name.strip() for name in os.environ.get("STANCEMAP_TEST_DATABASES", "sqlite,postgresql").split(",")]
POSTGRES_ADMIN_URL = os.environ.get(
    "STANCEMAP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TABLES_CHILD_FIRST = [
    "webhook_delivery",
    "webhook",
    "change_event",
    "search_index",
    "idempotency_key",
    "position_span",
    "position_cell",
    "anchoring",
    "audit_event",
    "api_token",
    "statement_revision",
    "statement",
    "source",
    "party_former_slug",
    "issue_former_slug",
    "issue",
    "party",
]


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable: {reason}")


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Creates empty databases of a given engine, and drops them at the end of the session."""
    created_postgres: list[str] = []

    def make(engine_name: str) -> str:
        if engine_name == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'stancemap.db'}"
        name = f"stancemap_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as error:
            _postgres_unavailable(str(error).splitlines()[0])
        finally:
            admin.dispose()
        created_postgres.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield make

    if created_postgres:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in created_postgres:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request: pytest.FixtureRequest, make_database) -> str:
    url = make_database(request.param)
    schema.upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator:
    application = create_app(settings)
    _empty_tables(application.state.engine)
    yield application
    _close(application)


def _close(application: FastAPI) -> None:
    if application.state.version_probe is not None:
        application.state.version_probe.close()
    dispose_engines(application.state)
    # FastAPI remembers the dependencies it has inspected in caches of thousands of entries: closures
    # over the app, which kept every test's app alive, 1.4 MB each (2 GB before the suite was half done).
    for cache in vars(fastapi_dependencies).values():
        if hasattr(cache, "cache_clear"):
            cache.cache_clear()


@pytest.fixture
def engine(app) -> Engine:
    return app.state.engine


@pytest.fixture
def tokens(app) -> dict[str, str]:
    """One token per scope, named after it."""
    with Session(app.state.write_engine) as session:
        return {scope.value: create_token(session, name=scope.value, scope=scope) for scope in TokenScope}


@pytest.fixture
def client(app, tokens) -> Iterator[TestClient]:
    """A client holding the admin token: the API as an editor with every right sees it."""
    # raise_server_exceptions off: a server error must show up as the 500 a client would see.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {tokens['admin']}"
        yield test_client


@pytest.fixture
def anonymous_client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def seeded(engine: Engine) -> None:
    with Session(engine) as session:
        load_seeds(session)


@pytest.fixture(scope="session", params=ENGINES)
def wahlomat_template(request: pytest.FixtureRequest, make_database) -> str:
    """A database built by `upgrade head` with the Wahl-O-Mat 2017 loaded through the services,
    once per engine and session (loading takes seconds); tests get copies (`wahlomat_url`)."""
    url = make_database(request.param)
    schema.upgrade(url)
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            load_wahlomat(session)
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:  # everything into the main file, which is what is copied
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
    return url


@pytest.fixture
def wahlomat_url(wahlomat_template: str, tmp_path: Path) -> Iterator[str]:
    """A test's own copy of the loaded Wahl-O-Mat database: it may write to it."""
    template = make_url(wahlomat_template)
    if template.get_backend_name() == "sqlite":
        assert template.database is not None
        copy = tmp_path / "wahlomat.db"
        shutil.copyfile(template.database, copy)
        yield f"sqlite:///{copy}"
        return
    name = f"stancemap_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        yield template.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def wahlomat_app(wahlomat_url: str) -> Iterator:
    """The application on a copy of the Wahl-O-Mat database: 32 parties, 38 issues, 1,216 statements."""
    application = create_app(Settings(database_url=wahlomat_url))
    yield application
    _close(application)


@pytest.fixture
def wahlomat_client(wahlomat_app) -> Iterator[TestClient]:
    """A client without a token (reads need none) on the Wahl-O-Mat database."""
    with TestClient(wahlomat_app, raise_server_exceptions=False) as test_client:
        yield test_client


# The sequences of the emptied tables' columns, restarted so that ids start at 1 again on PostgreSQL.
OWNED_SEQUENCES = text(
    "SELECT sequence.relname FROM pg_depend JOIN pg_class sequence ON sequence.oid = pg_depend.objid"
    " JOIN pg_class owner ON owner.oid = pg_depend.refobjid"
    " WHERE sequence.relkind = 'S' AND pg_depend.refclassid = 'pg_class'::regclass AND owner.relname = ANY(:tables)"
)


def _empty_tables(engine: Engine) -> None:
    # DELETE rather than TRUNCATE on PostgreSQL too: TRUNCATE gives every table new files, about 0.2 s
    # per test for tables that hold a test's few rows, which DELETE removes in a hundredth of that.
    with engine.begin() as connection:
        for table in TABLES_CHILD_FIRST:
            connection.execute(text(f"DELETE FROM {table}"))
        if engine.dialect.name == "postgresql":
            for sequence in connection.execute(OWNED_SEQUENCES, {"tables": TABLES_CHILD_FIRST}).scalars():
                connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


SEED_DIR = Path(__file__).resolve().parent.parent / "seeds"
SEED_SOURCE_SHA256 = "056396a818e25ccb153d7ae267d4416a817cc3a107cc41b624c833b935a71275"
WAHLOMAT_DIR = SEED_DIR / "wahlomat"
