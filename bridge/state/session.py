"""The session state: the game-neutral containers, `SessionState` and `CarState`, and how a session starts.

`SessionState` is written only by `process_*` functions, synchronously, one datagram at a time, with no I/O: the
running game's writer (`bridge/games/<game>/writer.py`) folds its datagrams in and calls the neutral derivations
of `derive.py` (completed laps, bests, stints, pits, events) and `racelog.py` for what the game does not send.
Values the game sends as-is are read through the latest record of each kind (see `values.py`).

After each datagram, `state.changed` (a `changes.Changes`) holds the groups it changed: session-wide ones
(`CAR_TELEMETRY`, `SESSION`, `EVENTS`...) and per-car ones (`LAPS` of car 3), so readers do work proportional to
what changed.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Protocol

from bridge.state import changes as groups
from bridge.state import values
from bridge.state.aids.state import Aids, AidsSettings
from bridge.state.changes import Changes
from bridge.state.records import Classified, CompletedLap, Event, LapFacts, Penalty, PitStop, Stint
from bridge.state.values import NO_VALUES, ValueTable

NO_CAR = 255
MAX_EVENTS = 64
MAX_LAPS = 200
MAX_STINTS = 32  # per car, the latest kept: a race has a handful, a stream flipping compounds would have no end

REORDERED = "reordered"  # stale drop reason: an older packet of its kind arrived after a newer one
STALE_REASONS = (REORDERED,)


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
        self.history: Any = None  # the game's latest lap-history record of this car (the game's own type), if any
        self.tyre_sets: Any = None  # the game's latest tyre-sets record of this car (the game's own type), if any
        self.lap_facts: dict[int, LapFacts] = {}
        self.penalty_log: list[Penalty] = []
        self.pit_log: list[PitStop] = []
        self.pit_entry_lap: int | None = None
        self.top_speed_kph: float | None = None  # fastest over the completed laps
        self.lap_start_fuel: float | None = None  # the player's fuel and per-wheel wear when the lap began
        self.lap_start_wheel_wear: tuple[float, ...] | None = None

    if TYPE_CHECKING:
        # Game values (`lap`, `speed_kph`...) are properties the games register at run time (`values.attach`).
        def __getattr__(self, name: str) -> Any: ...

    @property
    def active(self) -> bool:
        return self.index in self._state.active_set

    @property
    def packet_format(self) -> int:
        return int(self._state.packet_format)

    @property
    def is_player(self) -> bool:
        return self.index == self._state.player_index

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


class SessionFacts:
    """The session's values that are immutable as they are (numbers, flags, tuples): the writer's `SessionState`
    keeps them and a reader's `SessionView` shows them unchanged, so both declare them from here."""

    __slots__ = ()

    session_uid: int
    packet_format: int  # the game's format or variant number (0: none)
    game_version: str
    player_index: int
    secondary_player_index: int
    active: tuple[int, ...]
    active_set: frozenset[int]
    num_active_cars: int
    best_lap: tuple[int, int, int] | None  # (time ms, car index, lap)
    fastest_lap_event: tuple[int, int] | None  # FTLP: (car index, ms)
    session_started: bool
    session_ended: bool
    drs_enabled: bool | None
    red_flag: bool
    start_lights: int
    lights_out: bool
    chequered_flag: bool
    winner: int | None
    safety_car_event: tuple[int, int] | None  # SCAR: (type, event type)
    flashbacks: int
    buttons: int
    collisions: int
    final_results: tuple[Classified, ...] | None  # the classification in neutral terms
    speed_trap_best: tuple[float, int] | None  # (km/h, car index): the session's fastest
    event_seq: int
    packets_applied: int
    sessions_seen: int


