"""GT7's state values: how each named value is read from a decrypted packet, in the published units.

GT7 sends only the player's car, one packet per frame, so every value is read from the latest packet for car
slot 0. Units are converted here (the decoder keeps the game's): speed m/s to km/h, boost from absolute
manifold pressure in bar to psi over the atmosphere, fuel litres to percent of capacity, inputs 0-255 to 0-1.
The rev lights are the game's own: its dashboard lights them from `rpm_warning` up to `rpm_limiter` and
flashes at the limiter (the `rev_limiter` flag), so `lights/rev_pct` is rpm across that range and 100 while
the flag is up. Gear 0 is neutral or reverse (the packet does not tell them apart).
"""

from __future__ import annotations

import math

from bridge.games.flat_values import PSI_PER_BAR, From, finite, one, value_table, wheels, whole
from bridge.games.gt7.layouts import FLAGS, NO_SUGGESTED_GEAR


def _flag(name: str) -> From:
    bit = FLAGS[name]
    return one("flags", lambda flags: bool(flags >> bit & 1))


def _rev_pct(rpm: float, warning: int, limiter: int, flags: int) -> int | None:
    """Percent of the game's rev-light range: 0 at `rpm_warning`, 100 at the limiter or while it flashes."""
    if flags >> FLAGS["rev_limiter"] & 1:
        return 100
    if limiter <= warning or not math.isfinite(rpm):
        return None
    return max(0, min(100, round((rpm - warning) / (limiter - warning) * 100)))


def _boost_psi(pressure: float, flags: int) -> float | None:
    """Manifold pressure is absolute: boost is what exceeds the atmosphere (1 bar); none without a turbo."""
    if not flags >> FLAGS["has_turbo"] & 1 or not math.isfinite(pressure):
        return None
    return (pressure - 1.0) * PSI_PER_BAR


def _fuel_pct(fuel: float, capacity: float) -> float | None:
    if not (math.isfinite(fuel) and math.isfinite(capacity)) or capacity <= 0:
        return None
    return max(0.0, min(100.0, fuel / capacity * 100))


def _positive(value: int) -> int | None:
    return value if value > 0 else None


def _suggested(gears: int) -> int | None:
    suggested = gears >> 4
    return None if suggested == NO_SUGGESTED_GEAR else suggested


CAR: dict[str, From] = {
    "speed_kph": one("speed", lambda v: v * 3.6),
    "rpm": one("rpm", whole),
    "max_rpm": one("rpm_limiter", _positive),
    "rev_warning_rpm": one("rpm_warning", _positive),
    "rev_lights_pct": From(("rpm", "rpm_warning", "rpm_limiter", "flags"), _rev_pct),
    "gear": one("gears", lambda gears: gears & 0x0F),
    "suggested_gear": one("gears", _suggested),
    "throttle": one("throttle_raw", lambda v: v / 255.0),
    "brake": one("brake_raw", lambda v: v / 255.0),
    "clutch": one("clutch", lambda v: round(v * 100) if math.isfinite(v) else None),
    "handbrake_pct": one("flags", lambda flags: 100 if flags >> FLAGS["handbrake"] & 1 else 0),
    "lap": one("lap", _positive),  # the lap being driven; 0 before the start
    "last_lap_ms": one("last_lap_ms", _positive),  # -1 until a lap is completed
    "position": one("race_position", _positive),  # -1 outside races
    "fuel_pct": From(("fuel", "fuel_capacity"), _fuel_pct),
    "fuel_l": one("fuel", finite),
    "fuel_capacity_l": one("fuel_capacity", finite),
    "tyre_surface_temps_c": wheels("tyre_temp", finite),
    "boost_psi": From(("manifold_pressure", "flags"), _boost_psi),
    "oil_temp_c": one("oil_temp", finite),
    "water_temp_c": one("water_temp", finite),
    "oil_pressure_bar": one("oil_pressure", finite),
    "car_ordinal": one("car_id", int),
}
SESSION: dict[str, From] = {
    "racing": _flag("in_race"),
    "paused": _flag("paused"),
    "loading": _flag("loading"),
    "total_laps": one("laps_in_race", _positive),
    "entrants": one("cars", _positive),
}

# The catalogue fields GT7 provides: the player's car, the game's rev lights (no `cars/<i>/`: one car).
FIELDS = (
    "session/racing", "session/paused", "session/loading", "session/total_laps", "session/entrants",
    "session/best_lap_ms", "lights/rev_pct", "lights/shift", "lights/leds", "player/tyres/*/surface_temp_c",
    *(f"player/{name}" for name in (
        "position", "lap", "last_lap_ms", "best_lap_ms", "stint_laps", "speed_kph", "gear", "suggested_gear",
        "rpm", "max_rpm", "rev_warning_rpm", "throttle_pct", "brake_pct", "clutch_pct", "handbrake_pct",
        "boost_psi", "fuel_pct", "fuel_l", "fuel_capacity_l", "oil_temp_c", "water_temp_c", "oil_pressure_bar",
        "car/ordinal")),
)  # fmt: skip

GT7_VALUES = value_table("gt7", "Gran Turismo 7 telemetry bridge", CAR, SESSION, FIELDS)
