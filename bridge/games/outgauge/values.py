"""OutGauge's state values: how each named value is read from a datagram, in the published units.

Live for Speed and BeamNG.drive send only the player's (or the viewed) car, one datagram per frame, so every
value is read from the latest datagram for car slot 0. Units are converted here: speed m/s to km/h, turbo bar
to psi, fuel 0-1 to percent, gears to F1's numbering (-1 reverse, 0 neutral).

OutGauge sends no laps, no idle or maximum rpm: its rev lights are the car's own dashboard lights. The shift
light lights the whole strip (`lights/rev_pct` 100, `lights/shift`), the pit limiter light flashes it
(`lights/pit_limiter`); a light the car does not have (`dash_lights`) reads None. The other dashboard lights
(handbrake, ABS, traction control, oil, battery...) are `player/dash/*`. BeamNG's fixed car name "beam" is no
car name: `player/car/model` is empty for it.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.games.flat_values import PSI_PER_BAR, From, finite, one, value_table, whole
from bridge.games.outgauge.layouts import BEAMNG_CAR, LIGHTS

DASH_LIGHTS = ("handbrake", "abs", "tc", "full_beam", "signal_left", "signal_right", "oil_warning", "battery")


def _light(name: str) -> Callable[[int, int], bool | None]:
    """On or off, for a light the car has (its `dash_lights` bit); None when it has none."""
    bit = 1 << LIGHTS[name]
    return lambda has, shown: bool(shown & bit) if has & bit else None


_SHIFT = _light("shift")


def _rev_pct(has: int, shown: int) -> int | None:
    on = _SHIFT(has, shown)
    return None if on is None else (100 if on else 0)


def _dash(has: int, shown: int) -> dict[str, bool]:
    """The dashboard lights the car has, on or off."""
    return {name: bool(shown >> LIGHTS[name] & 1) for name in DASH_LIGHTS if has >> LIGHTS[name] & 1}


def _car(raw: bytes) -> str | None:
    name = raw.split(b"\0", 1)[0]
    return None if not name or name == BEAMNG_CAR else name.decode("latin-1")


_LIGHTS = ("dash_lights", "show_lights")

CAR: dict[str, From] = {
    "speed_kph": one("speed", lambda v: v * 3.6),
    "rpm": one("rpm", whole),
    "gear": one("gear_raw", lambda v: v - 1),
    "throttle": one("throttle", finite),
    "brake": one("brake", finite),
    "clutch": one("clutch", lambda v: round(v * 100)),
    "fuel_pct": one("fuel", lambda v: v * 100.0),
    "boost_psi": one("turbo", lambda v: v * PSI_PER_BAR),
    "engine_temp_c": one("engine_temp", finite),
    "oil_temp_c": one("oil_temp", finite),
    "oil_pressure_bar": one("oil_pressure", finite),
    "rev_lights_pct": From(_LIGHTS, _rev_pct),
    "pit_limiter": From(_LIGHTS, _light("pit_limiter")),
    "dash_lights": From(_LIGHTS, _dash),
    "car_model": one("car", _car),
}

FIELDS = (
    "lights/rev_pct", "lights/shift", "lights/leds", "lights/pit_limiter", "player/dash/*",
    *(f"player/{name}" for name in (
        "speed_kph", "gear", "rpm", "throttle_pct", "brake_pct", "clutch_pct", "fuel_pct", "boost_psi",
        "engine_temp_c", "oil_temp_c", "oil_pressure_bar", "pit_limiter", "car/model")),
)  # fmt: skip

OUTGAUGE_VALUES = value_table("outgauge", "OutGauge telemetry bridge", CAR, {}, FIELDS)
