"""The racer's aids' entry points: the `process_*` functions the writers call (one line each, marked there).

Per packet only `process_aids_lap_data` (the live delta: a few reads and an O(1) update) and `process_aids_flag`
(one compare) run; everything else happens when the player completes a lap, or when an event, a pit entry or exit,
a Session or a TyreSets packet arrives. Game values are read by name through the running game's table, so the
models themselves are game-neutral (`bridge/games/f1/aids.py` turns F1's forecast and tyre sets into neutral rows).
"""

from __future__ import annotations

import math
from typing import Any

from bridge.state import changes as groups
from bridge.state.aids.battle import neighbours, process_battle_line
from bridge.state.aids.delta import process_delta_lap, process_delta_sample
from bridge.state.aids.forecast import ForecastSample
from bridge.state.aids.fuel import process_fuel_line, process_fuel_mark
from bridge.state.aids.race_control import (
    RaceControlMessage,
    Words,
    event_text,
    flag_text,
    pit_text,
    safety_car_status_text,
)
from bridge.state.aids.state import AidsSettings, TyreSet
from bridge.state.aids.tyres import process_tyre_line, process_tyre_sample
from bridge.state.enums import slug
from bridge.state.records import CompletedLap
from bridge.state.session import CarState
from bridge.state.session import SessionState as SessionState  # re-exported for the games' aids glue

RECENT_LAP_TIMES = 5  # the average lap of a timed session's remaining-laps estimate


