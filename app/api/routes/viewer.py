"""The viewer: static pages drawn from the public JSON API. `/` shows the matrix and diffs,
`/compare` the agreement between parties, `/match` the parties closest to a reader's answers.

Their files live in app/viewer/ (HTML, CSS and ES modules; no build step, nothing from a CDN).
None of these routes is part of the API, so they stay out of the OpenAPI document.
"""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from app.errors import NotFound

VIEWER_DIR = Path(__file__).resolve().parent.parent.parent / "viewer"
# Clients may keep the files but must revalidate (ETag, Last-Modified): an upgrade shows at once.
CACHE_CONTROL = "no-cache"

# A tag all the same: operation ids (app.main.operation_id) are built from the first tag.
router = APIRouter(tags=["viewer"], include_in_schema=False)


def _page(name: str) -> FileResponse:
    page = VIEWER_DIR / name
    if not page.is_file():  # an install without the package data: the API itself still serves
        raise NotFound("The viewer's files are not installed with this copy of Stancemap.")
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": CACHE_CONTROL})


@router.api_route("/", methods=["GET", "HEAD"], name="viewer")
def viewer_page() -> FileResponse:
    """The matrix: who stands where, as of a date, and what changed since."""
    return _page("index.html")


@router.api_route("/compare", methods=["GET", "HEAD"], name="viewer-compare")
def compare_page() -> FileResponse:
    """Every pair of parties' agreement, and the quotes where two differ."""
    return _page("compare.html")


@router.api_route("/match", methods=["GET", "HEAD"], name="viewer-match")
def match_page() -> FileResponse:
    """The propositions one by one, then the parties ranked by closeness to the reader's answers."""
    return _page("match.html")


class _ViewerFiles(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response


def install(app: FastAPI) -> None:
    """The pages and their own files under `/viewer/`."""
    app.include_router(router)
    if VIEWER_DIR.is_dir():  # else `/` explains, and the API itself still serves
        app.mount("/viewer", _ViewerFiles(directory=VIEWER_DIR), name="viewer-files")
