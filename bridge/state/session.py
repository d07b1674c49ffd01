"""The session state: game-neutral containers and the derivations that do not depend on a game.

`SessionState` is written only by `process_*` functions, synchronously, one datagram at a time, with no I/O: the
running game's writer (`bridge/games/<game>/writer.py`) folds its datagrams in, and calls the derivations here
for what the game does not send: completed laps with sector colours, overall and personal bests, tyre stints,
pit time lost, tyre wear per lap, events. Values the game sends as-is are read through the latest record of each
kind (see `values.py`).

After each datagram, `state.changed` (a `changes.Changes`) holds the groups it changed: session-wide ones
(`CAR_TELEMETRY`, `SESSION`, `EVENTS`...) and per-car ones (`LAPS` of car 3), so readers do work proportional to
what changed.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bridge.state import changes as groups
from bridge.state import values
from bridge.state.changes import Changes
from bridge.state.values import NO_VALUES, ValueTable

NO_CAR = 255
MAX_EVENTS = 64
MAX_LAPS = 200
MAX_STINTS = 32  # per car, the latest kept: a race has a handful, a stream flipping compounds would have no end

REORDERED = "reordered"  # stale drop reason: an older packet of its kind arrived after a newer one
STALE_REASONS = (REORDERED,)

@dataclass(frozen=True, slots=True)
class CompletedLap:
    lap: int
    time_ms: int
    sectors_ms: tuple[int, int, int]
    valid: bool
    sector_colours: tuple[str, str, str] = ("", "", "")  # purple (overall best), green (personal best), yellow


@dataclass(frozen=True, slots=True)
class Stint:
    visual_id: int
    actual_id: int
    start_lap: int
    end_lap: int | None  # None while the stint is running


@dataclass(frozen=True, slots=True)
class Event:
    seq: int  # increases by one per event in this bridge's lifetime; readers keep their own cursor
    code: str
    session_time: float
    details: Mapping[str, Any]


class CarState:
    """One car slot. Game values are properties reading the latest packets; the rest is kept by the writer."""

    __slots__ = (
        "_state",
        "best_lap_ms",
        "best_lap_num",
        "best_sectors_ms",
        "collisions",
        "history",
        "index",
        "laps",
        "last_pit_lane_ms",
        "overtakes",
        "penalties_issued",
        "penalties_served",
        "pit_time_lost_ms",
        "speed_trap_kph",
        "stints",
        "tyre_sets",
        "wear_at_lap_start",
        "wear_rate_pct_per_lap",
    )

    def __init__(self, state: SessionState, index: int) -> None:
        self._state = state
        self.index = index
        self.laps: dict[int, CompletedLap] = {}
        self.best_lap_ms: int | None = None
        self.best_lap_num: int | None = None
        self.best_sectors_ms: list[int | None] = [None, None, None]
        self.stints: list[Stint] = []
        self.pit_time_lost_ms = 0
        self.last_pit_lane_ms = 0
        self.wear_rate_pct_per_lap: float | None = None
        self.wear_at_lap_start: float | None = None
        self.penalties_issued = 0
        self.penalties_served = 0
        self.overtakes = 0
        self.collisions = 0
        self.speed_trap_kph: float | None = None
        self.history: Any = None  # the game's latest lap-history record of this car, if it sends one
        self.tyre_sets: Any = None  # the game's latest tyre-sets record of this car, if it sends one

    @property
    def active(self) -> bool:
        return self.index in self._state.active_set

    @property
    def packet_format(self) -> int:
        return self._state.packet_format

    @property
    def is_player(self) -> bool:
        return self.index == self._state.player_index

    @property
    def last_completed(self) -> CompletedLap | None:
        return self.laps[max(self.laps)] if self.laps else None

    @property
    def stint_laps(self) -> int | None:
        if not self.stints or self.lap is None:
            return None
        return max(0, self.lap - self.stints[-1].start_lap)

    def value(self, name: str) -> Any:
        return getattr(self, name)

    def __repr__(self) -> str:
        return f"<CarState {self.index} active={self.active}>"


values.attach(CarState, cars=True, view=False)


class SessionState:
    """Everything known about the current session. Written only by `process_*`."""

    def __init__(self, tables: ValueTable = NO_VALUES) -> None:
        """`tables`: the game expected to run, so readers know its fields before its first datagram."""
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.event_seq = 0
        self.packets_applied = 0
        self.stale_dropped: Counter[str] = Counter()  # stale packets dropped, by reason (STALE_REASONS)
        self.sessions_seen = 0
        self.changed = Changes()  # cleared by the writer per datagram, never replaced
        process_reset(self, 0, 0, 0, tables)

    @property
    def player(self) -> CarState | None:
        i = self.player_index
        return self.cars[i] if i < len(self.cars) else None

    @property
    def secondary_player(self) -> CarState | None:
        i = self.secondary_player_index
        return self.cars[i] if i < len(self.cars) else None

    @property
    def active_cars(self) -> list[CarState]:
        return [self.cars[i] for i in self.active]


values.attach(SessionState, cars=False, view=False)


# ----------------------------------------------------------------------------------------------------------
# The derivations every game's writer shares.


def process_reset(state: SessionState, session_uid: int, packet_format: int, slots: int, tables: ValueTable) -> None:
    """Forget the previous session: a new session (or the first datagram) starts from nothing.

    `tables` are the running game's values; `packet_format` is its format or variant number (0: none)."""
    state.tables = tables
    state.session_uid = session_uid
    state.packet_format = packet_format
    state.game_version = ""
    state.player_index = NO_CAR
    state.secondary_player_index = NO_CAR
    state.latest: dict[Any, Any] = {}
    state.frames: dict[Any, int] = {}
    state.cars = [CarState(state, i) for i in range(slots)]
    state.active: tuple[int, ...] = ()
    state.active_set: frozenset[int] = frozenset()
    state.num_active_cars = 0
    state.result_column: tuple = ()
    state.lap_column: tuple = ()
    state.last_lap_column: tuple = ()
    state.pit_timer_column: tuple = ()
    state.visual_column: tuple = ()
    state.age_column: tuple = ()
    state.best_lap: tuple[int, int, int] | None = None  # (time ms, car index, lap)
    state.best_sectors: list[tuple[int, int] | None] = [None, None, None]  # (time ms, car index)
    state.fastest_lap_event: tuple[int, int] | None = None  # FTLP: (car index, ms)
    state.session_started = False
    state.session_ended = False
    state.drs_enabled: bool | None = None
    state.red_flag = False
    state.start_lights = 0
    state.lights_out = False
    state.chequered_flag = False
    state.winner: int | None = None
    state.safety_car_event: tuple[int, int] | None = None  # SCAR: (type, event type)
    state.flashbacks = 0
    state.buttons = 0
    state.collisions = 0
    state.lap_positions: dict[int, tuple[int, ...]] = {}
    state.classification: Any = None
    state.lobby: Any = None
    state.time_trial: Any = None
    state.changed.add(groups.RESET)
    if session_uid:
        state.sessions_seen += 1


