"""Codemasters' state values: how each named value is read from an "extradata 3" datagram, in published units.

The rally games send only the player's car, one datagram per frame, so every value is read from the latest
datagram for car slot 0. Units are converted here (the decoder keeps the game's): speed m/s to km/h, engine
speeds rad/s to rpm (`RPM_PER_RATE`: the capture's idle and maximum are exactly 2000 and 8000 rpm that way,
not with the "rpm / 10" often quoted), lap and stage times s to ms, stage progress 0-1 to percent. A stage is
one lap: `lap` counts from 0, so the stage being driven is lap 1 and the finish completes it. Values the game
leaves at zero (fuel, tyre pressures in DiRT Rally) read None. Wheel values are RL, RR, FL, FR as sent.
"""

from __future__ import annotations

from bridge.games.codemasters.layouts import REVERSE_GEARS, RPM_PER_RATE
from bridge.games.flat_values import From, finite, ms, one, value_table, wheels, whole


def _rpm(rate: float) -> int | None:
    return whole(rate * RPM_PER_RATE) if rate > 0 else None


def _gear(value: float) -> int:
    return -1 if value in REVERSE_GEARS else int(value)


def _fuel_pct(fuel: float, capacity: float) -> float | None:
    return max(0.0, min(100.0, fuel / capacity * 100)) if capacity > 0 else None


def _positive(value: float) -> int | None:
    return int(value) if value > 0 else None


CAR: dict[str, From] = {
    "speed_kph": one("speed", lambda v: v * 3.6),
    "rpm": one("engine_rate", _rpm),
    "max_rpm": one("max_engine_rate", _rpm),
    "idle_rpm": one("idle_engine_rate", _rpm),
    "gear": one("gear", _gear),
    "throttle": one("throttle", finite),
    "brake": one("brake", finite),
    "clutch": one("clutch", lambda v: round(v * 100)),
    "steer": one("steer", finite),
    "lap": one("lap", lambda v: int(v) + 1),  # the game counts laps completed from 0
    "current_lap_ms": one("lap_time", lambda v: round(v * 1000) if v >= 0 else None),
    "last_lap_ms": one("last_lap_time", ms),
    "lap_distance_m": one("lap_distance", finite),
    "stage_progress_pct": one("progress", lambda v: max(0.0, min(100.0, v * 100))),
    "position": one("race_position", _positive),
    "race_time_s": one("run_time", finite),
    "fuel_pct": From(("fuel", "fuel_capacity"), _fuel_pct),
    "brake_temps_c": wheels("brake_temp", finite),
    "tyre_pressures_psi": wheels("tyre_pressure", finite),
    "suspension_mm": wheels("suspension_position", finite),
    "g_lateral": one("g_force_lateral", finite),
    "g_longitudinal": one("g_force_longitudinal", finite),
}

SESSION: dict[str, From] = {
    "total_laps": one("total_laps", _positive),
    "track_length_m": one("track_length", lambda v: round(v) if v > 0 else None),
}

# The catalogue fields Codemasters provides: the player's car and rev lights from rpm (one car).
FIELDS = (
    "session/total_laps", "session/track_length_m", "session/best_lap_ms", "lights/rev_pct", "lights/shift",
    "lights/leds", "player/brakes/*/temp_c", "player/tyres/*/pressure_kpa", "player/suspension/*/position_mm",
    *(f"player/{name}" for name in (
        "position", "lap", "current_lap_ms", "last_lap_ms", "best_lap_ms", "stint_laps", "lap_distance_m",
        "stage_progress_pct", "speed_kph", "gear", "rpm", "idle_rpm", "max_rpm", "throttle_pct", "brake_pct",
        "steer_pct", "clutch_pct", "fuel_pct", "race_time_s", "g_lateral", "g_longitudinal")),
)  # fmt: skip

CODEMASTERS_VALUES = value_table("codemasters", "Codemasters rally telemetry bridge", CAR, SESSION, FIELDS)