def _value(subject: Any, name: str) -> Any:
    """A game value; None where the running game (or every game) has no such value."""
    return getattr(subject, name, None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _wheels(value: Any) -> tuple[float, ...] | None:
    if not value or not all(isinstance(w, (int, float)) and math.isfinite(w) for w in value):
        return None
    return tuple(float(w) for w in value)


def driver_name(state: SessionState, index: int) -> str:
    cars = state.cars
    name = _value(cars[index], "name") if 0 <= index < len(cars) else None
    return name or f"car {index}"


def _words(state: SessionState) -> Words:
    return Words(state.packet_format, lambda i: driver_name(state, i))


def stint_key(car: CarState) -> object:
    """What names the set the player is on: the stint (its count and start lap)."""
    stints = car.stints
    return (len(stints), stints[-1].start_lap, stints[-1].visual_id) if stints else None


def remaining_laps(state: SessionState, car: CarState, laps_done: int) -> float | None:
    """Laps from the line to the finish: the race's lap count, or what a timed session's clock still allows."""
    kind = _value(state, "session_type_id")
    is_race = kind is not None and "race" in slug("sessionType", state.packet_format, kind)
    total = _value(state, "total_laps")
    if is_race and isinstance(total, int) and total > 0:
        return float(max(0, total - laps_done))
    time_left = _number(_value(state, "time_left_s"))
    times = [lap.time_ms for _, lap in sorted(car.laps.items()) if lap.time_ms > 0][-RECENT_LAP_TIMES:]
    if not time_left or not times:
        return None
    return float(math.ceil(time_left * 1000 / (sum(times) / len(times))))  # the lap running at zero is finished


# ----------------------------------------------------------------------------------------------------------
# Set-up


def process_aids_settings(state: SessionState, wear_limit_pct: float,
                          pit_loss_s: tuple[tuple[str, float], ...]) -> None:
    state.aids.settings = AidsSettings(wear_limit_pct, pit_loss_s)


# ----------------------------------------------------------------------------------------------------------
# Per packet


def process_aids_lap_data(state: SessionState, session_time: float) -> None:
    """Lap data arrived: the player's live delta (O(1))."""
    aids = state.aids
    aids.session_time = session_time
    car = state.player
    if car is None:
        return
    lap, d, t = _value(car, "lap"), _value(car, "lap_distance_m"), _value(car, "current_lap_ms")
    if lap is not None and d is not None and t is not None:
        process_delta_sample(aids.delta, lap, d, t)


def process_aids_flag(state: SessionState) -> None:
    """The flag shown to the player changed: a race-control message."""
    car = state.player
    flag = None if car is None else _value(car, "fia_flag")
    aids = state.aids
    if flag == aids.flag:
        return
    before, aids.flag = aids.flag, flag
    if before is not None and flag is not None and car is not None:
        text = flag_text(_words(state), flag)
        if text:
            process_race_control(state, "FLAG", "flag", text, (car.index,))


# ----------------------------------------------------------------------------------------------------------
# Per lap and per happening


def process_aids_lap(state: SessionState, car: CarState, lap: CompletedLap) -> None:
    """A car completed a lap; for the player: the delta's reference, fuel, tyres and the battle's trend."""
    if not car.is_player:
        return
    aids = state.aids
    process_delta_lap(aids.delta, lap.lap, lap.time_ms, lap.valid, _number(_value(state, "track_length_m")))
    remaining = remaining_laps(state, car, lap.lap)
    fuel = _number(_value(car, "fuel_kg"))
    if fuel is not None:
        process_fuel_line(aids.fuel, lap.lap, fuel, not aids.lap_neutralised, remaining,
                          _number(_value(car, "fuel_laps")))
    aids.lap_neutralised = bool(_value(state, "safety_car_id"))  # the next lap starts behind it, if still out
    wear = _wheels(_value(car, "tyre_wear_pct"))
    if wear is not None:
        process_tyre_line(aids.tyres, stint_key(car), lap.lap, wear, aids.settings.wear_limit_pct, remaining)
    positions = state.tables.column(state.latest, "position")
    if positions is not None:
        ahead, behind = neighbours(positions[1], state.active, car.index)
        behind_gap = None if behind is None else _value(state.cars[behind], "gap_ahead_ms")
        process_battle_line(aids.battle, ahead, _value(car, "gap_ahead_ms"), behind, behind_gap)
    state.changed.add(groups.AIDS_LAP)


def process_aids_start(state: SessionState) -> None:
    """Lights out: the fuel and the tyres' wear at the start of lap 1."""
    car = state.player
    if car is None:
        return
    aids = state.aids
    done = max(0, (_value(car, "lap") or 1) - 1)
    fuel = _number(_value(car, "fuel_kg"))
    if fuel is not None:
        process_fuel_mark(aids.fuel, done, fuel)
    wear = _wheels(_value(car, "tyre_wear_pct"))
    if wear is not None:
        process_tyre_sample(aids.tyres, stint_key(car), float(done), wear)


def process_aids_event(state: SessionState, code: str, session_time: float, details: dict[str, Any]) -> None:
    """A game event: the start marks at lights out, and its race-control message."""
    if code == "LGOT":
        process_aids_start(state)
    text = event_text(code, details, _words(state))
    if text is not None:
        kind, words, cars = text
        process_race_control(state, code, kind, words, cars, session_time)


def process_aids_pit(state: SessionState, index: int, entered: bool, lane_ms: int | None = None) -> None:
    """A car entered or left the pit lane."""
    process_race_control(state, "PITIN" if entered else "PITOUT", "pit",
                         pit_text(driver_name(state, index), entered, lane_ms), (index,))


def process_aids_session(state: SessionState, announce_safety_car: bool) -> None:
    """A Session packet that changed: the lap is neutralised while a safety car is out; for formats without safety
    car events (`announce_safety_car`), its changes become race-control messages."""
    aids = state.aids
    status = _value(state, "safety_car_id")
    if status:
        aids.lap_neutralised = True
    if status == aids.safety_car:
        return
    before, aids.safety_car = aids.safety_car, status
    if announce_safety_car and before is not None and status is not None:
        process_race_control(state, "SCST", "safety_car", safety_car_status_text(_words(state), before, status), ())


def process_aids_forecast(state: SessionState, samples: tuple[ForecastSample, ...]) -> None:
    if samples != state.aids.forecast:
        state.aids.forecast = samples
        state.changed.add(groups.FORECAST)


def process_aids_tyre_sets(state: SessionState, sets: tuple[TyreSet, ...]) -> None:
    if sets != state.aids.tyre_sets:
        state.aids.tyre_sets = sets
        state.changed.add(groups.AIDS_TYRE_SETS)


def process_race_control(state: SessionState, code: str, kind: str, text: str, cars: tuple[int, ...],
                         session_time: float | None = None) -> None:
    """One message for a person, queued for the publisher."""
    aids = state.aids
    aids.rc_seq += 1
    when = aids.session_time if session_time is None else session_time
    named = tuple((i, driver_name(state, i)) for i in cars)
    aids.race_control.append(RaceControlMessage(aids.rc_seq, when or 0.0, code, kind, text, named))
    state.changed.add(groups.RACE_CONTROL)
