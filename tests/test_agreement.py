"""The stance scale and the agreement between two positions."""

import pytest

from app.models.common import Stance
from app.services.agreement import agreement, scale_value


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("support", "support", 1.0),
        ("support", "oppose", 0.0),
        ("support", "neutral", 0.5),
        ("oppose", "neutral", 0.5),
        ("lean_support", "lean_oppose", 0.5),
        ("support", "lean_support", 0.75),
        ("lean_oppose", "oppose", 0.75),
    ],
)
def test_agreement_is_one_minus_the_distance_over_four(a: str, b: str, expected: float) -> None:
    assert agreement(a, b) == expected
    assert agreement(b, a) == expected


@pytest.mark.parametrize("other", [*Stance, None])
def test_no_position_is_not_scored(other: Stance | None) -> None:
    assert agreement(Stance.unclear, other) is None
    assert agreement(None, other) is None


def test_three_point_answers_give_the_wahl_o_mat_points() -> None:
    # Same answer 2 of 2, agree or disagree against neutral 1 of 2, opposite answers 0.
    answers = ["support", "neutral", "oppose"]
    wahl_o_mat_points = {
        (a, b): 2 if a == b else 0 if {a, b} == {"support", "oppose"} else 1 for a in answers for b in answers
    }
    for (a, b), points in wahl_o_mat_points.items():
        assert agreement(a, b) * 2 == points


def test_unclear_has_no_place_on_the_scale() -> None:
    assert scale_value("unclear") is None
    assert [scale_value(stance) for stance in ("support", "lean_support", "neutral", "lean_oppose", "oppose")] == [
        2,
        1,
        0,
        -1,
        -2,
    ]
