"""CSV renderings of the matrix and of diffs, and the choice between JSON and CSV."""

import csv
import io
from collections.abc import Iterable
from enum import StrEnum

from fastapi import Request

from app.models.matrix import Cell, Diff, Matrix

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}


class Format(StrEnum):
    json = "json"
    csv = "csv"


class Layout(StrEnum):
    wide = "wide"
    long = "long"


def wants_csv(request: Request, requested: Format | None) -> bool:
    if requested is not None:
        return requested is Format.csv
    return "text/csv" in request.headers.get("accept", "")


def _csv(rows: Iterable[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _cell_columns(cell: Cell | None) -> list[object]:
    if cell is None or cell.stance is None:
        return ["", "", "", "", "", "", "", "", "", "", ""]
    source = cell.source
    return [
        cell.stance.value,
        cell.summary or "",
        cell.stated_on.isoformat() if cell.stated_on else "",
        cell.statement,
        cell.quote or "",
        cell.speaker or "",
        cell.selector.start if cell.selector else "",
        cell.selector.end if cell.selector else "",
        source.id if source else "",
        source.title if source else "",
        source.url or "" if source else "",
    ]


CELL_HEADER = [
    "stance", "summary", "stated_on", "statement", "quote", "speaker",
    "quote_start", "quote_end", "source", "source_title", "source_url",
]  # fmt: skip


def matrix_csv(matrix: Matrix, layout: Layout) -> bytes:
    if layout is Layout.long:
        header = ["party", "issue", *CELL_HEADER, "evidence_count"]
        body = ([cell.party, cell.issue, *_cell_columns(cell), cell.evidence_count] for cell in matrix.cells)
        return _csv([header, *body])
    columns = [issue.slug for issue in matrix.issues]
    stances: dict[str, list[object]] = {party.slug: [] for party in matrix.parties}
    for cell in matrix.cells:
        stances[cell.party].append(cell.stance.value if cell.stance else "")
    return _csv([["party", *columns], *([party, *row] for party, row in stances.items())])


def diff_csv(diff: Diff) -> bytes:
    header = ["party", "issue", "change", *(f"before_{name}" for name in CELL_HEADER), *(f"after_{name}" for name in CELL_HEADER)]
    body = (
        [change.party, change.issue, change.change.value, *_cell_columns(change.before), *_cell_columns(change.after)]
        for change in diff.changes
    )
    return _csv([header, *body])
