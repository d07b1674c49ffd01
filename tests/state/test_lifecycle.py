"""Scripted packet sequences (built with the encoder) for each lifecycle case of the session state."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.games.f1.codec import build, build_event, decode, encode
from bridge.games.f1.values import CAR_STATUS, LAP_DATA, LAP_POSITIONS, PARTICIPANTS, SESSION_HISTORY
from bridge.games.f1.writer import process_packet
from bridge.state.changes import HISTORY, LAPS, STINTS
from bridge.state.session import SessionState

UID = 0x1234_5678_9ABC


class Script:
    """Feeds built packets through encode/decode into a state, with increasing frames."""

    def __init__(self, fmt: int = 2024, cars: int = 20, uid: int = UID, player: int = 0) -> None:
        self.fmt, self.cars, self.uid, self.player = fmt, cars, uid, player
        self.frame = 100
        self.state = SessionState()
        self.rows = [
            {"carPosition": i + 1, "currentLapNum": 1, "resultStatus": 2, "gridPosition": i + 1} for i in range(cars)
        ]

    def send(self, pid: int, body: dict[str, Any], **header: Any) -> set[str]:
        self.frame += 1
        hdr = {"session_uid": self.uid, "frame": self.frame, "player_car_index": self.player, **header}
        packet = decode(encode(build(self.fmt, pid, body, **hdr)))
        assert packet, packet
        return process_packet(self.state, packet)

    def event(self, code: str, details: dict[str, Any] | None = None, **header: Any) -> set[str]:
        self.frame += 1
        hdr = {"session_uid": self.uid, "frame": self.frame, "player_car_index": self.player, **header}
        return process_packet(self.state, build_event(self.fmt, code, details, **hdr))

    def lap_data(self, rows: dict[int, dict[str, Any]] | None = None, **header: Any) -> set[str]:
        """LapData for every car; `rows` changes some cars' fields, which persist into later packets."""
        for i, changes in (rows or {}).items():
            self.rows[i].update(changes)
        return self.send(LAP_DATA, {"lapData": self.rows}, **header)


