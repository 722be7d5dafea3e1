"""The Stancemap application: create_app() wires settings, database, routes and error handling."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from app.api.auth import read_access
from app.api.caching import CachedViewShortcut, ViewRenderer
from app.api.routes import (
    audit,
    diffs,
    health,
    issues,
    matrix,
    parties,
    problems,
    sources,
    statements,
    timeline,
)
from app.config import Settings, get_settings
from app.db import make_engine
from app.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from app.limits import BodySizeLimit

DESCRIPTION = """
Who stands where: for every party and issue, the party's stance backed by a verbatim quote from a
stored source, with its exact position in the source text (`selector.start`/`end`, end exclusive).

Every error is an RFC 9457 problem (`application/problem+json`). Lists are cursor-paginated:
follow `next_cursor` (or the `Link: rel="next"` header) until it is null.
"""


def operation_id(route: APIRoute) -> str:
    """`tag-name` operationIds (`statements-create`) give generated clients clean, stable method names."""
    return f"{route.tags[0]}-{route.name}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.engine.dispose()
        app.state.write_engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Stancemap",
        version="0.1.0",
        description=DESCRIPTION,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.write_engine = (
        make_engine(settings, for_writes=True) if settings.database_url.startswith("sqlite") else app.state.engine
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CachedViewShortcut)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "Accept"],
            expose_headers=["ETag", "Link", "Location"],
            max_age=600,
        )
    app.state.view_renderer = ViewRenderer(
        max_cache_bytes=settings.view_cache_mb * 1024 * 1024, max_concurrent_builds=settings.max_concurrent_builds
    )
    app.include_router(health.router)
    app.include_router(problems.router)
    for module in (matrix, diffs, timeline, parties, issues, sources, statements, audit):
        app.include_router(module.router, dependencies=[Depends(read_access)])
    _document_problems_as_problem_json(app)
    return app


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """Error responses are documented under their real media type, application/problem+json."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45":
                        response["content"] = {PROBLEM_MEDIA_TYPE: problem}
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        for schema in schemas.values():
            for field in schema.get("properties", {}).values():
                # An omittable field's None default only means "not given"; null itself is refused.
                if "default" in field and field["default"] is None and "anyOf" not in field:
                    del field["default"]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
