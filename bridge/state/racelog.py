"""The race log the state keeps besides the laps: what was true when a lap was completed (position at the line,
tyres, the player's fuel and wear, top speed), penalties and warnings with their laps, pit stops, the speed trap
and the game's final classification, in game-neutral terms.

Written only by `process_*` functions, called by the games' writers and by `derive.py` when a lap completes;
lap-level facts are read once per lap, never per packet (the one per-packet step is the top-speed sample, one
pass over a column). `results.py` turns all of it into documents.
"""

from __future__ import annotations

import math
from typing import Any

from bridge.state import changes as groups
from bridge.state.records import MAX_LOG, Classified, CompletedLap, LapFacts, Penalty, PitStop
from bridge.state.session import CarState, SessionState

MAX_SPEED_KPH = 1000.0  # a top speed beyond this is garbage, not a car


def process_lap_facts(state: SessionState, car: CarState, lap: CompletedLap) -> None:
    """What else was true when the car crossed the line: read once per lap, never per packet."""
    average = _average(_value(car, "tyre_wear_pct"))
    start = car.wear_at_lap_start
    wear_added = average - start if average is not None and start is not None and average >= start else None
    top = state.lap_top_speeds[car.index] if car.index < len(state.lap_top_speeds) else None
    top = top if top is not None and 0 < top < MAX_SPEED_KPH else None
    if car.index < len(state.lap_top_speeds):
        state.lap_top_speeds[car.index] = 0.0  # the next lap starts from nothing
    if top is not None and (car.top_speed_kph is None or top > car.top_speed_kph):
        car.top_speed_kph = top
    fuel_kg = fuel_pct = wheels_added = None
    if car.is_player:
        fuel, unit = _fuel(car)
        if fuel is not None and car.lap_start_fuel is not None:
            used = car.lap_start_fuel - fuel
            fuel_kg, fuel_pct = (used, None) if unit == "kg" else (None, used)
        wheels = _wheels(_value(car, "tyre_wear_pct"))
        if wheels is not None and car.lap_start_wheel_wear is not None and len(wheels) == len(car.lap_start_wheel_wear):
            wheels_added = tuple(now - then for now, then in zip(wheels, car.lap_start_wheel_wear))
            if min(wheels_added) < 0:
                wheels_added = None  # new tyres during the lap: the wear added is not this lap's
        car.lap_start_fuel, car.lap_start_wheel_wear = fuel, wheels
    car.lap_facts[lap.lap] = LapFacts(
        lap.lap, lap.time_ms, lap.sectors_ms, lap.sector_colours, lap.valid, _value(car, "position"),
        _value(car, "tyre_visual_id"), _value(car, "tyre_compound_id"), _value(car, "tyre_age_laps"), wear_added,
        top, fuel_kg, fuel_pct, wheels_added,
    )


def process_lap_start_marks(state: SessionState, car: CarState) -> None:
    """The player's fuel and tyre wear when a lap begins, first seen (the laps after start at the line)."""
    if car.lap_start_fuel is None:
        car.lap_start_fuel = _fuel(car)[0]
    if car.lap_start_wheel_wear is None:
        car.lap_start_wheel_wear = _wheels(_value(car, "tyre_wear_pct"))


def process_speed_sample(state: SessionState, speeds: tuple[Any, ...]) -> None:
    """Every car's speed now (one per slot): the lap's top speed is the highest sample (a NaN never wins)."""
    top = state.lap_top_speeds
    if len(top) != len(speeds):
        top = [0.0] * len(speeds)
    state.lap_top_speeds = [s if s > t else t for t, s in zip(top, speeds)]


def _value(car: CarState, name: str) -> Any:
    """A game value of the car; None for a name no registered game has (it is no attribute at all then)."""
    return getattr(car, name, None)


def _fuel(car: CarState) -> tuple[float | None, str]:
    """Fuel in the tank and its unit: kilograms where the game says, else percent of the tank."""
    for name, unit in (("fuel_kg", "kg"), ("fuel_pct", "%")):
        value = _value(car, name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value), unit
    return None, ""


def _wheels(wear: Any) -> tuple[float, ...] | None:
    if not wear or not all(isinstance(w, (int, float)) and math.isfinite(w) for w in wear):
        return None
    return tuple(float(w) for w in wear)


def _average(wear: Any) -> float | None:
    wheels = _wheels(wear)
    return None if wheels is None else sum(wheels) / len(wheels)


def process_penalty(state: SessionState, car: CarState, penalty: Penalty) -> None:
    """A penalty, warning or served penalty for `car`, kept with its lap (bounded: the latest MAX_LOG)."""
    car.penalty_log.append(penalty)
    if len(car.penalty_log) > MAX_LOG:
        del car.penalty_log[0]
    state.changed.add_car(groups.PIT, car.index)


def process_speed_trap(state: SessionState, car: CarState, kph: float) -> None:
    """A car passed the speed trap (the event itself marks `events` changed, which its readers watch)."""
    if not (isinstance(kph, (int, float)) and 0 < kph < MAX_SPEED_KPH):
        return  # garbage (NaN, negative, absurd) never becomes a record
    car.speed_trap_kph = kph
    if state.speed_trap_best is None or kph > state.speed_trap_best[0]:
        state.speed_trap_best = (kph, car.index)
        state.changed.add(groups.BESTS)


def process_classification(state: SessionState, rows: tuple[Classified, ...]) -> None:
    state.final_results = rows
    state.changed.add(groups.CLASSIFICATION)


__all__ = [
    "MAX_LOG", "Classified", "LapFacts", "Penalty", "PitStop", "process_classification", "process_lap_facts",
    "process_lap_start_marks", "process_penalty", "process_speed_sample", "process_speed_trap",
]
