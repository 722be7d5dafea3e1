"""Which representation a view request gets from its Accept header (RFC 9110 section 12.5.1):
weights, specificity and case honoured, the same whether the route or the view cache answers."""

import pytest

from app.api.negotiation import accepts_gzip, prefers_csv

CSV = "text/csv"
JSON = "application/json"

# Accept header -> the media type a view is sent as.
CHOICES = {
    "text/csv": CSV,
    "TEXT/CSV": CSV,
    "Text/Csv;Q=0.8": CSV,
    "text/csv;charset=utf-8": CSV,
    "text/csv, */*": CSV,
    "text/*": CSV,
    "application/json;q=0.5, text/csv": CSV,
    "text/csv;q=0": JSON,
    "text/csv;q=0, */*": JSON,
    "text/csv;q=0.5, application/json": JSON,
    "text/csv, application/json": JSON,  # equal weights: the default stays
    "text/csv;q=nonsense": JSON,
    "*/*": JSON,
    "application/json": JSON,
    "application/xml": JSON,  # nothing acceptable: JSON rather than 406
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": JSON,  # a browser's
    "": JSON,
}


@pytest.mark.parametrize(("accept", "expected"), CHOICES.items(), ids=[repr(accept) for accept in CHOICES])
def test_prefers_csv_follows_weights_specificity_and_case(accept, expected):
    assert prefers_csv(accept) is (expected == CSV)


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [("gzip", True), ("GZIP;Q=0.5", True), ("x-gzip", True), ("*", True), ("gzip;q=0", False), ("gzip;q=0, *", False),
     ("gzip;q=x", False), ("br", False), ("", False), ("identity;q=0", False)],
)  # fmt: skip
def test_accepts_gzip_follows_weights_and_case(accept_encoding, gzipped):
    assert accepts_gzip(accept_encoding) is gzipped


@pytest.mark.parametrize("url", ["/v1/matrix?as_of=2025-08-18", "/v1/diff?from=2025-08-14&to=2025-08-18"])
@pytest.mark.parametrize(("accept", "expected"), CHOICES.items(), ids=[repr(accept) for accept in CHOICES])
def test_a_view_is_sent_as_accept_prefers_by_the_route_and_from_the_cache(client, seeded, url, accept, expected):
    first = client.get(url, headers={"Accept": accept})
    again = client.get(url, headers={"Accept": accept})
    for response in (first, again):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].split(";")[0] == expected
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]


def test_accept_on_several_lines_is_one_list(client, seeded):
    url = "/v1/matrix?as_of=2025-08-18"
    lines = [("Accept", "application/json;q=0.5"), ("Accept", "text/csv")]
    for _ in ("route", "cache"):
        response = client.get(url, headers=lines)
        assert response.headers["content-type"].startswith(CSV)
    reversed_weights = [("Accept", "application/json"), ("Accept", "text/csv;q=0.5")]
    assert client.get(url, headers=reversed_weights).headers["content-type"].startswith(JSON)


def test_the_format_parameter_overrides_accept(client, seeded):
    url = "/v1/matrix?as_of=2025-08-18"
    assert client.get(url + "&format=json", headers={"Accept": "text/csv"}).headers["content-type"].startswith(JSON)
    assert (
        client.get(url + "&format=csv", headers={"Accept": "application/json"}).headers["content-type"].startswith(CSV)
    )
