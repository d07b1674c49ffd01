"""The session state and its single writer.

`SessionState` is written only by the `process_*` functions below, synchronously, one packet at a time, with no
I/O. Values the game sends as-is are read through the latest packet of each type (see `schema.py`); the writer
maintains what the game does not send: which cars are active, completed laps with sector colours, overall and
personal bests, tyre stints, pit time lost, tyre wear per lap, lap positions, events and phases.

After each packet, `state.changed` holds the field groups that packet changed (`cars.telemetry`,
`cars[3].laps`, `session`, `events`...), so readers do work proportional to what changed.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from types import MappingProxyType
from collections.abc import Mapping
from typing import Any

from bridge.games.f1.codec import EventPacket, Packet
from bridge.games.f1.layouts import PacketLayout
from bridge.state.schema import (
    CAR,
    CAR_DAMAGE,
    CAR_SETUPS,
    CAR_STATUS,
    CAR_TELEMETRY,
    CAR_TELEMETRY_2,
    EVENT,
    HISTORY,
    FINAL_CLASSIFICATION,
    LAP_DATA,
    LAP_POSITIONS,
    LOBBY_INFO,
    MOTION,
    MOTION_EX,
    PARTICIPANTS,
    SESSION,
    SESSION_HISTORY,
    TIME_TRIAL,
    TYRE_SETS,
    add_game_properties,
)

NO_CAR = 255
ACTIVE_RESULT_STATUS = 2  # resultStatus: 0 invalid, 1 inactive (slot unused), 2+ a car that is or was racing
MAX_EVENTS = 64
MAX_LAPS = 200
MAX_STINTS = 32  # per car, the latest kept: a race has a handful, a stream flipping compounds would have no end

# The stale rule. Reordering on a LAN moves a datagram by milliseconds, so a packet is stale only when its frame is
# behind the latest of its kind by less than this window (10 s at the game's 60 Hz). A frame further behind is a
# new timeline (a restart that kept the session UID, or the real stream after one spoofed or corrupt frame far
# ahead): it is taken and becomes the new reference. So no single datagram can silence a packet kind for the rest
# of the session; one far-ahead frame costs at most the one packet it carried.
STALE_WINDOW_FRAMES = 600
REORDERED = "reordered"  # stale drop reason: an older packet of its kind arrived after a newer one
STALE_REASONS = (REORDERED,)

# Packet types whose every packet carries the full picture: an older one arriving late is stale.
_ONE_PER_FRAME = frozenset(
    {MOTION, SESSION, LAP_DATA, PARTICIPANTS, CAR_SETUPS, CAR_TELEMETRY, CAR_STATUS, CAR_DAMAGE, MOTION_EX,
     LOBBY_INFO, TIME_TRIAL, CAR_TELEMETRY_2}
)


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
        "index",
        "laps",
        "best_lap_ms",
        "best_lap_num",
        "best_sectors_ms",
        "stints",
        "pit_time_lost_ms",
        "last_pit_lane_ms",
        "wear_rate_pct_per_lap",
        "wear_at_lap_start",
        "penalties_issued",
        "penalties_served",
        "overtakes",
        "collisions",
        "speed_trap_kph",
        "history",
        "tyre_sets",
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
        self.history: Packet | None = None  # latest SessionHistory of this car
        self.tyre_sets: Packet | None = None  # latest TyreSets of this car

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


add_game_properties(CarState, view=False, cars=True)


class SessionState:
    """Everything known about the current session. Written only by `process_*`."""

    def __init__(self) -> None:
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self.event_seq = 0
        self.packets_applied = 0
        self.stale_dropped: Counter[str] = Counter()  # stale packets dropped, by reason (STALE_REASONS)
        self.sessions_seen = 0
        self.changed: set[str] = set()
        process_reset(self, 0, 2025, 22)

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


add_game_properties(SessionState, view=False, cars=False)


# ----------------------------------------------------------------------------------------------------------
# Columns: one C-level call returns a field for every car slot, so the writer compares whole columns and
# does Python work only for the cars whose value moved.


class _Columns:
    __slots__ = ("lap", "last_lap", "result", "pit_timer", "pit_lane_ms", "visual", "actual", "age")

    def __init__(self, lap_layout: PacketLayout | None = None, status_layout: PacketLayout | None = None) -> None:
        if lap_layout is not None:
            self.lap = lap_layout.column("lapData", "currentLapNum")
            self.last_lap = lap_layout.column("lapData", "lastLapTimeInMS")
            self.result = lap_layout.column("lapData", "resultStatus")
            self.pit_timer = lap_layout.column("lapData", "pitLaneTimerActive")
            self.pit_lane_ms = lap_layout.column("lapData", "pitLaneTimeInLaneInMS")
        if status_layout is not None:
            self.visual = status_layout.column("carStatusData", "visualTyreCompound")
            self.actual = status_layout.column("carStatusData", "actualTyreCompound")
            self.age = status_layout.column("carStatusData", "tyresAgeLaps")


_COLUMNS: dict[tuple[int, int], _Columns] = {}


def _columns(layout: PacketLayout) -> _Columns:
    key = (layout.format, layout.packet_id)
    cols = _COLUMNS.get(key)
    if cols is None:
        if layout.packet_id == LAP_DATA:
            cols = _Columns(lap_layout=layout)
        else:
            cols = _Columns(status_layout=layout)
        _COLUMNS[key] = cols
    return cols


# ----------------------------------------------------------------------------------------------------------
# The writer.


def process_reset(state: SessionState, session_uid: int, packet_format: int, slots: int) -> None:
    """Forget the previous session: a new session UID (or the first packet) starts from nothing."""
    state.session_uid = session_uid
    state.packet_format = packet_format
    state.game_version = ""
    state.player_index = NO_CAR
    state.secondary_player_index = NO_CAR
    state.latest: dict[int, Packet] = {}
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
    state.classification: Packet | None = None
    state.lobby: Packet | None = None
    state.time_trial: Packet | None = None
    state.changed.add("session.reset")
    if session_uid:
        state.sessions_seen += 1


def process_packet(state: SessionState, packet: Packet) -> set[str]:
    """Fold one decoded packet into the state; returns (and leaves in `state.changed`) the groups it changed."""
    state.changed = changed = set()
    uid = packet.session_uid
    slots = packet.layout.num_cars
    # UID 0 comes from menus and lobbies (and the player's last SessionHistory before SEND): it never resets.
    if (uid and uid != state.session_uid) or slots != len(state.cars) or packet.packet_format != state.packet_format:
        process_reset(state, uid or state.session_uid, packet.packet_format, slots)
    pid = packet.packet_id
    frame = packet.overall_frame
    if pid in _ONE_PER_FRAME:
        key: Any = pid
    elif pid in (SESSION_HISTORY, TYRE_SETS):
        # One car per packet (carIdx follows the header); a slot the format lacks is ignored by its processor.
        key = (pid, packet.values[12]) if packet.values[12] < slots else None
    elif pid == LAP_POSITIONS:
        key = (pid, packet.values[13])  # lapStart: a uint8, so at most 256 keys
    else:
        key = None
    if key is not None:
        latest = state.frames.get(key)
        if latest is not None and latest - STALE_WINDOW_FRAMES < frame < latest:
            state.stale_dropped[REORDERED] += 1
            return changed
        state.frames[key] = frame
    state.player_index = packet.player_car_index
    state.secondary_player_index = packet.secondary_player_car_index
    state.game_version = packet.game_version
    state.packets_applied += 1
    _PROCESSORS[pid](state, packet)
    return changed


# Packets kept as the latest of their kind, read through accessors, and the group each one changes.
_STREAM_GROUPS = {
    MOTION: "cars.motion",
    CAR_SETUPS: "cars.setup",
    CAR_TELEMETRY: "cars.telemetry",
    CAR_DAMAGE: "cars.damage",
    MOTION_EX: "player.motion_ex",
    CAR_TELEMETRY_2: "cars.telemetry2",
}


def process_stream(state: SessionState, packet: Packet) -> None:
    """A per-frame packet with nothing to derive: it becomes the latest of its kind."""
    pid = packet.packet_id
    state.latest[pid] = packet
    state.changed.add(_STREAM_GROUPS[pid])


def process_session(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(SESSION)
    state.latest[SESSION] = packet
    if previous is None or previous.values[12:] != packet.values[12:]:
        state.changed.add("session")


def process_lap_data(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(LAP_DATA)
    state.latest[LAP_DATA] = packet
    changed = state.changed
    changed.add("cars.lap")
    values = packet.values
    cols = _columns(packet.layout)
    result = cols.result(values)
    if result != state.result_column:
        state.result_column = result
        process_active_cars(state)
    laps = cols.lap(values)
    last_laps = cols.last_lap(values)
    if previous is not None and (laps != state.lap_column or last_laps != state.last_lap_column):
        old_laps, old_last = state.lap_column, state.last_lap_column
        for i in state.active:
            if laps[i] != old_laps[i] or last_laps[i] != old_last[i]:
                process_lap_progress(state, i, old_laps[i], laps[i], previous, packet)
    state.lap_column = laps
    state.last_lap_column = last_laps
    timers = cols.pit_timer(values)
    if previous is not None and timers != state.pit_timer_column and state.pit_timer_column:
        pit_ms = _columns(previous.layout).pit_lane_ms(previous.values)
        for i, (was, now) in enumerate(zip(state.pit_timer_column, timers)):
            if was and not now:
                process_pit_exit(state, i, pit_ms[i])
    state.pit_timer_column = timers


def process_active_cars(state: SessionState) -> None:
    """Active cars: resultStatus says the slot holds a car (LapData), else the first numActiveCars slots."""
    if state.result_column:
        active = tuple(i for i, status in enumerate(state.result_column) if status >= ACTIVE_RESULT_STATUS)
    else:
        active = tuple(range(min(state.num_active_cars, len(state.cars))))
    if active != state.active:
        state.active = active
        state.active_set = frozenset(active)
        state.changed.add("active")


def process_lap_progress(state: SessionState, i: int, old_lap: int, new_lap: int, before: Packet, after: Packet) -> None:
    car = state.cars[i]
    if new_lap < old_lap:
        process_rewind(state, car, new_lap)
        return
    completed = old_lap if new_lap > old_lap else new_lap  # at the flag the lap number does not move
    acc_after = CAR.for_layout(after.layout)
    time_ms = acc_after["last_lap_ms"](after.values, i)
    if completed < 1 or time_ms <= 0 or completed in car.laps:
        return
    acc_before = CAR.for_layout(before.layout)
    s1 = acc_before["sector1_ms"](before.values, i)
    s2 = acc_before["sector2_ms"](before.values, i)
    s3 = time_ms - s1 - s2 if s1 and s2 and time_ms > s1 + s2 else 0
    valid = not acc_before["lap_invalid"](before.values, i)
    process_completed_lap(state, car, CompletedLap(completed, time_ms, (s1, s2, s3), valid))
    process_tyre_wear_rate(state, car)


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
            state.changed.add("bests")
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
            state.changed.add("bests")
            colours.append("purple")
        elif ms <= car.best_sectors_ms[s]:
            colours.append("green")
        else:
            colours.append("yellow")
    car.laps[lap.lap] = CompletedLap(lap.lap, lap.time_ms, lap.sectors_ms, lap.valid, tuple(colours))
    state.changed.add(f"cars[{car.index}].laps")


def process_rewind(state: SessionState, car: CarState, lap: int) -> None:
    """A flashback took the car back to `lap`: forget laps and stints from the future."""
    for n in [n for n in car.laps if n >= lap]:
        del car.laps[n]
    car.stints = [s for s in car.stints if s.start_lap <= lap]
    if car.stints and car.stints[-1].end_lap is not None:
        last = car.stints[-1]
        car.stints[-1] = Stint(last.visual_id, last.actual_id, last.start_lap, None)
    process_recompute_bests(state)
    state.changed.add(f"cars[{car.index}].laps")


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
    state.changed.add("bests")


def process_pit_exit(state: SessionState, i: int, pit_lane_ms: int) -> None:
    car = state.cars[i]
    car.last_pit_lane_ms = pit_lane_ms
    car.pit_time_lost_ms += pit_lane_ms
    state.changed.add(f"cars[{i}].pit")


def process_tyre_wear_rate(state: SessionState, car: CarState) -> None:
    wear = car.tyre_wear_pct
    if not wear:
        return
    average = sum(wear) / len(wear)
    if car.wear_at_lap_start is not None and average >= car.wear_at_lap_start:
        car.wear_rate_pct_per_lap = average - car.wear_at_lap_start
    car.wear_at_lap_start = average


def process_participants(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(PARTICIPANTS)
    state.latest[PARTICIPANTS] = packet
    state.num_active_cars = packet.values[12]
    if previous is None or previous.values[12:] != packet.values[12:]:
        state.changed.add("participants")
    if not state.result_column:
        process_active_cars(state)


def process_car_status(state: SessionState, packet: Packet) -> None:
    state.latest[CAR_STATUS] = packet
    state.changed.add("cars.status")
    cols = _columns(packet.layout)
    values = packet.values
    visual = cols.visual(values)
    age = cols.age(values)
    if visual != state.visual_column or age != state.age_column:
        old_visual, old_age = state.visual_column or visual, state.age_column or age
        first = not state.visual_column
        actual = cols.actual(values)
        for i in state.active:
            if first or visual[i] != old_visual[i] or age[i] < old_age[i]:
                process_stint_change(state, state.cars[i], visual[i], actual[i], age[i])
        state.visual_column = visual
        state.age_column = age


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
    state.changed.add(f"cars[{car.index}].stints")


def process_final_classification(state: SessionState, packet: Packet) -> None:
    # Re-sent every 5 s on the results screen: only a different classification is a change.
    if state.classification is None or state.classification.values[12:] != packet.values[12:]:
        state.classification = packet
        state.changed.add("classification")


def process_lobby_info(state: SessionState, packet: Packet) -> None:
    state.lobby = packet
    state.changed.add("lobby")


def process_time_trial(state: SessionState, packet: Packet) -> None:
    state.time_trial = packet
    state.changed.add("time_trial")


def process_session_history(state: SessionState, packet: Packet) -> None:
    """One car's lap history: the game's own record of completed laps, authoritative over what we inferred."""
    i = packet.values[12]
    if i >= len(state.cars):
        return
    car = state.cars[i]
    car.history = packet
    state.changed.add(f"cars[{i}].history")
    rows = HISTORY.for_layout(packet.layout)
    time_ms, sector1, sector2, sector3, flags = (
        rows["time_ms"], rows["sector1_ms"], rows["sector2_ms"], rows["sector3_ms"], rows["valid_flags"]
    )
    values = packet.values
    changed_laps = False
    for n in range(packet.count("numLaps")):
        lap_ms = time_ms(values, n)
        if lap_ms <= 0:
            continue  # the current, unfinished lap
        sectors = (sector1(values, n), sector2(values, n), sector3(values, n))
        valid = bool(flags(values, n) & 0x01)
        known = car.laps.get(n + 1)
        if known is None or (known.time_ms, known.sectors_ms, known.valid) != (lap_ms, sectors, valid):
            colours = known.sector_colours if known else ("", "", "")
            car.laps[n + 1] = CompletedLap(n + 1, lap_ms, sectors, valid, colours)
            changed_laps = True
    if changed_laps:
        process_recompute_bests(state)
        state.changed.add(f"cars[{i}].laps")


def process_tyre_sets(state: SessionState, packet: Packet) -> None:
    i = packet.values[12]
    if i < len(state.cars):
        state.cars[i].tyre_sets = packet
        state.changed.add(f"cars[{i}].tyre_sets")


def process_lap_positions(state: SessionState, packet: Packet) -> None:
    """Positions at the start of each lap; races over 50 laps come as two packets, merged by `lapStart`."""
    num_laps = min(packet.values[12], 50)
    lap_start = packet.values[13]
    cars = packet.layout.num_cars
    grid = packet.values[14:]
    for row in range(num_laps):
        state.lap_positions[lap_start + row + 1] = tuple(grid[row * cars : (row + 1) * cars])
    state.changed.add("lap_positions")


def process_event(state: SessionState, packet: EventPacket) -> None:
    details = packet.details()
    state.event_seq += 1
    state.events.append(Event(state.event_seq, packet.code, packet.session_time, MappingProxyType(details)))
    state.changed.add("events")
    handler = _EVENT_PROCESSORS.get(packet.code)
    if handler is not None:
        handler(state, details)


def _car(state: SessionState, details: dict[str, Any], key: str = "vehicle_idx") -> CarState | None:
    i = details.get(key, NO_CAR)
    return state.cars[i] if i < len(state.cars) else None


def process_event_session_started(state: SessionState, details: dict[str, Any]) -> None:
    state.session_started, state.session_ended = True, False


def process_event_session_ended(state: SessionState, details: dict[str, Any]) -> None:
    state.session_ended = True


def seconds_to_ms(seconds: float) -> int | None:
    """Whole milliseconds of a game time in seconds; None for NaN or infinity, which a datagram can carry."""
    return round(seconds * 1000) if math.isfinite(seconds * 1000) else None


def process_event_fastest_lap(state: SessionState, details: dict[str, Any]) -> None:
    ms = seconds_to_ms(details["lap_time"])
    state.fastest_lap_event = None if ms is None else (details["vehicle_idx"], ms)


def process_event_drs(state: SessionState, details: dict[str, Any], enabled: bool) -> None:
    state.drs_enabled = enabled


def process_event_chequered_flag(state: SessionState, details: dict[str, Any]) -> None:
    state.chequered_flag = True


def process_event_race_winner(state: SessionState, details: dict[str, Any]) -> None:
    state.winner = details["vehicle_idx"]


def process_event_penalty(state: SessionState, details: dict[str, Any]) -> None:
    car = _car(state, details)
    if car is not None:
        car.penalties_issued += 1


def process_event_penalty_served(state: SessionState, details: dict[str, Any]) -> None:
    car = _car(state, details)
    if car is not None:
        car.penalties_served += 1


def process_event_speed_trap(state: SessionState, details: dict[str, Any]) -> None:
    car = _car(state, details)
    if car is not None:
        car.speed_trap_kph = details["speed"]


def process_event_start_lights(state: SessionState, details: dict[str, Any]) -> None:
    state.start_lights = details["num_lights"]
    state.lights_out = False


def process_event_lights_out(state: SessionState, details: dict[str, Any]) -> None:
    state.start_lights = 0
    state.lights_out = True
    state.red_flag = False


def process_event_flashback(state: SessionState, details: dict[str, Any]) -> None:
    state.flashbacks += 1


def process_event_buttons(state: SessionState, details: dict[str, Any]) -> None:
    state.buttons = details["button_status"]


def process_event_red_flag(state: SessionState, details: dict[str, Any]) -> None:
    state.red_flag = True


def process_event_overtake(state: SessionState, details: dict[str, Any]) -> None:
    car = _car(state, details, "overtaking_vehicle_idx")
    if car is not None:
        car.overtakes += 1


def process_event_safety_car(state: SessionState, details: dict[str, Any]) -> None:
    state.safety_car_event = (details["safety_car_type"], details["event_type"])


def process_event_collision(state: SessionState, details: dict[str, Any]) -> None:
    state.collisions += 1
    for key in ("vehicle1_idx", "vehicle2_idx"):
        car = _car(state, details, key)
        if car is not None:
            car.collisions += 1


_EVENT_PROCESSORS = {
    "SSTA": process_event_session_started,
    "SEND": process_event_session_ended,
    "FTLP": process_event_fastest_lap,
    "DRSE": lambda s, d: process_event_drs(s, d, True),
    "DRSD": lambda s, d: process_event_drs(s, d, False),
    "CHQF": process_event_chequered_flag,
    "RCWN": process_event_race_winner,
    "PENA": process_event_penalty,
    "DTSV": process_event_penalty_served,
    "SGSV": process_event_penalty_served,
    "SPTP": process_event_speed_trap,
    "STLG": process_event_start_lights,
    "LGOT": process_event_lights_out,
    "FLBK": process_event_flashback,
    "BUTN": process_event_buttons,
    "RDFL": process_event_red_flag,
    "OVTK": process_event_overtake,
    "SCAR": process_event_safety_car,
    "COLL": process_event_collision,
}

_PROCESSORS = {
    **{pid: process_stream for pid in _STREAM_GROUPS},
    SESSION: process_session,
    LAP_DATA: process_lap_data,
    EVENT: process_event,
    PARTICIPANTS: process_participants,
    CAR_STATUS: process_car_status,
    FINAL_CLASSIFICATION: process_final_classification,
    LOBBY_INFO: process_lobby_info,
    SESSION_HISTORY: process_session_history,
    TYRE_SETS: process_tyre_sets,
    TIME_TRIAL: process_time_trial,
    LAP_POSITIONS: process_lap_positions,
}

__all__ = ["STALE_REASONS", "CarState", "CompletedLap", "Event", "SessionState", "Stint", "process_packet"]
