"""The Stancemap application: create_app() wires settings, database, routes and error handling."""

import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from app.api import deps, docs
from app.api.auth import read_access
from app.api.caching import RepeatedViewsFromCache, ViewRenderer
from app.api.deps import READ_PROBLEMS, strict_request
from app.api.head import HeadAsGet
from app.api.idempotency import AnsweredBefore, StoreIdempotentAnswers, replay
from app.api.routes import (
    anchoring,
    audit,
    candidates,
    changes,
    compare,
    diffs,
    health,
    imports,
    issues,
    match,
    matrix,
    parties,
    problems,
    search,
    sources,
    statements,
    timeline,
    viewer,
    webhooks,
)
from app.config import Settings, get_settings
from app.db import dispose_engines, make_engine, make_view_engine
from app.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from app.limits import BodySizeLimit
from app.models.examples import SHOWN
from app.services.data_version import version_probe
from app.services.schema import build_derived_tables
from app.services.webhook_delivery import DeliveryWorker

logger = logging.getLogger("stancemap")

DESCRIPTION = """
Who stands where: for every party and issue, the party's stance backed by a verbatim quote from a
stored source, with its exact position in the source text (`selector.start`/`end`, end exclusive).

Every error is an RFC 9457 problem (`application/problem+json`). Lists are cursor-paginated:
follow `next_cursor` (or the `Link: rel="next"` header) until it is null.
"""

