"""What one datagram changed: the change set a writer fills and every output reads.

A writer names what it changed by group: session-wide groups (`SESSION`, `CAR_TELEMETRY`: the latest record of
a kind, read for every car at once) and per-car groups (`LAPS` of car 3) kept as a set of car indices per group,
so a reader never parses a group name back into a car. The catalogue's fields name the group that makes them
worth reading again; a test ties every group a field names to what the game's writer emits.

One `Changes` object lives in each `SessionState` and is cleared, not replaced, per datagram: the 60 Hz path
allocates nothing for it. Readers get `frozen()` copies through the view, or the object itself right after the
writer returned (synchronously, before the next datagram).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Final

# Group names are plain strings so that logs and tests read well; code names them only by these constants.

# Session-wide groups the writers emit.
RESET: Final = "session.reset"  # a new session (or another game): everything anew
ACTIVE: Final = "active"  # the set of active cars
SESSION: Final = "session"  # the session record (track, weather, phase...)
EVENTS: Final = "events"  # a game event was appended to `state.events`
BESTS: Final = "bests"  # the session's best lap or a best sector
PARTICIPANTS: Final = "participants"
CLASSIFICATION: Final = "classification"
LOBBY: Final = "lobby"
TIME_TRIAL: Final = "time_trial"
LAP_POSITIONS: Final = "lap_positions"
CAR_TELEMETRY: Final = "cars.telemetry"  # the latest record of a per-car kind: every car's values at once
CAR_TELEMETRY_2: Final = "cars.telemetry2"
CAR_LAP: Final = "cars.lap"
CAR_STATUS: Final = "cars.status"
CAR_DAMAGE: Final = "cars.damage"
CAR_MOTION: Final = "cars.motion"
CAR_SETUP: Final = "cars.setup"
PLAYER_MOTION_EX: Final = "player.motion_ex"
AIDS_LAP: Final = "aids.lap"  # the racer's aids moved on a lap (fuel, tyres, battle: bridge/state/aids)
AIDS_TYRE_SETS: Final = "aids.tyre_sets"
FORECAST: Final = "forecast"
RACE_CONTROL: Final = "race_control"  # a race-control message was queued

# Groups outside the session state, marked by the bridge itself.
GAME: Final = "game"  # receiving flag, source address
BRIDGE: Final = "bridge"  # the bridge's own rates and health

# Per-car groups: which cars are kept with the group.
LAPS: Final = "laps"  # a completed lap (or laps forgotten by a rewind)
PIT: Final = "pit"  # a pit exit
STINTS: Final = "stints"
HISTORY: Final = "history"  # the game's lap-history record of the car
TYRE_SETS: Final = "tyre_sets"

SESSION_GROUPS: Final = frozenset({
    RESET, ACTIVE, SESSION, EVENTS, BESTS, PARTICIPANTS, CLASSIFICATION, LOBBY, TIME_TRIAL, LAP_POSITIONS,
    CAR_TELEMETRY, CAR_TELEMETRY_2, CAR_LAP, CAR_STATUS, CAR_DAMAGE, CAR_MOTION, CAR_SETUP, PLAYER_MOTION_EX,
    AIDS_LAP, AIDS_TYRE_SETS, FORECAST, RACE_CONTROL,
})
BRIDGE_GROUPS: Final = frozenset({GAME, BRIDGE})
CAR_GROUPS: Final = frozenset({LAPS, PIT, STINTS, HISTORY, TYRE_SETS})
ALL_GROUPS: Final = SESSION_GROUPS | BRIDGE_GROUPS | CAR_GROUPS


class Changes:
    """Session-wide groups (`groups`) and per-car groups (`cars`: group -> car indices) changed by one datagram."""

    __slots__ = ("cars", "groups")

    def __init__(self, groups: Iterable[str] = ()) -> None:
        self.groups: set[str] = set(groups)
        self.cars: dict[str, set[int]] = {}  # only groups with at least one car

    @classmethod
    def of(cls, *groups: str) -> Changes:
        """A change set of session-wide groups (the bridge's own marks: `GAME`, `BRIDGE`)."""
        return cls(groups)

    def add(self, group: str) -> None:
        self.groups.add(group)

    def update(self, groups: Iterable[str]) -> None:
        self.groups.update(groups)

    def add_car(self, group: str, car: int) -> None:
        cars = self.cars.get(group)
        if cars is None:
            self.cars[group] = {car}
        else:
            cars.add(car)

    def car_changed(self, group: str, car: int) -> bool:
        cars = self.cars.get(group)
        return cars is not None and car in cars

    def clear(self) -> None:
        self.groups.clear()
        self.cars.clear()

    def __contains__(self, group: object) -> bool:
        """A session-wide group, or a per-car group for any car."""
        return group in self.groups or group in self.cars

    def __bool__(self) -> bool:
        return bool(self.groups) or bool(self.cars)

    def names(self) -> Iterator[str]:
        """Every group changed, session-wide and per-car alike."""
        yield from self.groups
        yield from self.cars

    def frozen(self) -> FrozenChanges:
        """An immutable copy, for readers that keep it or must not be able to write it."""
        return FrozenChanges(
            frozenset(self.groups), MappingProxyType({g: frozenset(c) for g, c in self.cars.items()})
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Changes, FrozenChanges)):
            return set(self.groups) == set(other.groups) and {g: set(c) for g, c in self.cars.items()} == {
                g: set(c) for g, c in other.cars.items()
            }
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        cars = ", ".join(f"{g}{sorted(c)}" for g, c in sorted(self.cars.items()))
        return f"Changes({sorted(self.groups)}{', ' + cars if cars else ''})"


class FrozenChanges:
    """A read-only copy of a `Changes`."""

    __slots__ = ("cars", "groups")

    def __init__(self, groups: frozenset[str], cars: Mapping[str, frozenset[int]]) -> None:
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "cars", cars)

    groups: frozenset[str]
    cars: Mapping[str, frozenset[int]]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __contains__(self, group: object) -> bool:
        return group in self.groups or group in self.cars

    def __bool__(self) -> bool:
        return bool(self.groups) or bool(self.cars)

    def car_changed(self, group: str, car: int) -> bool:
        cars = self.cars.get(group)
        return cars is not None and car in cars

    def names(self) -> Iterator[str]:
        yield from self.groups
        yield from self.cars


__all__ = [
    "ALL_GROUPS",
    "BRIDGE_GROUPS",
    "CAR_GROUPS",
    "SESSION_GROUPS",
    "Changes",
    "FrozenChanges",
]
