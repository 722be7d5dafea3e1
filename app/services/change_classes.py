"""How a position changed between two stances, classified after PolitiFact's Flip-O-Meter: what
the diffs, timelines and the change feed all say."""

from app.models.common import Stance
from app.models.matrix import ChangeClass

_SUPPORT_SIDE = {Stance.support, Stance.lean_support}
_OPPOSE_SIDE = {Stance.oppose, Stance.lean_oppose}


def classify(before: Stance | None, after: Stance | None) -> ChangeClass:
    if before is None:
        return ChangeClass.new
    if after is None:
        return ChangeClass.withdrawn
    if before == after:
        return ChangeClass.unchanged
    crossed = (before in _SUPPORT_SIDE and after in _OPPOSE_SIDE) or (before in _OPPOSE_SIDE and after in _SUPPORT_SIDE)
    return ChangeClass.reversed if crossed else ChangeClass.shifted
