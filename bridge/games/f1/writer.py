"""F1's writer: the `process_*` functions that fold decoded F1 packets into the session state.

Single writer, synchronously, one packet at a time, no I/O. Values F1 sends as-is are read through the latest
packet of each type (`values.py`); this writer keeps those packets, applies the stale rule and dispatches each
packet to its processor, which derives what the game does not send: lap progress, pits, stints and the active
cars in `writer_laps.py`, events and phases in `writer_events.py`, the rest here. The derivations themselves
(bests, sector colours, stints) are the neutral ones of `bridge/state/derive.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from bridge.games.f1 import aids  # racer's aids
from bridge.games.f1.codec import Packet
from bridge.games.f1.values import (
    CAR_DAMAGE,
    CAR_SETUPS,
    CAR_STATUS,
    CAR_TELEMETRY,
    CAR_TELEMETRY_2,
    EVENT,
    F1_VALUES,
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
)
from bridge.games.f1.writer_events import process_event
from bridge.games.f1.writer_laps import (
    columns,
    process_active_cars,
    process_car_status,
    process_lap_data,
    process_session_history,
)
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.racelog import process_classification, process_lap_start_marks, process_speed_sample
from bridge.state.records import Classified
from bridge.state.session import REORDERED, SessionState, process_reset

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
        key: Hashable = pid
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
    process_speed_sample(state, columns(packet.layout).speed(packet.values))


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


def process_participants(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(PARTICIPANTS)
    state.latest[PARTICIPANTS] = packet
    state.num_active_cars = packet.values[12]
    if previous is None or previous.values[12:] != packet.values[12:]:
        state.changed.add(groups.PARTICIPANTS)
    if not state.result_column:
        process_active_cars(state)


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


_PROCESSORS: dict[int, Callable[[SessionState, Packet], None]] = {
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