def process_completed_lap(state: SessionState, car: CarState, lap: CompletedLap) -> None:
    """Record a lap, update personal and overall bests, and colour its sectors."""
    if len(car.laps) >= MAX_LAPS:
        return
    colours = []
    if lap.valid:
        if car.best_lap_ms is None or lap.time_ms < car.best_lap_ms:
            car.best_lap_ms, car.best_lap_num = lap.time_ms, lap.lap
        if state.best_lap is None or lap.time_ms < state.best_lap[0]:
            state.best_lap = (lap.time_ms, car.index, lap.lap)
            state.changed.add(groups.BESTS)
    for s, ms in enumerate(lap.sectors_ms):
        if not ms or not lap.valid:
            colours.append("")
            continue
        personal = car.best_sectors_ms[s]
        if personal is None or ms < personal:
            car.best_sectors_ms[s] = ms
        overall = state.best_sectors[s]
        if overall is None or ms <= overall[0]:
            state.best_sectors[s] = (ms, car.index)
            state.changed.add(groups.BESTS)
            colours.append("purple")
        elif ms <= car.best_sectors_ms[s]:
            colours.append("green")
        else:
            colours.append("yellow")
    car.laps[lap.lap] = CompletedLap(lap.lap, lap.time_ms, lap.sectors_ms, lap.valid, tuple(colours))
    state.changed.add_car(groups.LAPS, car.index)


