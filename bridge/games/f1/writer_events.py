"""F1's writer, events: an Event packet kept in order for readers, and what it changes besides (phases, lights,
flags, the race log of penalties, overtakes, collisions and the speed trap).

Single writer, synchronously, one packet at a time, no I/O (`writer.py` dispatches here). One table maps each
event code to its `process_event_*` function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from bridge.games.f1 import aids  # racer's aids
from bridge.games.f1.codec import EventPacket, Packet
from bridge.state.derive import process_game_event
from bridge.state.racelog import process_penalty, process_speed_trap
from bridge.state.records import Penalty
from bridge.state.session import NO_CAR, CarState, SessionState, seconds_to_ms

Details = dict[str, Any]  # an event's decoded fields, by name (`EventPacket.details()`)


def process_event(state: SessionState, packet: Packet) -> None:
    """An Event packet (the decoder makes every one an `EventPacket`): kept for readers, then its own effects."""
    packet = cast(EventPacket, packet)
    details = packet.details()
    process_game_event(state, packet.code, packet.session_time, details)
    handler = _EVENT_PROCESSORS.get(packet.code)
    if handler is not None:
        handler(state, details)
    timed = _TIMED_EVENT_PROCESSORS.get(packet.code)
    if timed is not None:
        timed(state, details, packet.session_time)
    aids.process_aids_event(state, packet.code, packet.session_time, details)  # racer's aids


def _car(state: SessionState, details: Details, key: str = "vehicle_idx") -> CarState | None:
    i = details.get(key, NO_CAR)
    return state.cars[i] if i < len(state.cars) else None


def process_event_session_started(state: SessionState, details: Details) -> None:
    state.session_started, state.session_ended = True, False


def process_event_session_ended(state: SessionState, details: Details) -> None:
    state.session_ended = True


def process_event_fastest_lap(state: SessionState, details: Details) -> None:
    ms = seconds_to_ms(details["lap_time"])
    state.fastest_lap_event = None if ms is None else (details["vehicle_idx"], ms)


def process_event_drs(state: SessionState, details: Details, enabled: bool) -> None:
    state.drs_enabled = enabled


def process_event_chequered_flag(state: SessionState, details: Details) -> None:
    state.chequered_flag = True


def process_event_race_winner(state: SessionState, details: Details) -> None:
    state.winner = details["vehicle_idx"]


NOT_APPLICABLE = 255  # PENA's time, other car and places when they do not apply


def _known(value: int) -> int | None:
    return None if value == NOT_APPLICABLE else value


def process_event_penalty(state: SessionState, details: Details, session_time: float) -> None:
    car = _car(state, details)
    if car is not None:
        car.penalties_issued += 1
        process_penalty(state, car, Penalty(
            details["lap_num"], session_time, "issued", details["penalty_type"], details["infringement_type"],
            _known(details["time"]), _known(details["other_vehicle_idx"]), _known(details["places_gained"]),
        ))  # fmt: skip


def process_event_penalty_served(state: SessionState, details: Details, session_time: float) -> None:
    car = _car(state, details)
    if car is not None:
        car.penalties_served += 1
        process_penalty(state, car, Penalty(car.lap or 0, session_time, "served", None, None, None, None, None))


def process_event_speed_trap(state: SessionState, details: Details) -> None:
    car = _car(state, details)
    if car is not None:
        process_speed_trap(state, car, details["speed"])


def process_event_start_lights(state: SessionState, details: Details) -> None:
    state.start_lights = details["num_lights"]
    state.lights_out = False


def process_event_lights_out(state: SessionState, details: Details) -> None:
    state.start_lights = 0
    state.lights_out = True
    state.red_flag = False


def process_event_flashback(state: SessionState, details: Details) -> None:
    state.flashbacks += 1


def process_event_buttons(state: SessionState, details: Details) -> None:
    state.buttons = details["button_status"]


def process_event_red_flag(state: SessionState, details: Details) -> None:
    state.red_flag = True


def process_event_overtake(state: SessionState, details: Details) -> None:
    car = _car(state, details, "overtaking_vehicle_idx")
    if car is not None:
        car.overtakes += 1


def process_event_safety_car(state: SessionState, details: Details) -> None:
    state.safety_car_event = (details["safety_car_type"], details["event_type"])


def process_event_collision(state: SessionState, details: Details) -> None:
    state.collisions += 1
    for key in ("vehicle1_idx", "vehicle2_idx"):
        car = _car(state, details, key)
        if car is not None:
            car.collisions += 1


_EVENT_PROCESSORS: dict[str, Callable[[SessionState, Details], None]] = {
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
_TIMED_EVENT_PROCESSORS: dict[str, Callable[[SessionState, Details, float], None]] = {
    "PENA": process_event_penalty,
    "DTSV": process_event_penalty_served,
    "SGSV": process_event_penalty_served,
}
