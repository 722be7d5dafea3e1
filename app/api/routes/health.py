from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from app.models import examples
from app.services import position_history, schema

router = APIRouter(tags=["health"])


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples.shown({"status": "ok"}))

    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=examples.shown(
            {"status": "ok", "database": "ok", "schema_revision": "0004", "head_revision": "0004"}
        )
    )

    status: str = Field(description="`ok` or `unavailable`.")
    database: str
    schema_revision: str | None
    head_revision: str | None


@router.get("/healthz", name="live", response_model=Health, summary="Is the process up")
async def healthz() -> Health:  # async: answers even when every worker thread is busy
    """Always `{"status": "ok"}` while the process serves requests; it does not touch the database
    (see `/readyz`). Open even when reads need a token."""
    return Health(status="ok")


@router.get(
    "/readyz",
    name="ready",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "Database unreachable, not migrated to head, or its position history not built",
        }
    },
    summary="Can the server serve data",
)
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, its schema is at the newest migration and the position
    history was built for this release."""
    head = schema.head_revision()
    try:
        current = schema.current_revision(request.app.state.engine)
        built = current != head or position_history.is_current(request.app.state.engine)
    except SQLAlchemyError:
        body = Readiness(status="unavailable", database="unreachable", schema_revision=None, head_revision=head)
        return JSONResponse(body.model_dump(), status_code=503)
    ready = current == head
    if not built:
        body = Readiness(
            status="unavailable",
            database="position history not built for this release (run `stancemap migrate`)",
            schema_revision=current,
            head_revision=head,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    body = Readiness(
        status="ok" if ready else "unavailable",
        database="ok" if ready else "not migrated to head (run `stancemap migrate`)",
        schema_revision=current,
        head_revision=head,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
