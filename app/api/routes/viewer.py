"""The viewer: a static page at `/` that draws the matrix and diffs from the public JSON API.

Its files live in app/viewer/ (HTML, CSS and an ES module; no build step, nothing from a CDN).
Neither route is part of the API, so both stay out of the OpenAPI document.
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


@router.api_route("/", methods=["GET", "HEAD"], name="viewer")
def viewer_page() -> FileResponse:
    page = VIEWER_DIR / "index.html"
    if not page.is_file():  # an install without the package data: the API itself still serves
        raise NotFound("The viewer's files are not installed with this copy of Stancemap.")
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": CACHE_CONTROL})


class _ViewerFiles(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response


def install(app: FastAPI) -> None:
    """`GET /` and the page's own files under `/viewer/`."""
    app.include_router(router)
    if VIEWER_DIR.is_dir():  # else `/` explains, and the API itself still serves
        app.mount("/viewer", _ViewerFiles(directory=VIEWER_DIR), name="viewer-files")
