"""Which party stands closest to a reader, the way voting advice applications such as the
Wahl-O-Mat score it, every number backed by the party's quote.

Per answered issue a party earns weight × agreement × 2 points (agreement on the scale of
app.services.agreement: on agree, neutral and disagree, the Wahl-O-Mat's 2, 1 or 0); without a
position it earns 0, and the issue's weight × 2 still counts towards the maximum. A skipped issue
counts for nothing. The score is the points as a percentage of the maximum.

Nothing of the answers is kept: they are read, scored and answered.
"""

import math
from datetime import date
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlmodel import Session

from app.errors import InvalidField
from app.models.issue import Issue
from app.models.match import MatchAnswer, MatchRequest
from app.services.agreement import agreement
from app.services.matrix import Grid, resolve_grid
from app.services.positions import empty_cell, stored_cells
from app.services.slugs import current_slugs

POINTS_PER_ISSUE = 2  # the Wahl-O-Mat's, for the same answer
# Agreement depends on the two stances alone, and a ranking asks for it once per party and issue.
_agreement = cache(agreement)
# Where the request names its slugs: resolve_grid's fields as this body names them.
_BODY_FIELDS = {"parties": "parties", "issues": "answers"}


def score(points: int, max_points: int) -> float:
    """100 × points / max_points to one decimal, half up (6.25 -> 6.3), from points counted in whole
    units (see `_units`) so that no binary remainder decides the rounding; 0.0 without a maximum."""
    if max_points == 0:
        return 0.0
    return (2000 * points + max_points) // (2 * max_points) / 10


@lru_cache(maxsize=256)  # bounded: the weights are the clients' to choose
def _as_written(weight: float) -> Fraction:
    # Readers' weights are mostly the same few (1, 2), and reading a decimal into a Fraction is slow.
    return Fraction(repr(weight))


def _units(weights: list[float]) -> tuple[list[int], int]:
    """The weights as whole numbers of 1 / D (D: their common denominator), and how many units make
    a point (4 × D). A weight counts as the decimal the client wrote (its shortest form: 1.1, not
    the binary 1.100000000000000088…); agreements are quarters, so weight × agreement × 2 points is
    a whole number of units, and sums and the score are exact."""
    exact = [_as_written(weight) for weight in weights]
    denominator = math.lcm(*(weight.denominator for weight in exact))
    return [int(weight * denominator) for weight in exact], 4 * denominator


def _by_current_slug(given: dict[str, Any], current: dict[str, str], field: str) -> dict[str, Any]:
    """`given` keyed by the issues' current slugs; two of its slugs naming one issue (a former slug
    and the current one, or two former ones) is a 422 naming them."""
    named: dict[str, list[str]] = {}
    for slug in given:
        named.setdefault(current[slug], []).append(slug)
    twice = [" and ".join(slugs) for slugs in named.values() if len(slugs) > 1]
    if twice:
        raise InvalidField(field, f"One issue given twice, by its former and current slugs: {'; '.join(twice)}.")
    return {current[slug]: value for slug, value in given.items()}


def _answers_and_weights(session: Session, request: MatchRequest) -> tuple[dict[str, MatchAnswer], dict[str, float]]:
    """The answers and weights by the issues' current slugs: a former slug names its issue too."""
    answers, weights = request.answers.root, {} if request.weights is None else request.weights.root
    current = current_slugs(session, Issue, [*answers, *weights])
    return _by_current_slug(answers, current, "answers"), _by_current_slug(weights, current, "weights")


def _grid(session: Session, request: MatchRequest, answers: dict[str, MatchAnswer], weights: dict[str, float]) -> Grid:
    """The parties to rank and the issues answered (skipped ones too: an unknown slug is refused
    whatever its answer), in the request's order."""
    unweighable = [slug for slug in weights if slug not in answers]
    if unweighable:
        raise InvalidField("weights", f"Weights given for issues not in `answers`: {', '.join(unweighable)}.")
    parties = list(dict.fromkeys(request.parties)) if request.parties is not None else None
    try:
        return resolve_grid(session, parties, list(answers))
    except InvalidField as error:
        raise InvalidField(_BODY_FIELDS.get(error.field, error.field), error.detail) from None


def match(session: Session, request: MatchRequest, *, as_of: date) -> dict[str, Any]:
    """The ranking, shaped like app.models.match.MatchResult, for orjson to serialise; each issue
    carries the party's matrix cell as stored."""
    answers, weights = _answers_and_weights(session, request)
    grid = _grid(session, request, answers, weights)
    answered = [issue for issue in grid.issues if answers[issue.slug] is not MatchAnswer.skip]
    grid = Grid(parties=grid.parties, issues=answered)
    filled = stored_cells(session, [party.id for party in grid.parties], [issue.id for issue in answered], as_of)
    weighed = [float(weights.get(issue.slug, 1)) for issue in answered]
    wholes, per_point = _units(weighed)
    # Per issue: (id, slug, answer, weight, weight in 1 / D, maximum), the same for every party.
    # Its points in units: weight in 1 / D × agreement in quarters (0 to 4) × 2.
    scored = [
        (issue.id, issue.slug, answers[issue.slug].value, weight, whole, 4 * whole * POINTS_PER_ISSUE / per_point)
        for issue, weight, whole in zip(answered, weighed, wholes, strict=True)
    ]
    max_units = 4 * sum(wholes) * POINTS_PER_ISSUE

    party_refs = grid.party_refs()
    results = []
    for order, (party_id, party_slug) in enumerate(grid.party_keys()):
        units = 0
        with_position = 0
        issues = []
        for issue_id, issue_slug, answer, weight, whole, issue_max in scored:
            stored = filled.get((party_id, issue_id))
            stance = None if stored is None else stored.stance
            value = _agreement(answer, stance)
            issue_units = 0 if value is None else whole * int(4 * value) * POINTS_PER_ISSUE
            units += issue_units
            with_position += value is not None
            issues.append(
                {
                    "issue": issue_slug,
                    "answer": answer,
                    "weight": weight,
                    "stance": stance,
                    "agreement": value,
                    "points": issue_units / per_point,
                    "max_points": issue_max,
                    "cell": empty_cell(party_slug, issue_slug) if stored is None else orjson.Fragment(stored.json),
                }
            )
        result = {
            "party": party_refs[order],
            "score": score(units, max_units),
            "points": units / per_point,
            "max_points": max_units / per_point,
            "issues_with_position": with_position,
            "issues": issues,
        }
        results.append((order, result))
    return {
        "as_of": as_of,
        "answered": len(answered),
        "skipped": len(answers) - len(answered),
        "max_points": max_units / per_point,
        "issues": grid.issue_refs(),
        "results": _ranked(results),
    }


def _ranked(results: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """(order, result) pairs ranked: highest score first; on equal score more issues with a
    position, then the parties' order. Ranks are competition ranks on the score: 1, 1, 3."""
    results.sort(key=lambda entry: (-entry[1]["score"], -entry[1]["issues_with_position"], entry[0]))
    ranked: list[dict[str, Any]] = []
    for place, (_, result) in enumerate(results, start=1):
        tied = ranked and ranked[-1]["score"] == result["score"]
        ranked.append({"rank": ranked[-1]["rank"] if tied else place, **result})
    return ranked
