"""Race-control texts for every event code of every format, and for every value of the enumerations they name:
a person reads names, never a raw code where the game's enumeration has a name."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from bridge.games.f1 import enums
from bridge.games.f1.codec import build, build_event
from bridge.games.f1.layouts import LAYOUTS
from bridge.games.f1.writer import process_packet
from bridge.state.aids.race_control import IGNORED, TEXTS, Words, event_text
from bridge.state.session import SessionState
from bridge.state.view import readonly

EVENT = 3
UID = 99
NAMES = ["HAMILTON", "LECLERC", "NORRIS", "VERSTAPPEN"]

# Detail fields naming an enumeration value, per event code: every value of each is tried.
ENUMERATED = {
    "PENA": {"penaltyType": "penaltyType", "infringementType": "infringementType"},
    "SCAR": {"safetyCarType": "safetyCarStatus", "eventType": "safetyCarEventType"},
    "RTMT": {"reason": "resultReason"},
    "DRSD": {"reason": "drsDisabledReason"},
    "COLL": {"severity": "collisionSeverity"},
}
CARS = {"vehicleIdx": 0, "otherVehicleIdx": 2, "overtakingVehicleIdx": 1, "beingOvertakenVehicleIdx": 0,
        "vehicle1Idx": 3, "vehicle2Idx": 1}
OTHER = {"time": 5, "lapNum": 7, "placesGained": 255, "lapTime": 83.456, "speed": 331.2, "numLights": 3,
         "isOverallFastestInSession": 1, "stopTime": 10.0}


def codes(fmt: int) -> list[str]:
    return sorted(LAYOUTS.formats[fmt][EVENT].events)


def detail_variants(fmt: int, code: str) -> list[dict[str, Any]]:
    """Every combination of the enumerated details' values (the rest fixed)."""
    fields = [f.name for f in LAYOUTS.formats[fmt][EVENT].events[code].record.fields]
    base = {name: CARS.get(name, OTHER.get(name, 0)) for name in fields}
    enumerated = {name: enum for name, enum in ENUMERATED.get(code, {}).items() if name in fields}
    if not enumerated:
        return [base]
    choices = [sorted(enums.table(enum, fmt)) for enum in enumerated.values()]
    return [{**base, **dict(zip(enumerated, combo, strict=True))} for combo in itertools.product(*choices)]


def words(fmt: int) -> Words:
    return Words(fmt, lambda i: NAMES[i] if 0 <= i < len(NAMES) else f"car {i}")


@pytest.mark.parametrize("fmt", enums.FORMATS)
def test_every_event_code_has_a_text_or_is_not_news(fmt: int) -> None:
    assert set(codes(fmt)) <= set(TEXTS) | IGNORED


@pytest.mark.parametrize("fmt", enums.FORMATS)
def test_every_enumerated_value_reads_as_its_name(fmt: int) -> None:
    texts = 0
    for code in codes(fmt):
        if code in IGNORED:
            continue
        for raw in detail_variants(fmt, code):
            details = build_event(fmt, code, raw).details()
            text = event_text(code, details, words(fmt))
            assert text is not None, (code, raw)
            _, sentence, cars = text
            texts += 1
            assert "unknown" not in sentence, (code, raw, sentence)
            for name, enum in ENUMERATED.get(code, {}).items():
                if name in raw and enum != "safetyCarEventType":  # phases are worded ("deployed", "ending")
                    assert enums.label(enum, fmt, raw[name]).lower() in sentence.lower(), (code, raw, sentence)
            assert all(NAMES[i] in sentence for i in cars), sentence
            # the only numbers a person reads are quantities (seconds, km/h, lights, lap times), never codes
            numbers = set(re.findall(r"\d+(?:\.\d+)?", sentence))
            assert numbers <= {"5", "331.2", "3", "1:23.456", "1", "23.456", "10.0"}, (code, sentence)
    assert texts > 1000  # PENA alone: every penalty type with every infringement


