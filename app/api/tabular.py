"""CSV renderings of the matrix, diffs and comparisons, and the choice between JSON and CSV."""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Query, Request

from app.api.negotiation import prefers_csv
from app.services.matrix import Grid
from app.services.positions import JSON_OPTIONS, CellData, CellKey, empty_cell

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}


class Format(StrEnum):
    json = "json"
    csv = "csv"


class Layout(StrEnum):
    wide = "wide"
    long = "long"


FormatQuery = Annotated[
    Format | None,
    Query(
        description="`csv` for CSV, `json` for JSON; without it, CSV when `Accept` weighs `text/csv` over `application/json`."
    ),
]


def wants_csv(request: Request, requested: Format | None) -> bool:
    """`format` when given, else what Accept prefers; its field lines combine into one list, as
    app.api.caching.ViewRequest reads them for the cache."""
    if requested is not None:
        return requested is Format.csv
    return prefers_csv(", ".join(request.headers.getlist("accept")))


def _csv(rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


CELL_HEADER = [
    "stance", "summary", "stated_on", "statement", "quote", "speaker",
    "quote_start", "quote_end", "source", "source_title", "source_url", "flag",
]  # fmt: skip


def _cell_columns(cell: dict[str, Any] | None) -> list[object]:
    if cell is None or cell["stance"] is None:
        return [""] * len(CELL_HEADER)
    selector, source = cell["selector"], cell["source"]
    return [
        cell["stance"],
        cell["summary"] or "",
        cell["stated_on"],
        cell["statement"],
        cell["quote"],
        cell["speaker"] or "",
        selector["start"],
        selector["end"],
        source["id"],
        source["title"],
        source["url"] or "",
        cell["flag"]["outcome"] if cell["flag"] else "",
    ]


def _party_rows(grid: Grid, filled: Mapping[CellKey, bytes]) -> list[tuple[str, list[CellData]]]:
    """Each party's slug and cells in the grid's order: stored cells read into dicts, cells without
    a position empty."""
    issue_keys = grid.issue_keys()
    rows = []
    for party_id, party_slug in grid.party_keys():
        cells = []
        for issue_id, issue_slug in issue_keys:
            stored = filled.get((party_id, issue_id))
            cells.append(empty_cell(party_slug, issue_slug) if stored is None else orjson.loads(stored))
        rows.append((party_slug, cells))
    return rows


def matrix_csv(grid: Grid, filled: Mapping[CellKey, bytes], layout: Layout) -> bytes:
    """The grid's matrix from its filled cells as stored (app.services.positions.cells)."""
    rows = _party_rows(grid, filled)
    if layout is Layout.long:
        header = ["party", "issue", *CELL_HEADER, "evidence_count"]
        body = (
            [cell["party"], cell["issue"], *_cell_columns(cell), cell["evidence_count"]]
            for _, cells in rows
            for cell in cells
        )
        return _csv([header, *body])
    columns = [issue.slug for issue in grid.issues]
    return _csv([["party", *columns], *([party, *(cell["stance"] or "" for cell in cells)] for party, cells in rows)])


def diff_csv(diff: dict[str, Any]) -> bytes:
    header = [
        "party", "issue", "change",
        *(f"before_{name}" for name in CELL_HEADER),
        *(f"after_{name}" for name in CELL_HEADER),
    ]  # fmt: skip
    body = (
        [
            change["party"],
            change["issue"],
            change["change"],
            *_cell_columns(change["before"]),
            *_cell_columns(change["after"]),
        ]
        for change in diff["changes"]
    )
    return _csv([header, *body])


def json_bytes(document: Any) -> bytes:
    """Serialise a matrix or diff document; timestamps end in Z like every other response."""
    return orjson.dumps(document, option=JSON_OPTIONS)


def _blank(value: object) -> object:
    """A CSV field: empty for null, the value itself otherwise (0.0 stays 0.0)."""
    return "" if value is None else value


def _quotes(cells: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(cell["party"], cell["issue"]): cell["quote"] or "" for cell in cells}


def comparison_csv(comparison: dict[str, Any], layout: Layout) -> bytes:
    """A row per pair, or with `long` a row per pair × issue with both stances and quotes."""
    pairs = comparison["pairs"]
    if layout is Layout.wide:
        header = ["party_a", "party_b", "agreement", "issues_compared"]
        body = ([*pair["parties"], _blank(pair["agreement"]), pair["issues_compared"]] for pair in pairs)
        return _csv([header, *body])
    quotes = _quotes(comparison["cells"])
    header = ["party_a", "party_b", "issue", "stance_a", "stance_b", "agreement", "quote_a", "quote_b"]
    body = (
        [
            party_a,
            party_b,
            entry["issue"],
            *map(_blank, entry["stances"]),
            _blank(entry["agreement"]),
            quotes[party_a, entry["issue"]],
            quotes[party_b, entry["issue"]],
        ]
        for pair in pairs
        for party_a, party_b in [pair["parties"]]
        for entry in pair["issues"]
    )
    return _csv([header, *body])


def comparison_drift_csv(comparison: dict[str, Any], layout: Layout) -> bytes:
    """`comparison_csv` at two moments: the values at `from` and at `to` side by side."""
    pairs = comparison["pairs"]
    if layout is Layout.wide:
        header = [
            "party_a", "party_b", "agreement_from", "agreement_to", "issues_compared_from", "issues_compared_to",
        ]  # fmt: skip
        body = (
            [
                *pair["parties"],
                _blank(pair["agreement"]["from"]),
                _blank(pair["agreement"]["to"]),
                pair["issues_compared"]["from"],
                pair["issues_compared"]["to"],
            ]
            for pair in pairs
        )
        return _csv([header, *body])
    quotes = {moment: _quotes(comparison["cells"][moment]) for moment in ("from", "to")}
    header = [
        "party_a", "party_b", "issue",
        "stance_a_from", "stance_b_from", "agreement_from", "stance_a_to", "stance_b_to", "agreement_to", "changed",
        "quote_a_from", "quote_b_from", "quote_a_to", "quote_b_to",
    ]  # fmt: skip
    body = (
        [
            party_a,
            party_b,
            entry["issue"],
            *map(_blank, entry["stances"]["from"]),
            _blank(entry["agreement"]["from"]),
            *map(_blank, entry["stances"]["to"]),
            _blank(entry["agreement"]["to"]),
            "true" if entry["changed"] else "false",
            *(quotes[moment][party, entry["issue"]] for moment in ("from", "to") for party in (party_a, party_b)),
        ]
        for pair in pairs
        for party_a, party_b in [pair["parties"]]
        for entry in pair["issues"]
    )
    return _csv([header, *body])
