"""F1's writer: the `process_*` functions that fold decoded F1 packets into the session state.

Single writer, synchronously, one packet at a time, no I/O. Values F1 sends as-is are read through the latest
packet of each type (`values.py`); this writer keeps those packets and derives what the game does not send:
which cars are active, completed laps (whole-column compares, so Python work happens only for the cars whose
value moved), pit exits, stints, lap positions, events and phases. The derivations themselves (bests, sector
colours, stints) are the neutral ones of `bridge/state/session.py`.
"""

from __future__ import annotations

from typing import Any

from bridge.games.f1 import aids  # racer's aids
from bridge.games.f1.codec import EventPacket, Packet
from bridge.games.f1.layouts import PacketLayout
from bridge.games.f1.values import (
    CAR,
    CAR_DAMAGE,
    CAR_SETUPS,
    CAR_STATUS,
    CAR_TELEMETRY,
    CAR_TELEMETRY_2,
    EVENT,
    F1_VALUES,
    FINAL_CLASSIFICATION,
    HISTORY,
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
)
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.racelog import (
    Classified,
    Penalty,
    process_classification,
    process_lap_start_marks,
    process_penalty,
    process_speed_sample,
    process_speed_trap,
)
from bridge.state.session import (
    NO_CAR,
    REORDERED,
    CarState,
    CompletedLap,
    SessionState,
    process_completed_lap,
    process_game_event,
    process_pit_entry,
    process_pit_exit,
    process_recompute_bests,
    process_reset,
    process_rewind,
    process_stint_change,
    process_tyre_wear_rate,
    seconds_to_ms,
)

ACTIVE_RESULT_STATUS = 2  # resultStatus: 0 invalid, 1 inactive (slot unused), 2+ a car that is or was racing

# The stale rule. Reordering on a LAN moves a datagram by milliseconds, so a packet is stale only when its frame is
# behind the latest of its kind by less than this window (10 s at the game's 60 Hz). A frame further behind is a
# new timeline (a restart that kept the session UID, or the real stream after one spoofed or corrupt frame far
# ahead): it is taken and becomes the new reference. So no single datagram can silence a packet kind for the rest
# of the session; one far-ahead frame costs at most the one packet it carried.
STALE_WINDOW_FRAMES = 600

# Packet types whose every packet carries the full picture: an older one arriving late is stale.
_ONE_PER_FRAME = frozenset(
    {MOTION, SESSION, LAP_DATA, PARTICIPANTS, CAR_SETUPS, CAR_TELEMETRY, CAR_STATUS, CAR_DAMAGE, MOTION_EX,
     LOBBY_INFO, TIME_TRIAL, CAR_TELEMETRY_2}
)



# ----------------------------------------------------------------------------------------------------------
# Columns: one C-level call returns a field for every car slot, so the writer compares whole columns and
# does Python work only for the cars whose value moved.


class _Columns:
    __slots__ = (
        "actual",
        "age",
        "lap",
        "last_lap",
        "pit_lane_ms",
        "pit_stop_ms",
        "pit_timer",
        "result",
        "speed",
        "visual",
    )

    def __init__(
        self,
        lap_layout: PacketLayout | None = None,
        status_layout: PacketLayout | None = None,
        telemetry_layout: PacketLayout | None = None,
    ) -> None:
        if lap_layout is not None:
            self.lap = lap_layout.column("lapData", "currentLapNum")
            self.last_lap = lap_layout.column("lapData", "lastLapTimeInMS")
            self.result = lap_layout.column("lapData", "resultStatus")
            self.pit_timer = lap_layout.column("lapData", "pitLaneTimerActive")
            self.pit_lane_ms = lap_layout.column("lapData", "pitLaneTimeInLaneInMS")
            self.pit_stop_ms = lap_layout.column("lapData", "pitStopTimerInMS")
        if telemetry_layout is not None:
            self.speed = telemetry_layout.column("carTelemetryData", "speed")
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
        elif layout.packet_id == CAR_TELEMETRY:
            cols = _Columns(telemetry_layout=layout)
        else:
            cols = _Columns(status_layout=layout)
        _COLUMNS[key] = cols
    return cols


# ----------------------------------------------------------------------------------------------------------
# The writer.


def process_packet(state: SessionState, packet: Packet) -> Changes:
    """Fold one decoded F1 packet into the state; returns (and leaves in `state.changed`) the groups it changed."""
    changed = state.changed
    changed.clear()
    uid = packet.session_uid
    slots = packet.layout.num_cars
    # UID 0 comes from menus and lobbies (and the player's last SessionHistory before SEND): it never resets.
    if (uid and uid != state.session_uid) or slots != len(state.cars) or packet.packet_format != state.packet_format:
        process_reset(state, uid or state.session_uid, packet.packet_format, slots, F1_VALUES)
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
    MOTION: groups.CAR_MOTION,
    CAR_SETUPS: groups.CAR_SETUP,
    CAR_TELEMETRY: groups.CAR_TELEMETRY,
    CAR_DAMAGE: groups.CAR_DAMAGE,
    MOTION_EX: groups.PLAYER_MOTION_EX,
    CAR_TELEMETRY_2: groups.CAR_TELEMETRY_2,
}


