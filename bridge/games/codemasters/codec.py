"""Decode Codemasters "extradata 3" datagrams (DiRT Rally 1/2.0, DiRT 4, WRC Generations).

`decode()` never raises: a `Telemetry`, or a `Dropped` whose reason is one of `REASONS`. With no header or
magic, the signature is the exact size plus values only the game produces: every float finite, pedals within
0..1, whole numbers where the game counts (gear, lap, position, gear count). The cost is one unpack.
"""

from __future__ import annotations

import math
from typing import Any

from bridge.games.codemasters.layouts import EXTRADATA3, REVERSE_GEARS, RPM_PER_RATE
from bridge.games.dropped import IMPLAUSIBLE, TOO_SHORT, WRONG_SIZE, Dropped
from bridge.games.flat_values import Layout

GAME_KEY = "codemasters"
REASONS = (TOO_SHORT, WRONG_SIZE, IMPLAUSIBLE)
SIZE = EXTRADATA3.size

_I = EXTRADATA3.index
_PEDALS = (_I["throttle"], _I["brake"], _I["clutch"])
_COUNTS = (_I["gear"], _I["lap"], _I["race_position"], _I["max_gears"], _I["total_laps"])
_RATES = (_I["engine_rate"], _I["max_engine_rate"], _I["idle_engine_rate"])
_PEDAL_SLACK = 0.01


def problem(values: tuple[Any, ...]) -> str:
    """Why these values cannot come from the game; "" when they can."""
    if not math.isfinite(sum(values)):  # NaN and infinities carry through a sum; 66 float32 cannot overflow it
        return "a value is not a finite number"
    for i in _PEDALS:
        if not -_PEDAL_SLACK <= values[i] <= 1 + _PEDAL_SLACK:
            return f"{EXTRADATA3.keys[i]} {values[i]:g} is outside 0..1"
    for i in _COUNTS:
        v = values[i]
        if v != int(v) or not -1 <= v <= 1000:
            return f"{EXTRADATA3.keys[i]} {v:g} is not a count"
    for i in _RATES:
        if not 0 <= values[i] < 5000:  # rad/s: about 48,000 rpm
            return f"{EXTRADATA3.keys[i]} {values[i]:g} is not an engine speed"
    return ""


class Telemetry:
    """A decoded datagram: the flat tuple of its 66 values, named by the layout."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Telemetry(stage {self.progress:.1%}, {self.speed_kmh:.0f} km/h)"

    @property
    def layout(self) -> Layout:
        """The one layout, under the name the session state reads records by (`record.layout`, `record.values`)."""
        return EXTRADATA3

    def __getitem__(self, key: str) -> Any:
        return self.values[_I[key]]

    @property
    def speed_kmh(self) -> float:
        return float(self["speed"]) * 3.6

    @property
    def progress(self) -> float:
        return float(self["progress"])

    @property
    def rpm(self) -> float:
        return float(self["engine_rate"]) * RPM_PER_RATE

    @property
    def max_rpm(self) -> float:
        return float(self["max_engine_rate"]) * RPM_PER_RATE

    @property
    def idle_rpm(self) -> float:
        return float(self["idle_engine_rate"]) * RPM_PER_RATE

    @property
    def gear(self) -> int:
        """-1 reverse, 0 neutral, 1.. forward (F1's numbering)."""
        gear = self["gear"]
        return -1 if gear in REVERSE_GEARS else int(gear)

    def to_dict(self) -> dict[str, Any]:
        """The `rigbridge decode` shape: game, packet, then every value as the game sent it."""
        out: dict[str, Any] = {"game": GAME_KEY, "packet": EXTRADATA3.name}
        out.update(zip(EXTRADATA3.keys, self.values))
        return out


def encode(telemetry: Telemetry) -> bytes:
    """The datagram, byte for byte as it was decoded."""
    return EXTRADATA3.struct.pack(*telemetry.values)


def decode(data: bytes | bytearray | memoryview) -> Telemetry | Dropped:
    """One datagram. Never raises."""
    size = len(data)
    if size != SIZE:
        reason = TOO_SHORT if size < SIZE else WRONG_SIZE
        return Dropped(GAME_KEY, reason, size, f"extradata 3 datagrams have {SIZE} bytes")
    values = EXTRADATA3.unpack(data)
    why = problem(values)
    if why:
        return Dropped(GAME_KEY, IMPLAUSIBLE, size, why)
    return Telemetry(values)


def matches(data: bytes | bytearray | memoryview) -> bool:
    return len(data) == SIZE and not problem(EXTRADATA3.unpack(data))