def test_the_penalty_reads_like_race_control() -> None:
    details = build_event(2025, "PENA", {"penaltyType": 4, "infringementType": 7, "vehicleIdx": 0, "time": 5,
                                         "otherVehicleIdx": 255, "placesGained": 255}).details()
    assert event_text("PENA", details, words(2025)) == (
        "penalty", "Penalty: HAMILTON, 5 s time penalty, corner cutting gained time", (0,))
    warning = build_event(2025, "PENA", {"penaltyType": 5, "infringementType": 7, "vehicleIdx": 1, "time": 255,
                                         "otherVehicleIdx": 255, "placesGained": 255}).details()
    assert event_text("PENA", warning, words(2025)) == ("penalty", "Warning: LECLERC, corner cutting gained time", (1,))
    scar = build_event(2025, "SCAR", {"safetyCarType": 1, "eventType": 0}).details()
    assert event_text("SCAR", scar, words(2025)) == ("safety_car", "Full safety car deployed", ())
    assert event_text("BUTN", {"button_status": 1}, words(2025)) is None  # not news
    unknown_here = build_event(2023, "COLL").details()  # no collision events in format 2023: raw bytes only
    assert event_text("COLL", unknown_here, words(2023)) is None


def _state(fmt: int) -> SessionState:
    state = SessionState()
    participants = [{"name": name.encode(), "driverId": 0} for name in NAMES]
    process_packet(state, build(fmt, 4, {"numActiveCars": 4, "participants": participants}, session_uid=UID))
    process_packet(state, build(fmt, 2, {"lapData": [{"resultStatus": 2, "carPosition": i + 1, "currentLapNum": 3}
                                                     for i in range(4)]}, session_uid=UID, frame=1))
    return state


@pytest.mark.parametrize("fmt", enums.FORMATS)
def test_every_event_of_every_format_through_the_writer(fmt: int) -> None:
    state = _state(fmt)
    view = readonly(state)
    before = view.aids.last_seq
    for n, code in enumerate(codes(fmt)):
        packet = build_event(fmt, code, detail_variants(fmt, code)[0], session_uid=UID, frame=10 + n,
                             session_time=100.0 + n)
        process_packet(state, packet)
        messages = [m for m in view.aids.race_control if m.seq > before]
        if code in IGNORED:
            assert messages == [] and "race_control" not in state.changed
            continue
        assert len(messages) == 1 and "race_control" in state.changed, code
        message = messages[0]
        before = message.seq
        assert message.code == code and message.session_time == pytest.approx(100.0 + n)
        assert message.text and "unknown" not in message.text
        assert all(name in NAMES for _, name in message.cars)


def test_pit_entry_exit_and_flags_are_announced() -> None:
    state = _state(2025)
    lap = {"resultStatus": 2, "carPosition": 1, "currentLapNum": 3}
    process_packet(state, build(2025, 2, {"lapData": [{**lap, "pitLaneTimerActive": 1, "pitLaneTimeInLaneInMS": 900}]},
                                session_uid=UID, frame=2))
    process_packet(state, build(2025, 2, {"lapData": [{**lap, "pitLaneTimerActive": 1,
                                                       "pitLaneTimeInLaneInMS": 21_400}]}, session_uid=UID, frame=3))
    process_packet(state, build(2025, 2, {"lapData": [lap]}, session_uid=UID, frame=4))
    for frame, flag in ((5, 1), (6, 3), (7, 3), (8, 0)):
        process_packet(state, build(2025, 7, {"carStatusData": [{"vehicleFIAFlags": flag}]}, session_uid=UID,
                                    frame=frame))
    texts = [m.text for m in readonly(state).aids.race_control]
    assert texts[-4:] == ["Pit entry: HAMILTON", "Pit exit: HAMILTON, 21.4 s in the pit lane", "Yellow flag",
                          "Flags cleared"]
