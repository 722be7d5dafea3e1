"""How close parties stand: for every pair of them, their agreement issue by issue (on the scale
of app.services.agreement) and over the issues both have a position on, as of a date or at two
moments ("where did these two drift apart?").

50 parties are 1,225 pairs, and with 40 issues 49,000 pair × issue entries. An entry depends only
on the issue and the two stances (and, when it is not scored, on which parties have no position),
so each distinct one is built once and shared by every pair it belongs to.
"""

from collections.abc import Callable, Iterator
from datetime import date
from functools import cache
from itertools import combinations
from operator import getitem, itemgetter
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlmodel import Session

from app.errors import InvalidField
from app.models.matrix import DiffEnd
from app.services.agreement import SCALE, agreement
from app.services.matrix import Grid, parse_slug_list
from app.services.positions import StoredCell, cells_on_two_days, empty_cell, stored_cells

MIN_PARTIES, MAX_PARTIES = 2, 50

Stance = str | None  # a stance as stored, or None without a statement
Entry = dict[str, Any]
Value = TypeVar("Value")

# Stances arrive as stored strings, and there are only 7 × 7 pairs of them: converting each to
# the Stance enum anew would cost more than the rest of an entry.
_agreement = cache(agreement)


def parties_to_compare(raw: str) -> list[str]:
    """The slugs of the parties to compare: 2 to 50 distinct ones, comma-separated."""
    try:
        slugs = parse_slug_list(raw, "parties") or []
    except InvalidField:  # none given, or more than any grid takes: the same advice for both
        slugs = []
    if not MIN_PARTIES <= len(slugs) <= MAX_PARTIES:
        given = f"{len(slugs)} given" if slugs else "none or too many given"
        raise InvalidField(
            "parties",
            f"Give {MIN_PARTIES} to {MAX_PARTIES} distinct party slugs to compare, comma-separated ({given}).",
        )
    return slugs


def _summary(agreements: list[float | None]) -> tuple[float | None, int]:
    """The mean of the scored agreements (None without any), and how many there are."""
    compared = len(agreements) - agreements.count(None)
    # filter(None, …) drops the agreements of 0.0 with the Nones: they add nothing to the sum.
    return (sum(filter(None, agreements)) / compared if compared else None), compared


def _embedding(as_dicts: bool) -> Callable[[bytes], Any]:
    """How a stored cell goes into a document: as it is, or read into a dict (for CSV)."""
    return orjson.loads if as_dicts else orjson.Fragment


def _grid_cells(grid: Grid, embedded: Callable[[int, int], Any]) -> list[Any]:
    """Every cell of the grid, parties then issues: `embedded(party_id, issue_id)`, or an empty cell
    where that is None."""
    issue_keys = grid.issue_keys()
    listed = []
    for party_id, party_slug in grid.party_keys():
        for issue_id, issue_slug in issue_keys:
            found = embedded(party_id, issue_id)
            listed.append(empty_cell(party_slug, issue_slug) if found is None else found)
    return listed


def _by_party(by_issue: list[list[Value]], parties: int) -> list[tuple[Value, ...]]:
    """A table listed issue by issue (a row per issue, a column per party), party by party."""
    return list(zip(*by_issue, strict=True)) if by_issue else [() for _ in range(parties)]


def _pairs(grid: Grid) -> Iterator[tuple[int, int]]:
    """Indexes of every pair of the grid's parties, in the order the parties were given."""
    return combinations(range(len(grid.parties)), 2)


# --- as of a date ---------------------------------------------------------------------------------

# Where a party stands on an issue, as far as its entries differ: its stance when it has a position,
# else its index among the parties (an entry not scored names the parties without a position).
Side = str | int
_AGREEMENT = itemgetter("agreement")


class _IssueEntries(dict[Side, Entry]):
    """One issue's entries of the pairs whose first party is on `side_a`, by the second party's
    side, each built on first use: `map(getitem, …)` over a row of these is all a pair costs."""

    def __init__(self, issue_slug: str, party_slugs: list[str], stances: list[Stance], side_a: Side) -> None:
        super().__init__()
        self.issue_slug, self.party_slugs, self.stances = issue_slug, party_slugs, stances
        self.stance_a = stances[side_a] if isinstance(side_a, int) else side_a
        self.no_position_a = [party_slugs[side_a]] if isinstance(side_a, int) else []

    def __missing__(self, side_b: Side) -> Entry:
        stance_b = self.stances[side_b] if isinstance(side_b, int) else side_b
        value = _agreement(self.stance_a, stance_b)
        entry: Entry = {"issue": self.issue_slug, "stances": [self.stance_a, stance_b], "agreement": value}
        if value is None:
            no_position_b = [self.party_slugs[side_b]] if isinstance(side_b, int) else []
            entry["no_position"] = self.no_position_a + no_position_b
        self[side_b] = entry
        return entry


