"""The fuel model: fuel used per lap, the average over recent green-flag laps, and what the finish needs.

Fed once per completed lap of the player (and once at lights out, the start of lap 1) with the fuel in the tank at
the line; nothing per packet. Laps run behind a safety car (or virtual safety car) burn less and are left out of the
average while green laps exist. The finish is a lap count in a race, or for a timed session the laps the clock
still allows at the average lap time (the lap running when it reaches zero is finished too).
"""

from __future__ import annotations

from dataclasses import dataclass

RECENT_LAPS = 5  # the average burn is over this many of the latest green-flag laps
MAX_LAPS_KEPT = 128  # per session: marks and burns of older laps are forgotten


@dataclass(frozen=True, slots=True)
class FuelEstimate:
    """What the model says at the line of `lap` (kg; laps)."""

    lap: int
    used_last_lap: float | None
    per_lap: float | None  # average over recent green-flag laps
    remaining_laps: float | None  # to the finish, from this line
    to_finish: float | None  # fuel needed to the finish
    surplus_kg: float | None  # in the tank beyond that (negative: short)
    surplus_laps: float | None
    target_per_lap: float | None  # the burn per lap that reaches the finish with an empty tank
    versus_game_laps: float | None  # surplus_laps minus the game's own margin in laps


class FuelModel:
    __slots__ = ("burns", "estimate", "marks")

    def __init__(self) -> None:
        self.marks: dict[int, float] = {}  # laps completed -> fuel in the tank at that line (0: the start)
        self.burns: dict[int, tuple[float, bool]] = {}  # lap -> (fuel used, a green-flag lap)
        self.estimate: FuelEstimate | None = None


def average_burn(burns: dict[int, tuple[float, bool]]) -> float | None:
    """The average of the latest green-flag laps (of the latest laps when none was green)."""
    laps = sorted(burns)
    green = [burns[n][0] for n in laps if burns[n][1]][-RECENT_LAPS:]
    chosen = green or [burns[n][0] for n in laps][-RECENT_LAPS:]
    return sum(chosen) / len(chosen) if chosen else None


def process_fuel_mark(model: FuelModel, laps_done: int, fuel: float) -> None:
    """The fuel in the tank at a line (`laps_done` laps completed; 0 at the start)."""
    for n in [n for n in model.marks if n >= laps_done]:  # a flashback: the laps after it are to be driven again
        del model.marks[n]
    for n in [n for n in model.burns if n >= laps_done]:
        del model.burns[n]
    model.marks[laps_done] = fuel
    if len(model.marks) > MAX_LAPS_KEPT:
        del model.marks[min(model.marks)]


def process_fuel_line(model: FuelModel, lap: int, fuel: float, green: bool, remaining_laps: float | None,
                      game_laps: float | None) -> FuelEstimate:
    """The player completed `lap` with `fuel` kg in the tank; `remaining_laps` to the finish (None: unknown)."""
    before = model.marks.get(lap - 1)
    process_fuel_mark(model, lap, fuel)
    used = before - fuel if before is not None and before >= fuel else None  # more fuel than before: refuelled
    if used is not None:
        model.burns[lap] = (used, green)
        if len(model.burns) > MAX_LAPS_KEPT:
            del model.burns[min(model.burns)]
    per_lap = average_burn(model.burns)
    to_finish = surplus = surplus_laps = target = versus = None
    if remaining_laps is not None:
        target = fuel / remaining_laps if remaining_laps > 0 else None
        if per_lap is not None:
            to_finish = per_lap * remaining_laps
            surplus = fuel - to_finish
            surplus_laps = surplus / per_lap if per_lap > 0 else None
            if surplus_laps is not None and game_laps is not None:
                versus = surplus_laps - game_laps
    model.estimate = FuelEstimate(lap, used, per_lap, remaining_laps, to_finish, surplus, surplus_laps, target,
                                  versus)
    return model.estimate