# One tag per router, in the order /docs shows them; every operationId starts with its tag.
TAGS = [
    {"name": "matrix", "description": "Who stands where: one cell per party × issue as of a date."},
    {"name": "diffs", "description": "How positions changed between two moments, or since a source."},
    {
        "name": "changes",
        "description": "Every change of a position as it is recorded: a list, a live event stream, Atom feeds.",
    },
    {"name": "timeline", "description": "One party's statements on one issue, each classified against the one before."},
    {"name": "compare", "description": "How close parties stand: agreement between every pair, issue by issue."},
    {
        "name": "match",
        "description": "Which party stands closest to a reader: the parties ranked against the reader's answers, "
        "every point backed by the party's quote.",
    },
    {"name": "parties", "description": "Governments, leaders and blocs that take stances."},
    {"name": "issues", "description": "The propositions stances are taken on."},
    {"name": "sources", "description": "Stored documents, immutable text, that quotes are taken from."},
    {"name": "statements", "description": "Stances backed by a verbatim quote, with revisions and retractions."},
    {"name": "search", "description": "Finding what was said: statements, parties and issues by their words."},
    {
        "name": "anchoring",
        "description": "Where quotes landed when their source was revised, and what awaits an editor.",
    },
    {"name": "candidates", "description": "Statements proposed from a source's text, for an editor to accept."},
    {"name": "imports", "description": "Parties, issues, sources and statements in bulk, all or nothing."},
    {"name": "audit", "description": "Every write: who, what and when (admin scope)."},
    {"name": "webhooks", "description": "Change events POSTed to receivers' URLs, signed (admin scope)."},
    {"name": "problems", "description": "Descriptions of the problem types that errors refer to."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def operation_id(route: APIRoute) -> str:
    """`tag-name` operationIds (`statements-create`) give generated clients clean, stable method names."""
    # Every documented route has a tag (tests/test_openapi.py checks); an untagged one must not break routing.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


REF_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"


def freeze_startup_heap() -> None:
    """Leaves what start-up built out of the cyclic garbage collector's full collections, once per process.

    Imports, routes, schemas and ORM registries live as long as the process, and a full collection
    walking all of them every few dozen view requests showed in their p99 (bench/README.md). A
    reference cycle among frozen objects is never collected: start-up's objects are not garbage.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run in this thread pool. Builds are bounded anyway (max_concurrent_builds)
        # and connections by the pool, so more threads would only add memory.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # A server started without `stancemap migrate` must still not serve stale positions. An
        # unreachable database does not stop the start: /readyz reports it, and the spans.
        try:
            await anyio.to_thread.run_sync(build_derived_tables, app.state.write_engine)
        except SQLAlchemyError as error:
            logger.error("could not check the position history at start-up: %s", error)
        freeze_startup_heap()
        # Every server process sends due webhook deliveries; leases keep two from sending the same one.
        delivery = None
        if settings.webhook_delivery:
            poll_engine = make_engine(settings.model_copy(update={"pool_size": 1}))
            delivery = DeliveryWorker(app.state.write_engine, poll_engine, settings).start()
        yield
        if delivery is not None:
            await anyio.to_thread.run_sync(delivery.stop)  # off the event loop, like the probe below
        if app.state.version_probe is not None:
            # Joins the probe's thread: off the event loop, which other apps in the process may share.
            await anyio.to_thread.run_sync(app.state.version_probe.close)
        dispose_engines(app.state)

    app = FastAPI(
        lifespan=lifespan,
        title="Stancemap",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        # Every route, those added later included: unknown and repeated query parameters, non-JSON bodies.
        dependencies=[Depends(strict_request)],
        # FastAPI's pages load their files from a CDN; app.api.docs serves the same pages with local ones.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.version_probe = version_probe(app.state.engine)
    # A pool of its own: writers waiting for the write lock must not hold the connections readers need.
    app.state.write_engine = make_engine(settings, for_writes=True)
    app.state.view_engine = make_view_engine(settings, app.state.engine)
    install_error_handlers(app)
    app.add_exception_handler(AnsweredBefore, lambda _request, exc: replay(exc.answer))
    # Each middleware wraps those added before it: a view answered from the cache still goes out
    # through CORS and the error handling, and a HEAD is made a GET before any of them sees it.
    app.add_middleware(RepeatedViewsFromCache)
    app.add_middleware(StoreIdempotentAnswers)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, path_limits={"/v1/imports": settings.max_import_bytes}
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "Accept"],
            expose_headers=["ETag", "Link", "Location"],
            max_age=600,
        )
    app.add_middleware(HeadAsGet)
    app.state.view_renderer = ViewRenderer(
        max_cache_bytes=settings.view_cache_mb * 1024 * 1024, max_concurrent_builds=settings.max_concurrent_builds
    )
    app.include_router(health.router)
    app.include_router(problems.router)
    for module in (
        matrix,
        diffs,
        changes,
        timeline,
        compare,
        parties,
        issues,
        sources,
        statements,
        search,
        anchoring,
        imports,
        audit,
        webhooks,
    ):
        app.include_router(module.router, dependencies=[Depends(read_access)], responses=READ_PROBLEMS)
    # A POST that only reads: its own token check (write scope) goes through the read engine, so
    # the routers' read check, which would open the write engine's session for a POST, is left out.
    app.include_router(candidates.router)
    # A read sent as a POST (the answers are a body, kept out of URLs and logs): its read check goes
    # through the read engine, like the candidates'.
    app.include_router(match.router)
    viewer.install(app)
    docs.install(app)
    _document_problems_as_problem_json(app)
    return app


def openapi_json(app: FastAPI) -> str:
    """The OpenAPI document as committed in openapi.json: indented, FastAPI's key order, UTF-8."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def _document_strict_request(operation: dict[str, Any], responses: dict[str, Any], problem_ref: str) -> None:
    """What app.api.deps.strict_request answers on every route: 422 for an unknown or repeated
    query parameter, 415 for a body not sent as JSON."""
    problem = {"content": {"application/json": {"schema": {"$ref": problem_ref}}}}
    responses.setdefault("422", {"description": "An unknown or repeated query parameter", **problem})
    if "requestBody" in operation:
        responses.setdefault("415", {"description": deps.problems(415)[415]["description"], **problem})


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """Error responses are documented under their real media type, application/problem+json."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        problem_ref = "#/components/schemas/Problem"
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.get("responses", {})
                _document_strict_request(operation, responses, problem_ref)
                for status, response in responses.items():
                    refs = {media.get("schema", {}).get("$ref") for media in response.get("content", {}).values()}
                    # Problems, and FastAPI's own validation error (rendered as a problem too), under
                    # whatever media type the route's response class gave them; an error status with
                    # a body of its own, like /readyz's 503, keeps its media type.
                    if status[0] in "45" and refs & {problem_ref, REF_VALIDATION_ERROR}:
                        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": problem_ref}}}
                operation["responses"] = dict(sorted(responses.items()))
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        for name, schema in schemas.items():
            if name in SHOWN:
                schema["examples"] = SHOWN[name]
            for field in schema.get("properties", {}).values():
                # An omittable field's None default only means "not given"; null itself is refused.
                if "default" in field and field["default"] is None and "anyOf" not in field:
                    del field["default"]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