class SessionState(SessionFacts):
    """Everything known about the current session. Written only by `process_*`; `process_reset` sets (and
    resets) everything but the counters that run across sessions."""

    tables: ValueTable  # the running game's values
    latest: dict[Hashable, Any]  # the latest record of each kind, in the game's own record types
    frames: dict[Hashable, int]  # the frame of the latest record of each kind (the stale rule)
    cars: list[CarState]
    # Whole columns as last seen (one value per car slot): the writers compare them to find the cars that moved.
    result_column: tuple[int, ...]
    lap_column: tuple[int, ...]
    last_lap_column: tuple[int, ...]
    pit_timer_column: tuple[int, ...]
    visual_column: tuple[int, ...]
    age_column: tuple[int, ...]
    best_sectors: list[tuple[int, int] | None]  # (time ms, car index)
    lap_positions: dict[int, tuple[int, ...]]  # lap -> position of every car slot at its start
    classification: Any  # the game's final classification record (its own type)
    lap_top_speeds: list[float]  # per slot: the fastest speed sampled on the current lap
    lobby: Any  # the game's lobby record (its own type)
    time_trial: Any  # the game's time-trial record (its own type)
    aids: Aids  # the racer's aids (bridge/state/aids)

    def __init__(self, tables: ValueTable = NO_VALUES) -> None:
        """`tables`: the game expected to run, so readers know its fields before its first datagram."""
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.event_seq = 0
        self.packets_applied = 0
        self.stale_dropped: Counter[str] = Counter()  # stale packets dropped, by reason (STALE_REASONS)
        self.sessions_seen = 0
        self.changed = Changes()  # cleared by the writer per datagram, never replaced
        self.aids = Aids(AidsSettings())  # its settings and message sequence carry over from session to session
        process_reset(self, 0, 0, 0, tables)

    if TYPE_CHECKING:
        # Game values (`session_type_id`, `track_length_m`...) are properties the games register at run time.
        def __getattr__(self, name: str) -> Any: ...

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


def process_reset(state: SessionState, session_uid: int, packet_format: int, slots: int, tables: ValueTable) -> None:
    """Forget the previous session: a new session (or the first datagram) starts from nothing.

    `tables` are the running game's values; `packet_format` is its format or variant number (0: none)."""
    state.tables = tables
    state.session_uid = session_uid
    state.packet_format = packet_format
    state.game_version = ""
    state.player_index = NO_CAR
    state.secondary_player_index = NO_CAR
    state.latest = {}
    state.frames = {}
    state.cars = [CarState(state, i) for i in range(slots)]
    state.active = ()
    state.active_set = frozenset()
    state.num_active_cars = 0
    state.result_column = ()
    state.lap_column = ()
    state.last_lap_column = ()
    state.pit_timer_column = ()
    state.visual_column = ()
    state.age_column = ()
    state.best_lap = None
    state.best_sectors = [None, None, None]
    state.fastest_lap_event = None
    state.session_started = False
    state.session_ended = False
    state.drs_enabled = None
    state.red_flag = False
    state.start_lights = 0
    state.lights_out = False
    state.chequered_flag = False
    state.winner = None
    state.safety_car_event = None
    state.flashbacks = 0
    state.buttons = 0
    state.collisions = 0
    state.lap_positions = {}
    state.classification = None
    state.final_results = None
    state.speed_trap_best = None
    state.lap_top_speeds = []
    state.lobby = None
    state.time_trial = None
    state.aids = state.aids.next_session()  # racer's aids: the models start from nothing
    state.changed.add(groups.RESET)
    if session_uid:
        state.sessions_seen += 1


class _LapCount(Protocol):
    """A car as `laps_done` reads it: the writer's `CarState` or a reader's `CarView`."""

    @property
    def lap(self) -> int | None: ...

    @property
    def last_completed(self) -> CompletedLap | None: ...


def laps_done(car: _LapCount) -> int:
    """Laps the car has completed: the lap being driven minus one, or the last completed lap after the flag (the
    lap number does not move on then)."""
    done = (car.lap or 1) - 1
    last = car.last_completed
    return max(done, last.lap) if last is not None else done


def stint_laps_done(stint: Stint, done: int) -> int:
    """Laps completed in `stint` when the car has completed `done` laps (0 before its out-lap is complete)."""
    end = done if stint.end_lap is None else min(done, stint.end_lap)
    return max(0, end - stint.start_lap + 1)


def seconds_to_ms(seconds: float) -> int | None:
    """Whole milliseconds of a game time in seconds; None for NaN or infinity, which a datagram can carry."""
    return round(seconds * 1000) if math.isfinite(seconds * 1000) else None


__all__ = [
    "MAX_EVENTS", "MAX_LAPS", "MAX_STINTS", "NO_CAR", "REORDERED", "STALE_REASONS", "CarState", "CompletedLap",
    "Event", "SessionFacts", "SessionState", "Stint", "laps_done", "process_reset", "seconds_to_ms", "stint_laps_done",
]  # fmt: skip
