"""Decode and encode Forza "Data Out" datagrams with the compiled layouts.

`decode()` never raises: it returns a `Telemetry`, or a `Dropped` whose `reason` is one of `REASONS`.
The variant is chosen by the exact size; a valid datagram costs one `Struct.unpack_from` into a flat tuple.
NaN or infinite floats are kept as sent (they are the game's values; JSON output writes them as null).
"""

from __future__ import annotations

from typing import Any, cast

from bridge.games.dropped import WRONG_SIZE, Dropped
from bridge.games.forza.layouts import BY_KEY, BY_SIZE, SIZES, Variant

BAD_RACE_FLAG = "bad_race_flag"
REASONS = (WRONG_SIZE, BAD_RACE_FLAG)

GAME_KEY = "forza"
IS_RACE_ON = 0  # first value of every variant's tuple

# IsRaceOn is a little-endian s32 that is 0 or 1: the first four bytes of every genuine datagram.
_RACE_FLAGS = (b"\0\0\0\0", b"\1\0\0\0")


class Telemetry:
    """A decoded datagram: its variant and the flat tuple of every value, in the layout's order."""

    __slots__ = ("variant", "values")

    def __init__(self, variant: Variant, values: tuple[Any, ...]) -> None:
        self.variant = variant
        self.values = values

    def __bool__(self) -> bool:
        return True

    @property
    def name(self) -> str:
        return self.variant.key

    @property
    def layout(self) -> Variant:
        """The variant, under the name the session state reads records by (`record.layout`, `record.values`)."""
        return self.variant

    @property
    def racing(self) -> bool:
        return cast(bool, self.values[IS_RACE_ON] == 1)

    def __getitem__(self, name: str) -> Any:
        return self.values[self.variant.index(name)]

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or `default` when this variant does not carry it (e.g. Speed in Sled)."""
        f = self.variant.by_name.get(name)
        return default if f is None else self.values[f.index]

    def to_dict(self) -> dict[str, Any]:
        """The `rigbridge decode` shape: game, variant, then every field in snake_case, as the game sent it."""
        out: dict[str, Any] = {"game": GAME_KEY, "packet": self.variant.key}
        out.update(zip((f.key for f in self.variant.fields), self.values))
        return out

    def __repr__(self) -> str:
        return f"<Forza {self.variant.key} race_on={self.values[IS_RACE_ON]}>"


def matches(data: bytes | bytearray | memoryview) -> bool:
    """The signature: one of the four exact sizes, and an IsRaceOn of 0 or 1.

    No F1 datagram passes: F1 starts with its packet format (2023 and later), never with 0 or 1.
    """
    return len(data) in BY_SIZE and bytes(data[:4]) in _RACE_FLAGS


def decode(data: bytes | bytearray | memoryview) -> Telemetry | Dropped:
    """Validate and decode one datagram. Never raises."""
    size = len(data)
    variant = BY_SIZE.get(size)
    if variant is None:
        return Dropped(GAME_KEY, WRONG_SIZE, size, f"expected one of {', '.join(map(str, SIZES))} bytes")
    values = variant.struct.unpack_from(data)
    if values[IS_RACE_ON] not in (0, 1):
        return Dropped(GAME_KEY, BAD_RACE_FLAG, size, f"IsRaceOn is {values[IS_RACE_ON]}, not 0 or 1")
    return Telemetry(variant, values)


# ----------------------------------------------------------------------------------------------------------
# Encoding: the same tables, the other way round.


def encode(telemetry: Telemetry) -> bytes:
    """The datagram; `encode(decode(d)) == d` for every valid datagram."""
    return telemetry.variant.struct.pack(*telemetry.values)


def build(variant: str | Variant, fields: dict[str, Any] | None = None) -> Telemetry:
    """A datagram's values from names (Turn 10's or snake_case); anything not given is zero.

    `build("motorsport", {"IsRaceOn": 1, "Speed": 50.0, "Gear": 4})`
    """
    v = BY_KEY[variant] if isinstance(variant, str) else variant
    values: list[Any] = [0.0 if f.type == "f" else 0 for f in v.fields]
    for name, value in (fields or {}).items():
        values[v.index(name)] = value
    return Telemetry(v, tuple(values))