def process_rewind(state: SessionState, car: CarState, lap: int) -> None:
    """A flashback took the car back to `lap`: forget laps and stints from the future."""
    for n in [n for n in car.laps if n >= lap]:
        del car.laps[n]
    car.stints = [s for s in car.stints if s.start_lap <= lap]
    if car.stints and car.stints[-1].end_lap is not None:
        last = car.stints[-1]
        car.stints[-1] = Stint(last.visual_id, last.actual_id, last.start_lap, None)
    process_recompute_bests(state)
    state.changed.add_car(groups.LAPS, car.index)


def process_recompute_bests(state: SessionState) -> None:
    state.best_lap = None
    state.best_sectors = [None, None, None]
    for car in state.cars:
        car.best_lap_ms = car.best_lap_num = None
        car.best_sectors_ms = [None, None, None]
        for lap in car.laps.values():
            if not lap.valid:
                continue
            if car.best_lap_ms is None or lap.time_ms < car.best_lap_ms:
                car.best_lap_ms, car.best_lap_num = lap.time_ms, lap.lap
            for s, ms in enumerate(lap.sectors_ms):
                if ms and (car.best_sectors_ms[s] is None or ms < car.best_sectors_ms[s]):
                    car.best_sectors_ms[s] = ms
        if car.best_lap_ms is not None and (state.best_lap is None or car.best_lap_ms < state.best_lap[0]):
            state.best_lap = (car.best_lap_ms, car.index, car.best_lap_num)
        for s, ms in enumerate(car.best_sectors_ms):
            best = state.best_sectors[s]
            if ms is not None and (best is None or ms < best[0]):
                state.best_sectors[s] = (ms, car.index)
    state.changed.add(groups.BESTS)


def process_pit_exit(state: SessionState, i: int, pit_lane_ms: int) -> None:
    car = state.cars[i]
    car.last_pit_lane_ms = pit_lane_ms
    car.pit_time_lost_ms += pit_lane_ms
    state.changed.add_car(groups.PIT, i)


def process_tyre_wear_rate(state: SessionState, car: CarState) -> None:
    wear = car.tyre_wear_pct
    if not wear:
        return
    average = sum(wear) / len(wear)
    if car.wear_at_lap_start is not None and average >= car.wear_at_lap_start:
        car.wear_rate_pct_per_lap = average - car.wear_at_lap_start
    car.wear_at_lap_start = average


def process_stint_change(state: SessionState, car: CarState, visual: int, actual: int, age: int) -> None:
    if not visual:
        return  # unused slot or restricted data
    lap = car.lap or 1
    start = max(1, lap - age)
    if car.stints:
        last = car.stints[-1]
        if last.visual_id == visual and last.end_lap is None and age >= lap - last.start_lap:
            return
        car.stints[-1] = Stint(last.visual_id, last.actual_id, last.start_lap, max(last.start_lap, lap))
        start = lap
    car.stints.append(Stint(visual, actual, start, None))
    if len(car.stints) > MAX_STINTS:
        del car.stints[0]
    state.changed.add_car(groups.STINTS, car.index)


def process_game_event(state: SessionState, code: str, session_time: float, details: dict[str, Any]) -> None:
    """One event the game announced (a code and its details), kept for readers in order of arrival."""
    state.event_seq += 1
    state.events.append(Event(state.event_seq, code, session_time, MappingProxyType(details)))
    state.changed.add(groups.EVENTS)


def seconds_to_ms(seconds: float) -> int | None:
    """Whole milliseconds of a game time in seconds; None for NaN or infinity, which a datagram can carry."""
    return round(seconds * 1000) if math.isfinite(seconds * 1000) else None


__all__ = ["STALE_REASONS", "CarState", "CompletedLap", "Event", "SessionState", "Stint"]
