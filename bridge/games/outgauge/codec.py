"""Decode OutGauge datagrams (Live for Speed, BeamNG.drive).

`decode()` never raises: a `Gauge`, or a `Dropped` whose reason is one of `REASONS`. The signature is the
size (92 or 96) plus what only the game writes: pedals and fuel within 0..1, finite speed and rpm, a gear the
struct can mean, and the two displays as NUL-terminated text. BeamNG's fixed fields are handled: its time is
always 0 (`Gauge.time_ms` is None then, and order cannot be checked), its car is always "beam".
"""

from __future__ import annotations

import math
from typing import Any

from bridge.games.dropped import IMPLAUSIBLE, TOO_SHORT, WRONG_SIZE, Dropped
from bridge.games.flat import FlatLayout
from bridge.games.outgauge.layouts import BEAMNG_CAR, BY_SIZE, FLAGS, LIGHTS, PLAIN

GAME_KEY = "outgauge"
REASONS = (TOO_SHORT, WRONG_SIZE, IMPLAUSIBLE)
SIZES = frozenset(BY_SIZE)
MAX_GEAR_RAW = 11  # reverse, neutral and up to ten forward gears

_I = PLAIN.index  # the 96-byte layout only adds `id` at the end
_UNIT = tuple(_I[k] for k in ("throttle", "brake", "clutch", "fuel"))
_FINITE = tuple(_I[k] for k in ("speed", "rpm", "turbo", "engine_temp", "oil_pressure", "oil_temp"))
_SLACK = 0.01


def problem(values: tuple[Any, ...]) -> str:
    """Why these values cannot come from the game; "" when they can."""
    for i in _UNIT:
        v = values[i]
        if not -_SLACK <= v <= 1 + _SLACK:  # also False for NaN
            return f"{PLAIN.keys[i]} {v:g} is outside 0..1"
    for i in _FINITE:
        if not math.isfinite(values[i]) or abs(values[i]) > 1e6:
            return f"{PLAIN.keys[i]} {values[i]:g} is not a plausible value"
    if values[_I["gear_raw"]] > MAX_GEAR_RAW:
        return f"gear {values[_I['gear_raw']]} is not a gear"
    for key in ("display1", "display2"):
        if b"\0" not in values[_I[key]]:
            return f"{key} is not NUL-terminated text"
    return ""


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


class Gauge:
    """A decoded datagram: its layout (with or without the id) and the flat tuple of its values."""

    __slots__ = ("layout", "values")

    def __init__(self, layout: FlatLayout, values: tuple[Any, ...]) -> None:
        self.layout = layout
        self.values = values

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Gauge({self.source}, {self.speed_kmh:.0f} km/h, {self.values[_I['rpm']]:.0f} rpm)"

    def __getitem__(self, key: str) -> Any:
        return self.values[self.layout.index[key]]

    @property
    def source(self) -> str:
        """"beamng" or "lfs": BeamNG.drive always names its car "beam"."""
        return "beamng" if self["car"] == BEAMNG_CAR else "lfs"

    @property
    def time_ms(self) -> int | None:
        """The game's clock, or None when it sends none (BeamNG: always 0)."""
        return self["time_ms"] or None

    @property
    def car(self) -> str:
        return _text(self["car"])

    @property
    def gear(self) -> int:
        """-1 reverse, 0 neutral, 1.. forward (F1's numbering)."""
        return int(self["gear_raw"]) - 1

    @property
    def speed_kmh(self) -> float:
        return float(self["speed"]) * 3.6

    def light(self, name: str) -> bool:
        return bool(self["show_lights"] >> LIGHTS[name] & 1)

    @property
    def lights(self) -> dict[str, bool]:
        """Each dashboard light this car has: on or off. Lights the car lacks are left out."""
        shown, has = self["show_lights"], self["dash_lights"]
        return {name: bool(shown >> bit & 1) for name, bit in LIGHTS.items() if has >> bit & 1}

    @property
    def flag_names(self) -> list[str]:
        bits = self["flags"]
        return [name for name, bit in FLAGS.items() if bits >> bit & 1]

    def to_dict(self) -> dict[str, Any]:
        """The `rigbridge decode` shape: game, packet, who sent it, every value as sent (text fields as text),
        then the dashboard lights the car has, on or off, and the flags by name."""
        out: dict[str, Any] = {"game": GAME_KEY, "packet": self.layout.name, "source": self.source}
        for key, value in zip(self.layout.keys, self.values):
            out[key] = _text(value) if isinstance(value, bytes) else value
        out.update(lights=self.lights, flag_names=self.flag_names)
        return out


def encode(gauge: Gauge) -> bytes:
    """The datagram, byte for byte as it was decoded."""
    return gauge.layout.struct.pack(*gauge.values)


def decode(data: bytes | bytearray | memoryview) -> Gauge | Dropped:
    """One datagram. Never raises."""
    size = len(data)
    layout = BY_SIZE.get(size)
    if layout is None:
        reason = TOO_SHORT if size < PLAIN.size else WRONG_SIZE
        return Dropped(GAME_KEY, reason, size, "OutGauge datagrams have 92 bytes, or 96 with an OutGauge ID")
    values = layout.unpack(data)
    why = problem(values)
    if why:
        return Dropped(GAME_KEY, IMPLAUSIBLE, size, why)
    return Gauge(layout, values)


def matches(data: bytes | bytearray | memoryview) -> bool:
    layout = BY_SIZE.get(len(data))
    return layout is not None and not problem(layout.unpack(data))
