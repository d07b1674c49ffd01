"""Read-only views of the session state, for readers (MQTT, metrics, Home Assistant, LEDs).

Readers never mutate state. They get `readonly(state)`, a `SessionView`, instead of the state itself, which
makes that a property of the code rather than a convention: a view is a tuple subclass with no attributes of
its own, so nothing can be assigned to it, and everything it hands out is immutable too (tuples, frozensets,
mapping proxies, frozen records, other views). Game values are read straight from the latest packets, the
same way the writer reads them, so a view costs no copying.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bridge.state import values
from bridge.state.aids.view import AidsView
from bridge.state.changes import FrozenChanges
from bridge.state.records import CompletedLap, Event, LapFacts, Penalty, PitStop, Stint
from bridge.state.session import SessionFacts, SessionState


def frozen(value: Any) -> Any:
    """An immutable rendering of a writer-owned container."""
    if isinstance(value, (list, deque)):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType(value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def _forward(name: str, of: Callable[[Any], Any]) -> property:
    """A property showing attribute `name` of the writer's object, frozen."""

    def get(self: Any) -> Any:
        return frozen(getattr(of(self), name))

    get.__name__ = name
    return property(get)


class CarView(tuple[SessionState, int]):
    """One car slot, read-only: `(state, index)`."""

    __slots__ = ()

    if TYPE_CHECKING:
        # The writer's attributes forwarded below (`_CAR_ATTRIBUTES`), frozen.
        laps: Mapping[int, CompletedLap]
        best_lap_ms: int | None
        best_lap_num: int | None
        best_sectors_ms: tuple[int | None, ...]
        stints: tuple[Stint, ...]
        pit_time_lost_ms: int
        last_pit_lane_ms: int
        wear_rate_pct_per_lap: float | None
        penalties_issued: int
        penalties_served: int
        overtakes: int
        collisions: int
        speed_trap_kph: float | None
        lap_facts: Mapping[int, LapFacts]
        penalty_log: tuple[Penalty, ...]
        pit_log: tuple[PitStop, ...]
        top_speed_kph: float | None

        # Game values (`lap`, `speed_kph`...) are properties the games register at run time (`values.attach`).
        def __getattr__(self, name: str) -> Any: ...

    @property
    def index(self) -> int:  # type: ignore[override]  # the car's slot; a view is never searched like a tuple
        return self[1]

    @property
    def packet_format(self) -> int:
        return self[0].packet_format

    @property
    def active(self) -> bool:
        return self[1] in self[0].active_set

    @property
    def is_player(self) -> bool:
        return self[1] == self[0].player_index

    @property
    def last_completed(self) -> CompletedLap | None:
        return self[0].cars[self[1]].last_completed

    @property
    def stint_laps(self) -> int | None:
        return self[0].cars[self[1]].stint_laps

    def __repr__(self) -> str:
        return f"CarView({self[1]})"


_CAR_ATTRIBUTES = (
    "laps", "best_lap_ms", "best_lap_num", "best_sectors_ms", "stints", "pit_time_lost_ms", "last_pit_lane_ms",
    "wear_rate_pct_per_lap", "penalties_issued", "penalties_served", "overtakes", "collisions", "speed_trap_kph",
    "lap_facts", "penalty_log", "pit_log", "top_speed_kph",
)  # fmt: skip
for _name in _CAR_ATTRIBUTES:
    setattr(CarView, _name, _forward(_name, lambda v: v[0].cars[v[1]]))
values.attach(CarView, cars=True, view=True)


class SessionView(tuple[SessionState, int], SessionFacts):
    """The whole session, read-only: `(state, 0)` (the same shape as a car view, so game fields read alike)."""

    __slots__ = ()

    if TYPE_CHECKING:
        # The writer's containers forwarded below (`_SESSION_ATTRIBUTES`), frozen (the rest: `SessionFacts`).
        best_sectors: tuple[tuple[int, int] | None, ...]
        lap_positions: Mapping[int, tuple[int, ...]]
        events: tuple[Event, ...]
        stale_dropped: Mapping[str, int]

        # Game values (`session_type_id`, `track_length_m`...) are properties the games register at run time.
        def __getattr__(self, name: str) -> Any: ...

    @property
    def cars(self) -> tuple[CarView, ...]:
        state = self[0]
        return tuple(CarView((state, i)) for i in range(len(state.cars)))

    @property
    def num_slots(self) -> int:
        """Car slots in the current format (22, or 24 from format 2026)."""
        return len(self[0].cars)

    def car(self, index: int) -> CarView:
        return CarView((self[0], index))

    @property
    def player(self) -> CarView | None:
        state = self[0]
        i = state.player_index
        return CarView((state, i)) if i < len(state.cars) else None

    @property
    def secondary_player(self) -> CarView | None:
        state = self[0]
        i = state.secondary_player_index
        return CarView((state, i)) if i < len(state.cars) else None

    @property
    def active_cars(self) -> tuple[CarView, ...]:
        state = self[0]
        return tuple(CarView((state, i)) for i in state.active)

    @property
    def game(self) -> str:
        """The running game's key (`f1`, `forza`...), or "" before its first datagram."""
        return self[0].tables.game

    @property
    def game_model(self) -> str:
        """Home Assistant's device model for the running game."""
        return self[0].tables.model

    def provides(self, path: str) -> bool:
        """Whether the running game provides the catalogue field at `path`."""
        return self[0].tables.provides(path)

    def column(self, name: str) -> tuple[Any, tuple[Any, ...]] | None:
        """(a token, every car slot's value of the per-car value `name`), read in one call from the game's
        latest record; None when the game keeps no such column. Equal tokens and equal tuples: nothing moved."""
        state = self[0]
        return state.tables.column(state.latest, name)

    @property
    def changed(self) -> FrozenChanges:
        """What the latest datagram changed, as a read-only copy (`changes.FrozenChanges`)."""
        return self[0].changed.frozen()

    @property
    def aids(self) -> AidsView:
        """The racer's aids (bridge/state/aids), read-only."""
        return AidsView((self[0].aids,))

    def __repr__(self) -> str:
        return f"SessionView(uid={self[0].session_uid})"


_SESSION_ATTRIBUTES = (
    "session_uid", "packet_format", "game_version", "player_index", "secondary_player_index", "active",
    "active_set", "num_active_cars", "best_lap", "best_sectors", "fastest_lap_event", "session_started",
    "session_ended", "drs_enabled", "red_flag", "start_lights", "lights_out", "chequered_flag", "winner",
    "safety_car_event", "flashbacks", "buttons", "collisions", "lap_positions", "events", "event_seq",
    "packets_applied", "stale_dropped", "sessions_seen", "final_results", "speed_trap_best",
)  # fmt: skip
for _name in _SESSION_ATTRIBUTES:
    setattr(SessionView, _name, _forward(_name, lambda v: v[0]))
values.attach(SessionView, cars=False, view=True)


def readonly(state: SessionState) -> SessionView:
    """The view readers get of a `SessionState`."""
    return SessionView((state, 0))
