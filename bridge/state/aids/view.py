"""What readers see of the racer's aids: immutable values only (numbers, frozen records, tuples)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.state.aids.battle import Gap
    from bridge.state.aids.forecast import ForecastSample
    from bridge.state.aids.fuel import FuelEstimate
    from bridge.state.aids.race_control import RaceControlMessage
    from bridge.state.aids.state import AidsSettings, TyreSet
    from bridge.state.aids.tyres import TyreEstimate


class AidsView(tuple[Any]):
    """`(aids,)`, read-only: a tuple subclass with properties (`_PATHS`) and no attributes of its own."""

    __slots__ = ()
    if TYPE_CHECKING:  # the properties made from `_PATHS` below, as a type checker sees them
        settings: AidsSettings
        delta_ms: float | None
        reference_lap_ms: int | None
        fuel: FuelEstimate | None
        tyres: TyreEstimate | None
        ahead: Gap | None
        behind: Gap | None
        forecast: tuple[ForecastSample, ...]
        tyre_sets: tuple[TyreSet, ...]
        race_control: tuple[RaceControlMessage, ...]
        last_seq: int


# property -> (the attribute path from the writer's `Aids`, how to make it immutable)
_PATHS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "settings": (("settings",), lambda v: v),
    "delta_ms": (("delta", "delta_ms"), lambda v: v),
    "reference_lap_ms": (("delta", "ref_ms"), lambda v: v),
    "fuel": (("fuel", "estimate"), lambda v: v),
    "tyres": (("tyres", "estimate"), lambda v: v),
    "ahead": (("battle", "ahead"), lambda v: v),
    "behind": (("battle", "behind"), lambda v: v),
    "forecast": (("forecast",), lambda v: v),
    "tyre_sets": (("tyre_sets",), lambda v: v),
    "race_control": (("race_control",), tuple),  # the writer's deque
    "last_seq": (("rc_seq",), lambda v: v),
}


def _property(path: tuple[str, ...], freeze: Callable[[Any], Any]) -> property:
    def get(self: AidsView) -> Any:
        value = self[0]
        for name in path:
            value = getattr(value, name)
        return freeze(value)

    return property(get)


for _name, (_path, _freeze) in _PATHS.items():
    setattr(AidsView, _name, _property(_path, _freeze))


def aids_view(state: Any) -> AidsView:
    """The aids of a writer's `SessionState`, read-only."""
    return AidsView((state.aids,))