def compare(session: Session, grid: Grid, *, as_of: date, as_dicts: bool = False) -> dict[str, Any]:
    """The comparison document, shaped like app.models.compare.Comparison, for orjson to serialise;
    its cells are embedded as stored, like the matrix's, or with `as_dicts` as dicts (for CSV)."""
    party_ids, issue_ids = [party.id for party in grid.parties], [issue.id for issue in grid.issues]
    filled = stored_cells(session, party_ids, issue_ids, as_of)
    stance_in = {key: stored.stance for key, stored in filled.items()}
    embed = _embedding(as_dicts)
    embedded = {key: embed(stored.json) for key, stored in filled.items()}
    party_slugs = [party.slug for party in grid.parties]
    # Issue by issue, each party's side and the entries of the pairs it comes first in.
    issue_sides: list[list[Side]] = []
    issue_entries: list[list[_IssueEntries]] = []
    for issue in grid.issues:
        stances = [stance_in.get((party_id, issue.id)) for party_id in party_ids]
        sides_on_issue: list[Side] = [stance if stance in SCALE else index for index, stance in enumerate(stances)]
        by_side = {side: _IssueEntries(issue.slug, party_slugs, stances, side) for side in set(sides_on_issue)}
        issue_sides.append(sides_on_issue)
        issue_entries.append([by_side[side] for side in sides_on_issue])
    sides, entries_of = _by_party(issue_sides, len(party_ids)), _by_party(issue_entries, len(party_ids))

    def pair(a: int, b: int) -> Entry:
        issues = list(map(getitem, entries_of[a], sides[b]))
        mean, compared = _summary(list(map(_AGREEMENT, issues)))
        return {
            "parties": [party_slugs[a], party_slugs[b]],
            "agreement": mean,
            "issues_compared": compared,
            "issues": issues,
        }

    return {
        "as_of": as_of,
        "parties": grid.party_refs(),
        "issues": grid.issue_refs(),
        "cells": _grid_cells(grid, lambda party_id, issue_id: embedded.get((party_id, issue_id))),
        "pairs": [pair(a, b) for a, b in _pairs(grid)],
    }


# --- at two moments -------------------------------------------------------------------------------

Moments = tuple[Stance, Stance]  # a party's stance at `from` and at `to`
_NEITHER: tuple[StoredCell | None, StoredCell | None] = (None, None)
_FROM, _TO = itemgetter("from"), itemgetter("to")


def _stance(stored: StoredCell | None) -> Stance:
    return None if stored is None else stored.stance


class _Drift(NamedTuple):
    """An issue's entry at two moments, but for its slug."""

    stances: dict[str, list[Stance]]
    agreement: dict[str, float | None]
    changed: bool


@cache
def _drift(moments_a: Moments, moments_b: Moments) -> _Drift:
    """The same for every issue and pair with these four stances (at most 7⁴ of them)."""
    before, after = [moments_a[0], moments_b[0]], [moments_a[1], moments_b[1]]
    agreement_before, agreement_after = _agreement(*before), _agreement(*after)
    return _Drift(
        stances={"from": before, "to": after},
        agreement={"from": agreement_before, "to": agreement_after},
        changed=agreement_before != agreement_after,
    )


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
    each pair's agreement at both moments, and per issue whether it changed. Cells are embedded as
    in `compare`."""
    if start.as_of > end.as_of:
        raise InvalidField("from", f"`from` ({start.as_of}) is later than `to` ({end.as_of}).")
    party_ids, issue_ids = [party.id for party in grid.parties], [issue.id for issue in grid.issues]
    found = cells_on_two_days(session, party_ids, issue_ids, start.as_of, end.as_of)
    party_slugs = [party.slug for party in grid.parties]
    issue_slugs = [issue.slug for issue in grid.issues]
    moments: list[list[Moments]] = []
    for party_id in party_ids:
        row = []
        for issue_id in issue_ids:
            before, after = found.get((party_id, issue_id), _NEITHER)
            row.append((_stance(before), _stance(after)))
        moments.append(row)

    def pair(a: int, b: int) -> Entry:
        shared = list(map(_drift, moments[a], moments[b]))
        agreements = [drift.agreement for drift in shared]
        mean_before, compared_before = _summary(list(map(_FROM, agreements)))
        mean_after, compared_after = _summary(list(map(_TO, agreements)))
        return {
            "parties": [party_slugs[a], party_slugs[b]],
            "agreement": {"from": mean_before, "to": mean_after},
            "issues_compared": {"from": compared_before, "to": compared_after},
            "issues": [
                {"issue": slug, "stances": stances, "agreement": agreement, "changed": changed}
                for slug, (stances, agreement, changed) in zip(issue_slugs, shared, strict=True)
                if changed or not only_changed
            ],
        }

    embed = _embedding(as_dicts)

    def embedded_on(moment: int) -> Callable[[int, int], Any]:
        def embedded(party_id: int, issue_id: int) -> Any:
            cell = found.get((party_id, issue_id), _NEITHER)[moment]
            return None if cell is None else embed(cell.json)

        return embedded

    return {
        "from": start.model_dump(),
        "to": end.model_dump(),
        "parties": grid.party_refs(),
        "issues": grid.issue_refs(),
        "cells": {"from": _grid_cells(grid, embedded_on(0)), "to": _grid_cells(grid, embedded_on(1))},
        "pairs": [pair(a, b) for a, b in _pairs(grid)],
    }