def sectors(fmt: int, s1: int, s2: int) -> dict[str, int]:
    if fmt == 2023:
        return {"sector1TimeInMS": s1 % 60000, "sector1TimeMinutes": s1 // 60000,
                "sector2TimeInMS": s2 % 60000, "sector2TimeMinutes": s2 // 60000}
    return {"sector1TimeMSPart": s1 % 60000, "sector1TimeMinutesPart": s1 // 60000,
            "sector2TimeMSPart": s2 % 60000, "sector2TimeMinutesPart": s2 // 60000}


def complete_lap(script: Script, car: int, lap: int, s1: int, s2: int, total: int, invalid: int = 0) -> set[str]:
    """Drive `car` through the end of `lap`: sectors 1-2 known, then the lap number moves on."""
    script.lap_data({car: {"currentLapNum": lap, "currentLapInvalid": invalid, **sectors(script.fmt, s1, s2)}})
    return script.lap_data({car: {"currentLapNum": lap + 1, "lastLapTimeInMS": total}})


def test_new_session_uid_resets_state() -> None:
    script = Script()
    script.lap_data()
    complete_lap(script, 3, 1, 30_000, 31_000, 92_000)
    assert 1 in script.state.cars[3].laps
    script.uid = UID + 1
    changed = script.lap_data()
    assert "session.reset" in changed
    assert script.state.session_uid == UID + 1
    assert script.state.cars[3].laps == {}
    assert script.state.best_lap is None


def test_menu_packets_with_uid_zero_do_not_reset() -> None:
    script = Script()
    script.lap_data()
    complete_lap(script, 0, 1, 30_000, 31_000, 92_000)
    changed = script.send(PARTICIPANTS, {"numActiveCars": 20}, session_uid=0)
    assert "session.reset" not in changed
    assert script.state.session_uid == UID and 1 in script.state.cars[0].laps


def test_completed_lap_recombines_split_times_and_colours_sectors() -> None:
    script = Script(fmt=2024)
    script.lap_data()
    complete_lap(script, 0, 1, 61_500, 31_000, 123_000)  # sector 1 over a minute: minutes part used
    lap = script.state.cars[0].laps[1]
    assert lap.sectors_ms == (61_500, 31_000, 30_500)
    assert lap.sector_colours == ("purple", "purple", "purple")
    complete_lap(script, 1, 1, 62_000, 30_000, 123_000)
    assert script.state.cars[1].laps[1].sector_colours == ("green", "purple", "green")
    complete_lap(script, 1, 2, 63_000, 29_000, 125_000)  # sector 3 = 33 s: neither best
    assert script.state.cars[1].laps[2].sector_colours == ("yellow", "purple", "yellow")
    assert script.state.best_lap == (123_000, 0, 1)  # a tie does not take the best away


def test_invalid_laps_do_not_count_for_bests() -> None:
    script = Script()
    script.lap_data()
    complete_lap(script, 2, 1, 30_000, 30_000, 90_000, invalid=1)
    assert script.state.cars[2].laps[1].valid is False
    assert script.state.cars[2].best_lap_ms is None and script.state.best_lap is None


def test_flashback_rewinds_laps_without_duplicates() -> None:
    script = Script()
    script.lap_data()
    complete_lap(script, 5, 1, 30_000, 31_000, 92_000)
    complete_lap(script, 5, 2, 30_000, 30_500, 91_000)
    assert sorted(script.state.cars[5].laps) == [1, 2]
    script.event("FLBK", {"flashbackFrameIdentifier": 10, "flashbackSessionTime": 100.0})
    changed = script.lap_data({5: {"currentLapNum": 2}})  # back on lap 2: lap 2 never happened
    assert changed.car_changed(LAPS, 5)
    assert sorted(script.state.cars[5].laps) == [1]
    assert script.state.flashbacks == 1
    assert script.state.best_lap == (92_000, 5, 1)
    complete_lap(script, 5, 2, 30_000, 30_900, 91_500)
    assert sorted(script.state.cars[5].laps) == [1, 2]
    assert script.state.cars[5].laps[2].time_ms == 91_500


def test_final_lap_at_the_flag_counts_without_a_lap_increment() -> None:
    script = Script()
    script.lap_data({0: {"currentLapNum": 5, **sectors(2024, 30_000, 30_000)}})
    script.lap_data({0: {"currentLapNum": 5, "lastLapTimeInMS": 90_500, "resultStatus": 3}})
    assert script.state.cars[0].laps[5].time_ms == 90_500


def test_a_car_that_leaves_is_no_longer_active() -> None:
    script = Script(cars=20)
    script.lap_data()
    assert len(script.state.active) == 20
    changed = script.lap_data({7: {"resultStatus": 1}})
    assert "active" in changed
    assert 7 not in script.state.active and not script.state.cars[7].active
    assert len(script.state.active_cars) == 19
    script.lap_data({7: {"resultStatus": 2}})  # and joins again
    assert 7 in script.state.active


def test_before_lap_data_active_cars_come_from_participants() -> None:
    script = Script()
    script.send(PARTICIPANTS, {"numActiveCars": 12})
    assert script.state.active == tuple(range(12))


def test_spectating_has_no_player_car() -> None:
    script = Script(player=255)
    script.lap_data()
    assert script.state.player is None
    script.player = 4
    script.lap_data()
    assert script.state.player is not None and script.state.player.index == 4


def test_24_cars_in_format_2026() -> None:
    script = Script(fmt=2026, cars=24)
    script.lap_data()
    assert len(script.state.cars) == 24
    assert script.state.active == tuple(range(24))
    script.send(6, {"carTelemetryData": [{"speed": 100 + i} for i in range(24)]})
    assert script.state.cars[23].speed_kph == 123
    script.send(16, {"carTelemetry2Data": [{"overtakeActive": 1 if i == 23 else 0} for i in range(24)]})
    assert script.state.cars[23].overtake_active is True and script.state.cars[22].overtake_active is False


def test_lap_positions_split_across_two_packets_merge() -> None:
    script = Script(fmt=2025, cars=20)
    first = [((lap + i) % 20) + 1 for lap in range(50) for i in range(22)]
    script.send(LAP_POSITIONS, {"numLaps": 50, "lapStart": 0, "positionForVehicleIdx": first})
    second = [((i + 3) % 20) + 1 for _ in range(7) for i in range(22)]
    script.send(LAP_POSITIONS, {"numLaps": 7, "lapStart": 50, "positionForVehicleIdx": second})
    positions = script.state.lap_positions
    assert sorted(positions) == list(range(1, 58))
    assert positions[1][0] == 1 and positions[2][0] == 2 and positions[51][0] == 4


def test_stale_reordered_packet_is_dropped() -> None:
    script = Script()
    script.lap_data({0: {"currentLapNum": 3}})
    newer = script.frame
    script.frame -= 5
    changed = script.lap_data({0: {"currentLapNum": 2}})
    assert not changed and script.state.stale_dropped == {"reordered": 1}
    assert script.state.cars[0].lap == 3
    script.frame = newer


def test_post_race_session_history_burst_fills_every_car() -> None:
    script = Script(fmt=2024, cars=20)
    script.lap_data()
    for car in range(20):
        laps = [
            {"lapTimeInMS": 90_000 + car * 10 + n, "sector1TimeMSPart": 30_000, "sector2TimeMSPart": 30_000,
             "sector3TimeMSPart": 30_000 + car * 10 + n, "lapValidBitFlags": 0x0F}
            for n in range(3)
        ]
        # The whole burst shares one frame: nothing may be dropped as a duplicate.
        script.send(SESSION_HISTORY, {"carIdx": car, "numLaps": 3, "lapHistoryData": laps}, frame=500)
    assert all(sorted(script.state.cars[c].laps) == [1, 2, 3] for c in range(20))
    assert script.state.best_lap == (90_000, 0, 1)
    assert script.state.cars[19].laps[3].sectors_ms == (30_000, 30_000, 30_192)


def test_session_history_count_overstated_is_clamped() -> None:
    script = Script()
    script.lap_data()
    changed = script.send(SESSION_HISTORY, {"carIdx": 1, "numLaps": 250, "numTyreStints": 9})
    assert changed.car_changed(HISTORY, 1)


def test_pit_stop_changes_stint_and_counts_time_lost() -> None:
    script = Script(cars=2)
    script.lap_data({0: {"currentLapNum": 10}, 1: {"currentLapNum": 10}})
    status = lambda visual, age: {"carStatusData": [
        {"visualTyreCompound": visual, "actualTyreCompound": visual + 1, "tyresAgeLaps": age},
        {"visualTyreCompound": 17, "actualTyreCompound": 18, "tyresAgeLaps": 9}]}
    script.send(CAR_STATUS, status(17, 9))
    assert [(s.visual_id, s.start_lap, s.end_lap) for s in script.state.cars[0].stints] == [(17, 1, None)]
    script.lap_data({0: {"currentLapNum": 11, "pitStatus": 1, "pitLaneTimerActive": 1,
                         "pitLaneTimeInLaneInMS": 21_000}})
    script.lap_data({0: {"currentLapNum": 11, "pitLaneTimerActive": 0, "numPitStops": 1}})
    changed = script.send(CAR_STATUS, status(18, 0))
    assert changed.car_changed(STINTS, 0)
    car = script.state.cars[0]
    assert [(s.visual_id, s.start_lap, s.end_lap) for s in car.stints] == [(17, 1, 11), (18, 12, None)]  # in-lap 11
    assert car.pit_time_lost_ms == 21_000 and car.pit_stops == 1
    assert len(script.state.cars[1].stints) == 1


def test_gaps_recombine_minutes_and_are_never_negative() -> None:
    script = Script(fmt=2024)
    script.lap_data({2: {"deltaToCarInFrontMSPart": 1_500, "deltaToCarInFrontMinutesPart": 1,
                         "deltaToRaceLeaderMSPart": 2_000, "deltaToRaceLeaderMinutesPart": 2}})
    car = script.state.cars[2]
    assert car.gap_ahead_ms == 61_500 and car.gap_leader_ms == 122_000
    old = Script(fmt=2023)
    old.lap_data({2: {"deltaToCarInFrontInMS": 1_500, "deltaToRaceLeaderInMS": 65_000}})
    assert old.state.cars[2].gap_ahead_ms == 1_500 and old.state.cars[2].gap_leader_ms == 65_000


@pytest.mark.parametrize(
    "code,details,check",
    [
        ("FTLP", {"vehicleIdx": 3, "lapTime": 88.5}, lambda s: s.fastest_lap_event == (3, 88_500)),
        ("STLG", {"numLights": 4}, lambda s: s.start_lights == 4),
        ("LGOT", {}, lambda s: s.lights_out and s.start_lights == 0),
        ("CHQF", {}, lambda s: s.chequered_flag),
        ("RDFL", {}, lambda s: s.red_flag),
        ("PENA", {"vehicleIdx": 2, "penaltyType": 5}, lambda s: s.cars[2].penalties_issued == 1),
        ("DTSV", {"vehicleIdx": 2}, lambda s: s.cars[2].penalties_served == 1),
        ("SGSV", {"vehicleIdx": 2}, lambda s: s.cars[2].penalties_served == 1),
        ("OVTK", {"overtakingVehicleIdx": 6, "beingOvertakenVehicleIdx": 1}, lambda s: s.cars[6].overtakes == 1),
        ("COLL", {"vehicle1Idx": 1, "vehicle2Idx": 2}, lambda s: s.collisions == 1 and s.cars[2].collisions == 1),
        ("SCAR", {"safetyCarType": 1, "eventType": 0}, lambda s: s.safety_car_event == (1, 0)),
        ("BUTN", {"buttonStatus": 0x00100000}, lambda s: s.buttons == 0x00100000),
        ("RTMT", {"vehicleIdx": 4}, lambda s: s.events[-1].details["vehicle_idx"] == 4),
        ("SEND", {}, lambda s: s.session_ended),
        ("DRSD", {}, lambda s: s.drs_enabled is False),
        ("XXXX", None, lambda s: s.events[-1].code == "XXXX" and len(s.events[-1].details["raw"]) == 12),
    ],
)
def test_events_update_state(code: str, details: dict[str, Any] | None, check) -> None:
    script = Script(fmt=2024)
    script.lap_data()
    changed = script.event(code, details)
    assert "events" in changed
    assert check(script.state)
    assert script.state.events[-1].seq == script.state.event_seq == 1
