"""How close parties stand: for every pair of them, their agreement issue by issue (on the scale
of app.services.agreement) and over the issues both have a position on, as of a date or at two
moments ("where did these two drift apart?").

A pair lists one agreement per issue, a number or None; the cells behind them (stance, quote,
source) are in the document once, parties then issues, not once per pair.
"""

from collections.abc import Mapping
from datetime import date
from itertools import combinations
from typing import Any

import orjson
from sqlmodel import Session

from app.errors import InvalidField
from app.models.common import Stance
from app.models.matrix import DiffEnd
from app.services.agreement import agreement
from app.services.matrix import Grid, parse_slug_list
from app.services.positions import CellKey, cells_on_two_days, empty_cell, stored_cells

MIN_PARTIES, MAX_PARTIES = 2, 50

# The agreement of every two stances as stored (None: no statement), AGREEMENT[a][b]: a lookup per
# pair and issue instead of placing both stances on the scale each time.
_STORED_STANCES: list[str | None] = [*(stance.value for stance in Stance), None]
AGREEMENT: dict[str | None, dict[str | None, float | None]] = {
    a: {b: agreement(a, b) for b in _STORED_STANCES} for a in _STORED_STANCES
}


def _wrong_count(given: str) -> InvalidField:
    return InvalidField(
        "parties",
        f"Give {MIN_PARTIES} to {MAX_PARTIES} distinct party slugs to compare, comma-separated ({given}).",
    )


def parties_to_compare(raw: str) -> list[str]:
    """The slugs of the parties to compare: 2 to 50 distinct ones, comma-separated."""
    try:
        slugs = parse_slug_list(raw, "parties") or []
    except InvalidField:  # none given, or more than any grid takes: the same advice for both
        slugs = []
    if not MIN_PARTIES <= len(slugs) <= MAX_PARTIES:
        raise _wrong_count(f"{len(slugs)} given" if slugs else "none or too many given")
    return slugs


def _party_slugs(grid: Grid) -> list[str]:
    """The grid's parties' slugs; a former slug and the current one resolve to one party, which
    leaves too few to compare when they were all there was."""
    if len(grid.parties) < MIN_PARTIES:
        raise _wrong_count(f"the slugs given name {len(grid.parties)} party")
    return [party.slug for party in grid.parties]


def _stances(grid: Grid, stance_of: Mapping[CellKey, str]) -> list[list[str | None]]:
    """Each party's stance on each issue, in the grid's order (None without a statement)."""
    issue_ids = [issue.id for issue in grid.issues]
    return [[stance_of.get((party.id, issue_id)) for issue_id in issue_ids] for party in grid.parties]


def _cells(grid: Grid, stored: Mapping[CellKey, bytes], *, as_dicts: bool) -> list[Any]:
    """The grid's matrix cells, parties then issues: stored ones embedded as they are (or read into
    dicts, for CSV), an empty cell where a party has no position."""
    embed = orjson.loads if as_dicts else orjson.Fragment
    issue_keys = grid.issue_keys()
    listed = []
    for party_id, party_slug in grid.party_keys():
        for issue_id, issue_slug in issue_keys:
            cell = stored.get((party_id, issue_id))
            listed.append(empty_cell(party_slug, issue_slug) if cell is None else embed(cell))
    return listed


def _agreements(stances_a: list[str | None], stances_b: list[str | None]) -> list[float | None]:
    return [AGREEMENT[a][b] for a, b in zip(stances_a, stances_b, strict=True)]


def _mean(agreements: list[float | None]) -> tuple[float | None, int]:
    """The mean of the scored agreements (None without any), and how many there are."""
    scored = [value for value in agreements if value is not None]
    return (sum(scored) / len(scored) if scored else None), len(scored)


def compare(session: Session, grid: Grid, *, as_of: date, as_dicts: bool = False) -> dict[str, Any]:
    """The comparison document, shaped like app.models.compare.Comparison, for orjson to serialise;
    its cells are embedded as stored, like the matrix's, or with `as_dicts` as dicts (for CSV)."""
    party_ids, issue_ids = [party.id for party in grid.parties], [issue.id for issue in grid.issues]
    filled = stored_cells(session, party_ids, issue_ids, as_of)
    stances = _stances(grid, {key: cell.stance for key, cell in filled.items()})
    slugs = _party_slugs(grid)
    pairs = []
    for a, b in combinations(range(len(slugs)), 2):
        agreements = _agreements(stances[a], stances[b])
        mean, compared = _mean(agreements)
        pairs.append(
            {"parties": [slugs[a], slugs[b]], "agreement": mean, "issues_compared": compared, "agreements": agreements}
        )
    return {
        "as_of": as_of,
        "parties": grid.party_refs(),
        "issues": grid.issue_refs(),
        "cells": _cells(grid, {key: cell.json for key, cell in filled.items()}, as_dicts=as_dicts),
        "pairs": pairs,
    }


def compare_drift(
    session: Session,
    grid: Grid,
    start: DiffEnd,
    end: DiffEnd,
    *,
    only_changed: bool = False,
    as_dicts: bool = False,
) -> dict[str, Any]:
    """The drift document, shaped like app.models.compare.ComparisonDrift, for orjson to serialise:
    each pair's agreements at both moments and the issues whose agreement changed; with
    `only_changed`, only the pairs with such an issue. Cells are embedded as in `compare`."""
    if start.as_of > end.as_of:
        raise InvalidField("from", f"`from` ({start.as_of}) is later than `to` ({end.as_of}).")
    party_ids, issue_ids = [party.id for party in grid.parties], [issue.id for issue in grid.issues]
    found = cells_on_two_days(session, party_ids, issue_ids, start.as_of, end.as_of)
    # The cells with a position at each moment.
    before = {key: cell for key, (cell, _) in found.items() if cell is not None}
    after = {key: cell for key, (_, cell) in found.items() if cell is not None}
    stances_before = _stances(grid, {key: cell.stance for key, cell in before.items()})
    stances_after = _stances(grid, {key: cell.stance for key, cell in after.items()})
    slugs, issue_slugs = _party_slugs(grid), [issue.slug for issue in grid.issues]
    pairs = []
    for a, b in combinations(range(len(slugs)), 2):
        agreements_before = _agreements(stances_before[a], stances_before[b])
        agreements_after = _agreements(stances_after[a], stances_after[b])
        # None against a number is a change too: the pair came to be, or ceased to be, compared there.
        changed = [
            slug
            for slug, then, now in zip(issue_slugs, agreements_before, agreements_after, strict=True)
            if then != now
        ]
        if only_changed and not changed:
            continue
        mean_before, compared_before = _mean(agreements_before)
        mean_after, compared_after = _mean(agreements_after)
        pairs.append(
            {
                "parties": [slugs[a], slugs[b]],
                "agreement": {"from": mean_before, "to": mean_after},
                "issues_compared": {"from": compared_before, "to": compared_after},
                "agreements": {"from": agreements_before, "to": agreements_after},
                "changed": changed,
            }
        )
    return {
        "from": start.model_dump(),
        "to": end.model_dump(),
        "parties": grid.party_refs(),
        "issues": grid.issue_refs(),
        "cells": {
            "from": _cells(grid, {key: cell.json for key, cell in before.items()}, as_dicts=as_dicts),
            "to": _cells(grid, {key: cell.json for key, cell in after.items()}, as_dicts=as_dicts),
        },
        "pairs": pairs,
    }
