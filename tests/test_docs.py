"""/docs (Swagger UI) and /redoc load every file from this server, so they work offline."""

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

ASSET_REFERENCE = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"')
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
# ReDoc's sidebar credit shows Redocly's logo from their CDN; unreachable, ReDoc drops the image.
REDOC_CREDIT_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def referenced_files(html: str) -> list[str]:
    return ASSET_REFERENCE.findall(html)


@pytest.mark.parametrize(
    ("page", "files"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_documentation_page_loads_only_files_this_server_serves(anonymous_client, page, files):
    response = anonymous_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = referenced_files(response.text)
    assert {url.rsplit("/", 1)[-1] for url in urls} == files
    for url in urls:
        assert not urlsplit(url).netloc, f"{page} loads {url} from another host"
        asset = anonymous_client.get(url)
        assert asset.status_code == 200, url
        assert CONTENT_TYPES[url[url.rindex(".") :]] in asset.headers["content-type"], (url, asset.headers)
        assert len(asset.content) > 1000, url


def test_swagger_ui_reads_our_openapi_document_and_its_oauth2_redirect_is_served(anonymous_client):
    page = anonymous_client.get("/docs").text
    assert "url: '/openapi.json'" in page
    assert "'/docs/oauth2-redirect'" in page
    redirect = anonymous_client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "oauth2" in redirect.text
    assert not referenced_files(redirect.text)


def test_documentation_files_follow_the_root_path_behind_a_proxy(app):
    with TestClient(app, root_path="/stancemap") as client:
        for page in ("/docs", "/redoc"):
            urls = referenced_files(client.get(page).text)
            assert urls and all(url.startswith("/stancemap/docs/assets/") for url in urls), urls


def test_documentation_pages_stay_out_of_the_openapi_document(anonymous_client):
    paths = anonymous_client.get("/openapi.json").json()["paths"]
    assert [path for path in paths if path.startswith(("/docs", "/redoc"))] == []


def open_offline(chromium: Any, base: str, path: str) -> tuple[Any, list[str], list[str]]:
    """The page at `path`, with every request to another host refused as it would be offline."""
    page = chromium.new_page()
    elsewhere: list[str] = []
    errors: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + path)
    return page, elsewhere, errors


# `browser` and `viewer_server` (a `stancemap serve` on the seeded SQLite database) come from the
# viewer's test plugin, tests/viewer_browser.py.
def test_swagger_ui_and_redoc_render_the_api_offline_in_a_browser(browser, viewer_server):
    page, elsewhere, errors = open_offline(browser, viewer_server.base, "/docs")
    # Swagger UI before 5.0 says "Unable to render this definition" to an OpenAPI 3.1 document.
    page.wait_for_selector("#operations-sources-sources-list")
    assert "OAS 3.1" in page.inner_text(".info")
    assert (elsewhere, errors) == ([], [])
    page.close()

    page, elsewhere, errors = open_offline(browser, viewer_server.base, "/redoc")
    page.wait_for_selector("#tag\\/sources\\/operation\\/sources-list", state="attached")
    assert set(elsewhere) <= {REDOC_CREDIT_LOGO}
    assert errors == []
    page.close()
