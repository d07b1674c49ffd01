"""Forza's state values: how each named value is read from a Data Out datagram, in the published units.

Forza sends only the player's car, one datagram per frame, so every value is read from the latest datagram
(`state.latest[TELEMETRY]`) for car slot 0. Units are converted here (the decoder keeps the game's): speed m/s to
km/h, tyre temperatures °F to °C, fuel and tyre wear fractions to percent, lap times seconds to milliseconds,
power W to kW, inputs 0-255 to F1's 0-1 (throttle, brake) and percent (clutch, handbrake). Wheel values are
ordered RL, RR, FL, FR as F1's are (Forza sends FL, FR, RL, RR). Gears are named as F1's: -1 reverse, 0 neutral.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bridge.games.forza.enums import NEUTRAL_GEAR, REVERSE_GEAR, car_class, drivetrain
from bridge.games.forza.layouts import Variant
from bridge.state.enums import slugify
from bridge.state.values import Accessor, Value, ValueTable, register

TELEMETRY = "telemetry"  # the one kind of record: `state.latest[TELEMETRY]` is the latest datagram

_F1_WHEEL_ORDER = ("RearLeft", "RearRight", "FrontLeft", "FrontRight")


def _celsius(fahrenheit: float) -> float | None:
    return (fahrenheit - 32.0) * 5.0 / 9.0 if math.isfinite(fahrenheit) else None


def _gear(value: int) -> int:
    if value == REVERSE_GEAR:
        return -1
    return 0 if value == NEUTRAL_GEAR else value


def _ms(seconds: float) -> int | None:
    return round(seconds * 1000) if math.isfinite(seconds) and seconds > 0 else None


# name -> (Turn 10's field or fields, how to turn the raw value(s) into the published one)
_ONE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "rpm": ("CurrentEngineRpm", round),
    "idle_rpm": ("EngineIdleRpm", round),
    "max_rpm": ("EngineMaxRpm", round),
    "car_ordinal": ("CarOrdinal", int),
    "car_pi": ("CarPerformanceIndex", int),
    "drivetrain": ("DrivetrainType", lambda v: slugify(drivetrain(v))),
    "speed_kph": ("Speed", lambda v: v * 3.6),
    "power_kw": ("Power", lambda v: v / 1000.0),
    "torque_nm": ("Torque", float),
    "boost_psi": ("Boost", float),
    "fuel_pct": ("Fuel", lambda v: v * 100.0),
    "total_distance_m": ("DistanceTraveled", float),
    "current_lap_ms": ("CurrentLap", lambda v: round(v * 1000) if math.isfinite(v) else None),
    "last_lap_ms": ("LastLap", _ms),
    "race_time_s": ("CurrentRaceTime", float),
    "lap": ("LapNumber", lambda v: v + 1),  # the game counts laps completed; the state, the lap being driven
    "position": ("RacePosition", int),
    "throttle": ("Accel", lambda v: v / 255.0),
    "brake": ("Brake", lambda v: v / 255.0),
    "clutch": ("Clutch", lambda v: round(v * 100 / 255)),
    "handbrake_pct": ("HandBrake", lambda v: round(v * 100 / 255)),
    "gear": ("Gear", _gear),
    "steer": ("Steer", lambda v: v / 127.0),
}
_WHEELS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "tyre_surface_temps_c": ("TireTemp", _celsius),
    "tyre_wear_pct": ("TireWear", lambda v: v * 100.0),
}
SESSION_ONE: dict[str, tuple[str, Callable[[Any], Any]]] = {"racing": ("IsRaceOn", bool)}


def _reader(at: int, convert: Callable[[Any], Any]) -> Accessor:
    return lambda v, i: convert(v[at])


def _wheels_reader(at: tuple[int, ...], convert: Callable[[Any], Any]) -> Accessor:
    return lambda v, i: tuple(convert(v[j]) for j in at)


def _compile(variant: Variant, table: dict[str, tuple[str, Callable[[Any], Any]]]) -> dict[str, Accessor]:
    out: dict[str, Accessor] = {}
    for name, (field, convert) in table.items():
        f = variant.by_name.get(field)
        if f is not None:
            out[name] = _reader(f.index, convert)
    return out


class _Accessors:
    """Accessors compiled per variant on first use (four variants at most)."""

    def __init__(self, table: dict[str, tuple[str, Callable[[Any], Any]]], wheels: bool) -> None:
        self._table = table
        self._wheels = wheels
        self._compiled: dict[str, dict[str, Accessor]] = {}

    def for_layout(self, variant: Variant) -> dict[str, Accessor]:
        compiled = self._compiled.get(variant.key)
        if compiled is None:
            compiled = _compile(variant, self._table)
            if self._wheels:
                compiled.update(_compile_wheels(variant))
                if "CarClass" in variant.by_name:
                    at, key = variant.index("CarClass"), variant.key
                    compiled["car_class"] = lambda v, i: slugify(car_class(key, v[at]))
            self._compiled[variant.key] = compiled
        return compiled


def _compile_wheels(variant: Variant) -> dict[str, Accessor]:
    out: dict[str, Accessor] = {}
    for name, (prefix, convert) in _WHEELS.items():
        fields = [variant.by_name.get(prefix + wheel) for wheel in _F1_WHEEL_ORDER]
        if all(fields):
            at = tuple(f.index for f in fields)  # type: ignore[union-attr]
            out[name] = _wheels_reader(at, convert)
    return out


CAR = _Accessors(_ONE, wheels=True)
SESSION = _Accessors(SESSION_ONE, wheels=False)

# The catalogue fields Forza provides: the player's car and the rev lights (no `cars/<i>/`: it sends one car).
FIELDS = (
    "session/racing", "session/best_lap_ms", "lights/rev_pct", "lights/shift",
    "lights/leds", "player/tyres/*/surface_temp_c", "player/tyres/*/wear_pct",
    *(f"player/{name}" for name in (
        "position", "lap", "current_lap_ms", "last_lap_ms", "best_lap_ms", "stint_laps", "tyre_wear_pct",
        "tyre_wear_rate_pct_per_lap", "speed_kph", "gear", "rpm", "idle_rpm", "max_rpm", "throttle_pct",
        "brake_pct", "steer_pct", "clutch_pct", "handbrake_pct", "boost_psi", "power_kw", "torque_nm",
        "fuel_pct", "race_time_s", "distance_m", "car/ordinal", "car/class", "car/pi", "car/drivetrain",
        "lap_completed", "stints", "top_speed_kph")),
)  # fmt: skip

FORZA_VALUES = register(
    ValueTable(
        "forza",
        "Forza telemetry bridge",
        car={name: Value(TELEMETRY, CAR) for name in (*_ONE, *_WHEELS, "car_class")},
        session={name: Value(TELEMETRY, SESSION) for name in SESSION_ONE},
        fields=FIELDS,
    )
)
