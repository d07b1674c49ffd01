"""The session state: game-neutral containers and the derivations that do not depend on a game.

`SessionState` is written only by `process_*` functions, synchronously, one datagram at a time, with no I/O: the
running game's writer (`bridge/games/<game>/writer.py`) folds its datagrams in, and calls the derivations here
for what the game does not send: completed laps with sector colours, overall and personal bests, tyre stints,
pit time lost, tyre wear per lap, events (the race log besides the laps: `racelog.py`). Values the game sends
as-is are read through the latest record of each kind (see `values.py`).

After each datagram, `state.changed` (a `changes.Changes`) holds the groups it changed: session-wide ones
(`CAR_TELEMETRY`, `SESSION`, `EVENTS`...) and per-car ones (`LAPS` of car 3), so readers do work proportional to
what changed.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from bridge.state import changes as groups
from bridge.state import values
from bridge.state.aids.hooks import process_aids_lap, process_aids_pit, process_aids_reset  # racer's aids
from bridge.state.changes import Changes
from bridge.state.racelog import MAX_LOG, Classified, LapFacts, Penalty, PitStop, process_lap_facts
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
    """Laps on one set of tyres. The in-lap is the last lap of the stint that ends (as the game's own stint history
    records it) and the next stint starts on the out-lap."""

    visual_id: int
    actual_id: int
    start_lap: int
    end_lap: int | None  # None while the stint is running
    fitted_age: int = 0  # the game's tyre age when the set was fitted (a used set is older than its stint)
    fitted_in_lap: bool = False  # fitted before the line on the in-lap: the game's age counts that line crossing


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
        "lap_facts",
        "lap_start_fuel",
        "lap_start_wheel_wear",
        "laps",
        "last_pit_lane_ms",
        "overtakes",
        "penalties_issued",
        "penalties_served",
        "penalty_log",
        "pit_entry_lap",
        "pit_log",
        "pit_time_lost_ms",
        "speed_trap_kph",
        "stints",
        "top_speed_kph",
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
        self.lap_facts: dict[int, LapFacts] = {}
        self.penalty_log: list[Penalty] = []
        self.pit_log: list[PitStop] = []
        self.pit_entry_lap: int | None = None
        self.top_speed_kph: float | None = None  # fastest over the completed laps
        self.lap_start_fuel: float | None = None  # the player's fuel and per-wheel wear when the lap began
        self.lap_start_wheel_wear: tuple[float, ...] | None = None

    @property
    def active(self) -> bool:
        return self.index in self._state.active_set

    @property
    def packet_format(self) -> int:
        return int(self._state.packet_format)

    @property
    def is_player(self) -> bool:
        return bool(self.index == self._state.player_index)

    @property
    def last_completed(self) -> CompletedLap | None:
        return self.laps[max(self.laps)] if self.laps else None

    @property
    def stint_laps(self) -> int | None:
        """Laps completed in the current stint (0 on the out-lap). The game's tyre age is this plus the age the set
        had when fitted, plus one when it was fitted before the line on the in-lap."""
        if not self.stints or self.lap is None:
            return None
        return stint_laps_done(self.stints[-1], laps_done(self))

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
    state.result_column: tuple[int, ...] = ()
    state.lap_column: tuple[int, ...] = ()
    state.last_lap_column: tuple[int, ...] = ()
    state.pit_timer_column: tuple[int, ...] = ()
    state.visual_column: tuple[int, ...] = ()
    state.age_column: tuple[int, ...] = ()
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
    state.final_results: tuple[Classified, ...] | None = None  # the classification in neutral terms
    state.speed_trap_best: tuple[float, int] | None = None  # (km/h, car index): the session's fastest
    state.lap_top_speeds: list[float] = []  # per slot: the fastest speed sampled on the current lap
    state.lobby: Any = None
    state.time_trial: Any = None
    process_aids_reset(state)  # racer's aids
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
        elif ms <= (car.best_sectors_ms[s] or ms):
            colours.append("green")
        else:
            colours.append("yellow")
    done = CompletedLap(lap.lap, lap.time_ms, lap.sectors_ms, lap.valid, tuple(colours))  # type: ignore[arg-type]
    car.laps[lap.lap] = done
    process_lap_facts(state, car, done)
    process_aids_lap(state, car, done)  # racer's aids
    state.changed.add_car(groups.LAPS, car.index)
    if car.stints:
        state.changed.add_car(groups.STINTS, car.index)  # the running stint is a lap longer


def process_rewind(state: SessionState, car: CarState, lap: int) -> None:
    """A flashback took the car back to `lap`: forget laps and stints from the future."""
    for n in [n for n in car.laps if n >= lap]:
        del car.laps[n]
    for n in [n for n in car.lap_facts if n >= lap]:
        del car.lap_facts[n]
    car.stints = [s for s in car.stints if s.start_lap <= lap]
    if car.stints and car.stints[-1].end_lap is not None:
        car.stints[-1] = replace(car.stints[-1], end_lap=None)
    car.pit_log = [stop for stop in car.pit_log if stop.lap < lap]
    process_recompute_bests(state)
    state.changed.add_car(groups.LAPS, car.index)
    state.changed.add_car(groups.STINTS, car.index)


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


def process_pit_entry(state: SessionState, i: int) -> None:
    """The car entered the pit lane: this lap is the in-lap of the stop."""
    car = state.cars[i]
    car.pit_entry_lap = car.lap
    process_aids_pit(state, i, True)  # racer's aids


def process_pit_exit(state: SessionState, i: int, pit_lane_ms: int, stop_ms: int | None = None) -> None:
    car = state.cars[i]
    car.last_pit_lane_ms = pit_lane_ms
    car.pit_time_lost_ms += pit_lane_ms
    lap = car.pit_entry_lap if car.pit_entry_lap is not None else car.lap
    if lap is not None:
        car.pit_log.append(PitStop(lap, pit_lane_ms, stop_ms or None))
        if len(car.pit_log) > MAX_LOG:
            del car.pit_log[0]
    process_aids_pit(state, i, False, pit_lane_ms)  # racer's aids
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
    """A set of tyres seen for the first time, or another set fitted. The in-lap (the lap the car entered the pit
    lane on, else the lap before this one) ends the old stint; the new one starts on the out-lap."""
    if not visual:
        return  # unused slot or restricted data
    lap = car.lap or 1
    if car.stints:
        last = car.stints[-1]
        if last.visual_id == visual and last.end_lap is None and age >= last.fitted_age + stint_laps_done(
            last, laps_done(car)
        ):
            return
        entry = car.pit_entry_lap
        in_lap = entry if entry is not None and 0 <= lap - entry <= 1 else lap - 1  # a recent pit entry, else
        in_lap = max(last.start_lap, min(in_lap, lap))  # tyres changed elsewhere (the garage) since the last lap
        car.stints[-1] = replace(last, end_lap=in_lap)
        stint = Stint(visual, actual, in_lap + 1, None, age, fitted_in_lap=lap == in_lap)
    else:
        start = max(1, lap - age)  # joined mid-stint: the set has been on since `age` laps ago
        stint = Stint(visual, actual, start, None, max(0, age - (lap - start)))
    car.stints.append(stint)
    if len(car.stints) > MAX_STINTS:
        del car.stints[0]
    state.changed.add_car(groups.STINTS, car.index)


def laps_done(car: Any) -> int:
    """Laps the car has completed: the lap being driven minus one, or the last completed lap after the flag (the
    lap number does not move on then)."""
    done = (car.lap or 1) - 1
    last = car.last_completed
    return max(done, last.lap) if last is not None else done


def stint_laps_done(stint: Stint, done: int) -> int:
    """Laps completed in `stint` when the car has completed `done` laps (0 before its out-lap is complete)."""
    end = done if stint.end_lap is None else min(done, stint.end_lap)
    return max(0, end - stint.start_lap + 1)


def process_game_event(state: SessionState, code: str, session_time: float, details: dict[str, Any]) -> None:
    """One event the game announced (a code and its details), kept for readers in order of arrival."""
    state.event_seq += 1
    state.events.append(Event(state.event_seq, code, session_time, MappingProxyType(details)))
    state.changed.add(groups.EVENTS)


def seconds_to_ms(seconds: float) -> int | None:
    """Whole milliseconds of a game time in seconds; None for NaN or infinity, which a datagram can carry."""
    return round(seconds * 1000) if math.isfinite(seconds * 1000) else None


__all__ = [
    "STALE_REASONS", "CarState", "CompletedLap", "Event", "SessionState", "Stint", "laps_done", "stint_laps_done",
]
