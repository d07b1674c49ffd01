"""The battle view: the cars directly ahead of and behind the player, and how the gaps move lap by lap.

Who is ahead and behind, and their gaps, are read when a reader asks (one pass over the position column); the
trend (the gap's change since the player's previous line, per lap) is taken once per completed lap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Gap:
    """A neighbour's gap at the player's last line and its change over the lap before (negative: closing)."""

    index: int
    gap_ms: int
    trend_ms_per_lap: int | None


class BattleModel:
    __slots__ = ("ahead", "behind")

    def __init__(self) -> None:
        self.ahead: Gap | None = None
        self.behind: Gap | None = None


def neighbours(positions: tuple[Any, ...], active: Any, player: int) -> tuple[int | None, int | None]:
    """The slots directly ahead of and behind `player` among the active cars (None: nobody there)."""
    if player >= len(positions):
        return None, None
    mine = positions[player]
    if not isinstance(mine, int) or mine <= 0:
        return None, None
    ahead = behind = None
    for i in active:
        if i < len(positions) and i != player:
            if positions[i] == mine - 1 and mine > 1:  # position 0: a slot without a car
                ahead = i
            elif positions[i] == mine + 1:
                behind = i
    return ahead, behind


def _gap(previous: Gap | None, index: int | None, gap_ms: Any) -> Gap | None:
    if index is None or not isinstance(gap_ms, int) or gap_ms < 0:
        return None
    trend = gap_ms - previous.gap_ms if previous is not None and previous.index == index else None
    return Gap(index, gap_ms, trend)


def process_battle_line(model: BattleModel, ahead: int | None, gap_ahead_ms: Any, behind: int | None,
                        gap_behind_ms: Any) -> None:
    """At the player's line: the neighbours and their gaps, the trend against the previous line."""
    model.ahead = _gap(model.ahead, ahead, gap_ahead_ms)
    model.behind = _gap(model.behind, behind, gap_behind_ms)
