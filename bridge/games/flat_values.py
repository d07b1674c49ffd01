"""State values of the single-record games (GT7, Codemasters, OutGauge): named values read from one flat record.

These games send one record per frame, for the player's car only. A value is a list of the record's fields and
a function turning their raw values into the published one (`From`), compiled per layout into the accessors
`bridge/state/values.py` reads through (`ValueTable`). A layout that lacks one of a value's fields does not
provide it: the value reads None there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.games.flat import FlatLayout
from bridge.state.values import Accessor, Value, ValueTable, register

TELEMETRY = "telemetry"  # the one kind of record: `state.latest[TELEMETRY]` is the latest datagram
F1_WHEEL_ORDER = ("rl", "rr", "fl", "fr")  # how the state orders wheel values (as F1 sends them)
PSI_PER_BAR = 14.503773773


class Layout(FlatLayout):
    """A flat layout under the name the pipeline counts its records by (`rigbridge_datagrams_decoded`)."""

    __slots__ = ()

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True)
class From:
    """A value from one or more fields of the record: `convert(*raw)`, None when it cannot say."""

    fields: tuple[str, ...]
    convert: Callable[..., Any]


def one(field: str, convert: Callable[[Any], Any] = lambda v: v) -> From:
    return From((field,), convert)


def wheels(prefix: str, convert: Callable[[Any], Any] = lambda v: v) -> From:
    """The four wheels' `prefix_<wheel>` fields in the state's order (RL, RR, FL, FR); None when all are zero
    (a game that leaves the field unset)."""

    def read(*raw: Any) -> tuple[Any, ...] | None:
        return None if not any(raw) else tuple(convert(v) for v in raw)

    return From(tuple(f"{prefix}_{w}" for w in F1_WHEEL_ORDER), read)


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def whole(value: float) -> int | None:
    return round(value) if math.isfinite(value) else None


def ms(seconds: float) -> int | None:
    """Seconds to whole milliseconds; None for 0 (not set), negative or not finite."""
    return round(seconds * 1000) if math.isfinite(seconds) and seconds > 0 else None


def percent(value: float) -> float | None:
    return value * 100.0 if math.isfinite(value) else None


class FlatAccessors:
    """Accessors compiled per layout on first use (a game has a handful of layouts)."""

    def __init__(self, table: Mapping[str, From]) -> None:
        self._table = table
        self._compiled: dict[str, dict[str, Accessor]] = {}

    def for_layout(self, layout: FlatLayout) -> dict[str, Accessor]:
        compiled = self._compiled.get(layout.name)
        if compiled is None:
            compiled = self._compiled[layout.name] = _compile(layout, self._table)
        return compiled


def _compile(layout: FlatLayout, table: Mapping[str, From]) -> dict[str, Accessor]:
    out: dict[str, Accessor] = {}
    for name, source in table.items():
        if not all(f in layout.index for f in source.fields):
            continue
        out[name] = _accessor(tuple(layout.index[f] for f in source.fields), source.convert)
    return out


def _accessor(at: tuple[int, ...], convert: Callable[..., Any]) -> Accessor:
    if len(at) == 1:
        (j,) = at

        def read_one(values: tuple[Any, ...], index: int) -> Any:
            return convert(values[j])

        return read_one

    def read(values: tuple[Any, ...], index: int) -> Any:
        return convert(*(values[j] for j in at))

    return read


def value_table(
    game: str, model: str, car: Mapping[str, From], session: Mapping[str, From], fields: tuple[str, ...]
) -> ValueTable:
    """The game's `ValueTable`, registered: every value is read from the latest record (`TELEMETRY`)."""
    car_accessors, session_accessors = FlatAccessors(car), FlatAccessors(session)
    return register(
        ValueTable(
            game,
            model,
            car={name: Value(TELEMETRY, car_accessors) for name in car},
            session={name: Value(TELEMETRY, session_accessors) for name in session},
            fields=fields,
        )
    )
