"""CSV renderings of the matrix, diffs and comparisons, and the choice between JSON and CSV."""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def _pair_issues(comparison: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int, str, int, int]]:
    """Per pair and issue: the pair, the issue's index and slug, and where the two parties' cells
    are in the document's cells (party index × len(issues) + issue index)."""
    issues = comparison["issues"]
    row_of = {party["slug"]: index * len(issues) for index, party in enumerate(comparison["parties"])}
    for pair in comparison["pairs"]:
        row_a, row_b = (row_of[slug] for slug in pair["parties"])
        for index, issue in enumerate(issues):
            yield pair, index, issue["slug"], row_a + index, row_b + index


def _quote(cell: dict[str, Any]) -> str:
    return cell["quote"] or ""


def comparison_csv(comparison: dict[str, Any], layout: Layout) -> bytes:
    """A row per pair, or with `long` a row per pair × issue with both stances and quotes. The
    document's cells are dicts (`compare(..., as_dicts=True)`)."""
    if layout is Layout.wide:
        header = ["party_a", "party_b", "agreement", "issues_compared"]
        body = ([*pair["parties"], _blank(pair["agreement"]), pair["issues_compared"]] for pair in comparison["pairs"])
        return _csv([header, *body])
    cells = comparison["cells"]
    header = ["party_a", "party_b", "issue", "stance_a", "stance_b", "agreement", "quote_a", "quote_b"]
    rows = (
        [
            *pair["parties"],
            issue,
            _blank(cells[at_a]["stance"]),
            _blank(cells[at_b]["stance"]),
            _blank(pair["agreements"][index]),
            _quote(cells[at_a]),
            _quote(cells[at_b]),
        ]
        for pair, index, issue, at_a, at_b in _pair_issues(comparison)
    )
    return _csv([header, *rows])


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
    before, after = comparison["cells"]["from"], comparison["cells"]["to"]
    header = [
        "party_a", "party_b", "issue",
        "stance_a_from", "stance_b_from", "agreement_from", "stance_a_to", "stance_b_to", "agreement_to", "changed",
        "quote_a_from", "quote_b_from", "quote_a_to", "quote_b_to",
    ]  # fmt: skip
    rows = (
        [
            *pair["parties"],
            issue,
            _blank(before[at_a]["stance"]),
            _blank(before[at_b]["stance"]),
            _blank(pair["agreements"]["from"][index]),
            _blank(after[at_a]["stance"]),
            _blank(after[at_b]["stance"]),
            _blank(pair["agreements"]["to"][index]),
            "true" if issue in pair["changed"] else "false",
            *(_quote(cell) for cell in (before[at_a], before[at_b], after[at_a], after[at_b])),
        ]
        for pair, index, issue, at_a, at_b in _pair_issues(comparison)
    )
    return _csv([header, *rows])
