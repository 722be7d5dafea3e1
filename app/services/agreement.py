"""How close two positions stand: stances on one scale, and agreement between two of them."""

from app.models.common import Stance

# Where each stance sits; `unclear` (like no statement at all) is no position on the scale.
SCALE: dict[Stance, int] = {
    Stance.support: 2,
    Stance.lean_support: 1,
    Stance.neutral: 0,
    Stance.lean_oppose: -1,
    Stance.oppose: -2,
}
SCALE_SPAN = 4


def scale_value(stance: Stance | str | None) -> int | None:
    """The stance's place on the scale, or None for `unclear` and for no position."""
    if stance is None:
        return None
    return SCALE.get(Stance(stance))


def agreement(a: Stance | str | None, b: Stance | str | None) -> float | None:
    """1 − |a − b| / 4 between two positions; None when either side has no position. On the three
    answers agree, neutral and disagree this is the Wahl-O-Mat's points out of 2, halved."""
    value_a, value_b = scale_value(a), scale_value(b)
    if value_a is None or value_b is None:
        return None
    return 1 - abs(value_a - value_b) / SCALE_SPAN