def process_stream(state: SessionState, packet: Packet) -> None:
    """A per-frame packet with nothing to derive: it becomes the latest of its kind."""
    pid = packet.packet_id
    state.latest[pid] = packet
    state.changed.add(_STREAM_GROUPS[pid])


def process_car_telemetry(state: SessionState, packet: Packet) -> None:
    """The latest telemetry, and every car's speed as one sample of the lap's top speed (one column, one pass)."""
    process_stream(state, packet)
    process_speed_sample(state, _columns(packet.layout).speed(packet.values))


def process_car_damage(state: SessionState, packet: Packet) -> None:
    process_stream(state, packet)
    player = state.player
    if player is not None and player.lap_start_wheel_wear is None:
        process_lap_start_marks(state, player)  # once: the laps after this begin at the line


def process_session(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(SESSION)
    state.latest[SESSION] = packet
    if previous is None or previous.values[12:] != packet.values[12:]:
        state.changed.add(groups.SESSION)
        aids.process_f1_aids_session(state, packet)  # racer's aids


def process_lap_data(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(LAP_DATA)
    state.latest[LAP_DATA] = packet
    changed = state.changed
    changed.add(groups.CAR_LAP)
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
        before = _columns(previous.layout)
        pit_ms = before.pit_lane_ms(previous.values)
        stop_ms = before.pit_stop_ms(previous.values)
        for i, (was, now) in enumerate(zip(state.pit_timer_column, timers)):
            if was and not now:
                process_pit_exit(state, i, pit_ms[i], stop_ms[i])
            elif now and not was:
                process_pit_entry(state, i)
    state.pit_timer_column = timers
    aids.process_aids_lap_data(state, packet.session_time)  # racer's aids: the live delta, O(1)


def process_active_cars(state: SessionState) -> None:
    """Active cars: resultStatus says the slot holds a car (LapData), else the first numActiveCars slots."""
    if state.result_column:
        active = tuple(i for i, status in enumerate(state.result_column) if status >= ACTIVE_RESULT_STATUS)
    else:
        active = tuple(range(min(state.num_active_cars, len(state.cars))))
    if active != state.active:
        state.active = active
        state.active_set = frozenset(active)
        state.changed.add(groups.ACTIVE)


def process_lap_progress(
    state: SessionState, i: int, old_lap: int, new_lap: int, before: Packet, after: Packet
) -> None:
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


def process_participants(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(PARTICIPANTS)
    state.latest[PARTICIPANTS] = packet
    state.num_active_cars = packet.values[12]
    if previous is None or previous.values[12:] != packet.values[12:]:
        state.changed.add(groups.PARTICIPANTS)
    if not state.result_column:
        process_active_cars(state)


def process_car_status(state: SessionState, packet: Packet) -> None:
    state.latest[CAR_STATUS] = packet
    state.changed.add(groups.CAR_STATUS)
    aids.process_aids_flag(state)  # racer's aids
    player = state.player
    if player is not None and player.lap_start_fuel is None:
        process_lap_start_marks(state, player)  # once: the laps after this begin at the line
    cols = _columns(packet.layout)
    values = packet.values
    visual = cols.visual(values)
    age = cols.age(values)
    if visual != state.visual_column or age != state.age_column:
        old_visual, old_age = state.visual_column or visual, state.age_column or age
        first = not state.visual_column
        actual = cols.actual(values)
        cars = state.cars
        for i in state.active:
            if first or visual[i] != old_visual[i] or age[i] < old_age[i] or not cars[i].stints:
                process_stint_change(state, state.cars[i], visual[i], actual[i], age[i])
        state.visual_column = visual
        state.age_column = age


def process_final_classification(state: SessionState, packet: Packet) -> None:
    # Re-sent every 5 s on the results screen: only a different classification is a change.
    if state.classification is None or state.classification.values[12:] != packet.values[12:]:
        state.classification = packet
        state.changed.add(groups.CLASSIFICATION)
        process_classification(state, _classified(packet, len(state.cars)))


def _classified(packet: Packet, slots: int) -> tuple[Classified, ...]:
    """The classification's cars in neutral terms, by finishing position (slots without a position left out)."""
    rows = []
    for i, row in enumerate(packet["classificationData"][:slots]):
        if not row["position"]:
            continue
        stints = min(row["numTyreStints"], 8)
        actual, visual, ends = row["tyreStintsActual"], row["tyreStintsVisual"], row["tyreStintsEndLaps"]
        has_reason = "resultReason" in row.record.by_name
        rows.append(Classified(
            i, row["position"], row["numLaps"], row["gridPosition"], row["points"], row["numPitStops"],
            row["resultStatus"], row["resultReason"] if has_reason else None, row["bestLapTimeInMS"],
            row["totalRaceTime"], row["penaltiesTime"], row["numPenalties"],
            tuple((actual[k], visual[k], ends[k]) for k in range(stints)),
        ))  # fmt: skip
    return tuple(sorted(rows, key=lambda r: (r.position, r.index)))


def process_lobby_info(state: SessionState, packet: Packet) -> None:
    state.lobby = packet
    state.changed.add(groups.LOBBY)


def process_time_trial(state: SessionState, packet: Packet) -> None:
    state.time_trial = packet
    state.changed.add(groups.TIME_TRIAL)


def process_session_history(state: SessionState, packet: Packet) -> None:
    """One car's lap history: the game's own record of completed laps, authoritative over what we inferred."""
    i = packet.values[12]
    if i >= len(state.cars):
        return
    car = state.cars[i]
    car.history = packet
    state.changed.add_car(groups.HISTORY, i)
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
        state.changed.add_car(groups.LAPS, i)


def process_tyre_sets(state: SessionState, packet: Packet) -> None:
    i = packet.values[12]
    if i < len(state.cars):
        state.cars[i].tyre_sets = packet
        state.changed.add_car(groups.TYRE_SETS, i)
        aids.process_f1_aids_tyre_sets(state, packet)  # racer's aids


def process_lap_positions(state: SessionState, packet: Packet) -> None:
    """Positions at the start of each lap; races over 50 laps come as two packets, merged by `lapStart`."""
    num_laps = min(packet.values[12], 50)
    lap_start = packet.values[13]
    cars = packet.layout.num_cars
    grid = packet.values[14:]
    for row in range(num_laps):
        state.lap_positions[lap_start + row + 1] = tuple(grid[row * cars : (row + 1) * cars])
    state.changed.add(groups.LAP_POSITIONS)


def process_event(state: SessionState, packet: EventPacket) -> None:
    details = packet.details()
    process_game_event(state, packet.code, packet.session_time, details)
    handler = _EVENT_PROCESSORS.get(packet.code)
    if handler is not None:
        handler(state, details)
    timed = _TIMED_EVENT_PROCESSORS.get(packet.code)
    if timed is not None:
        timed(state, details, packet.session_time)
    aids.process_aids_event(state, packet.code, packet.session_time, details)  # racer's aids


def _car(state: SessionState, details: dict[str, Any], key: str = "vehicle_idx") -> CarState | None:
    i = details.get(key, NO_CAR)
    return state.cars[i] if i < len(state.cars) else None


def process_event_session_started(state: SessionState, details: dict[str, Any]) -> None:
    state.session_started, state.session_ended = True, False


def process_event_session_ended(state: SessionState, details: dict[str, Any]) -> None:
    state.session_ended = True


def process_event_fastest_lap(state: SessionState, details: dict[str, Any]) -> None:
    ms = seconds_to_ms(details["lap_time"])
    state.fastest_lap_event = None if ms is None else (details["vehicle_idx"], ms)


def process_event_drs(state: SessionState, details: dict[str, Any], enabled: bool) -> None:
    state.drs_enabled = enabled


def process_event_chequered_flag(state: SessionState, details: dict[str, Any]) -> None:
    state.chequered_flag = True


def process_event_race_winner(state: SessionState, details: dict[str, Any]) -> None:
    state.winner = details["vehicle_idx"]


NOT_APPLICABLE = 255  # PENA's time, other car and places when they do not apply


def _known(value: int) -> int | None:
    return None if value == NOT_APPLICABLE else value


def process_event_penalty(state: SessionState, details: dict[str, Any], session_time: float) -> None:
    car = _car(state, details)
    if car is not None:
        car.penalties_issued += 1
        process_penalty(state, car, Penalty(
            details["lap_num"], session_time, "issued", details["penalty_type"], details["infringement_type"],
            _known(details["time"]), _known(details["other_vehicle_idx"]), _known(details["places_gained"]),
        ))  # fmt: skip


def process_event_penalty_served(state: SessionState, details: dict[str, Any], session_time: float) -> None:
    car = _car(state, details)
    if car is not None:
        car.penalties_served += 1
        process_penalty(state, car, Penalty(car.lap or 0, session_time, "served", None, None, None, None, None))


def process_event_speed_trap(state: SessionState, details: dict[str, Any]) -> None:
    car = _car(state, details)
    if car is not None:
        process_speed_trap(state, car, details["speed"])


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

# Events kept with their session time (a car's race log).
_TIMED_EVENT_PROCESSORS = {
    "PENA": process_event_penalty,
    "DTSV": process_event_penalty_served,
    "SGSV": process_event_penalty_served,
}

_PROCESSORS = {
    **{pid: process_stream for pid in _STREAM_GROUPS},
    CAR_TELEMETRY: process_car_telemetry,
    CAR_DAMAGE: process_car_damage,
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

__all__ = ["STALE_WINDOW_FRAMES", "process_packet"]
