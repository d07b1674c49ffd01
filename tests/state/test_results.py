"""Results, lap records, stints and the race log, from synthetic races and real captures through the writers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1 import enums as f1_enums
from bridge.games.f1.codec import EventPacket, Packet, build, build_event, decode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.f1.values import CAR_STATUS, FINAL_CLASSIFICATION, SESSION_HISTORY
from bridge.games.f1.writer import process_packet
from bridge.jsontext import json_text
from bridge.state import results
from bridge.state.session import SessionState
from bridge.state.view import readonly

SHORT_TRACK = 17  # Austria: the shortest full layout, so a three-lap race is quick to generate


@dataclass
class Run:
    state: SessionState
    classification: Packet | None = None
    history: dict[int, Packet] = field(default_factory=dict)  # car -> the game's last lap history of it
    age_checks: int = 0  # CarStatus moments where a running stint was held against the game's tyre age
    age_mismatches: list[str] = field(default_factory=list)
    warnings_seen: dict[int, int] = field(default_factory=dict)  # car -> lap of the PENA warning (from the packet)


def _check_tyre_age(run: Run) -> None:
    """The documented rule: tyre age = age when fitted + stint_laps (+1 when fitted before the line on the in-lap)."""
    for car in run.state.active_cars:
        if not car.stints or car.lap is None or car.tyre_age_laps is None:
            continue
        stint = car.stints[-1]
        if car.lap < stint.start_lap:
            continue  # fitted during the in-lap: the new stint starts on the out-lap
        want = stint.fitted_age + car.stint_laps + (1 if stint.fitted_in_lap else 0)
        run.age_checks += 1
        if car.tyre_age_laps != want:
            run.age_mismatches.append(f"car {car.index} lap {car.lap}: age {car.tyre_age_laps} != {want}")


@cache
def synthetic(fmt: int, cars: int = 8, laps: int = 3, seed: int = 5) -> Run:
    config = SynthConfig(packet_format=fmt, cars=cars, laps=laps, seed=seed, track_id=SHORT_TRACK, rate_hz=10,
                         penalty=True, retirement=True)
    run = Run(SessionState())
    for _, datagrams in SyntheticRace(config).frames():
        for data in datagrams:
            packet = decode(data)
            assert isinstance(packet, Packet), packet
            process_packet(run.state, packet)
            pid = packet.packet_id
            if pid == FINAL_CLASSIFICATION:
                run.classification = packet
            elif pid == SESSION_HISTORY:
                run.history[packet["carIdx"]] = packet
            elif pid == CAR_STATUS:
                _check_tyre_age(run)
            elif isinstance(packet, EventPacket) and packet.code == "PENA":
                details = packet.details()
                if details["penalty_type"] == 5:  # a warning
                    run.warnings_seen[details["vehicle_idx"]] = details["lap_num"]
    return run


FORMATS = (2024, 2025, 2026)


def slug(enum: str, fmt: int, value: int) -> str:
    return f1_enums.slug(enum, fmt, value)


def assert_results_match(document: dict[str, Any], packet: Packet, view: Any) -> None:
    """`results()` against the FinalClassification packet, field by field."""
    fmt = packet.packet_format
    rows = [(i, r) for i, r in enumerate(packet["classificationData"]) if r["position"]]
    assert len(document["cars"]) == len(rows)
    by_index = {row["index"]: row for row in document["cars"]}
    assert [row["position"] for row in document["cars"]] == sorted(r["position"] for _, r in rows)
    winner = min((r for _, r in rows), key=lambda r: r["position"])
    for i, r in rows:
        got = by_index[i]
        assert got["position"] == r["position"] and got["grid_position"] == r["gridPosition"]
        assert got["laps"] == r["numLaps"] and got["pit_stops"] == r["numPitStops"]
        assert got["points"] == r["points"] and got["penalties_s"] == r["penaltiesTime"]
        assert got["num_penalties"] == r["numPenalties"]
        assert got["best_lap_ms"] == (r["bestLapTimeInMS"] or None)
        assert got["total_race_time_s"] == pytest.approx(r["totalRaceTime"], abs=0.0005)
        assert got["result_status"] == slug("resultStatus", fmt, r["resultStatus"])
        if fmt >= 2025:
            assert got["result_reason"] == slug("resultReason", fmt, r["resultReason"])
        car = view.car(i)
        assert got["name"] == car.name and got["race_number"] == car.race_number
        assert got["team"] == (None if car.team_id is None else slug("teamId", fmt, car.team_id))
        stints = got["stints"]
        assert len(stints) == r["numTyreStints"]
        start = 1
        for k, stint in enumerate(stints):
            end = r["tyreStintsEndLaps"][k]
            assert stint["tyre"] == slug("visualTyreCompound", fmt, r["tyreStintsVisual"][k])
            assert stint["compound"] == slug("actualTyreCompound", fmt, r["tyreStintsActual"][k])
            assert stint["start_lap"] == start
            assert stint["end_lap"] == (r["numLaps"] if end == 255 else end)
            start = stint["end_lap"] + 1
        if r["numLaps"] == winner["numLaps"]:
            gap = (r["totalRaceTime"] + r["penaltiesTime"] - winner["totalRaceTime"] - winner["penaltiesTime"]) * 1000
            assert got["gap_to_winner_ms"] == round(gap)
        else:
            assert got["gap_to_winner_ms"] is None and got["laps_behind"] == winner["numLaps"] - r["numLaps"]
    json.loads(json_text(document))  # plain JSON


@pytest.mark.parametrize("fmt", FORMATS)
def test_results_match_the_final_classification(fmt: int) -> None:
    run = synthetic(fmt)
    assert run.classification is not None, "the synthetic race ends with a classification"
    document = results.results(readonly(run.state))
    assert document is not None
    assert_results_match(document, run.classification, readonly(run.state))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_lap_of_every_car_equals_the_games_lap_history(fmt: int) -> None:
    run = synthetic(fmt)
    view = readonly(run.state)
    checked = 0
    for i in view.active:
        car = view.car(i)
        history = run.history[i]
        laps = [n for n in range(history.count("numLaps")) if history["lapHistoryData"][n]["lapTimeInMS"]]
        assert sorted(car.lap_facts) == [n + 1 for n in laps], f"car {i}: a lap record per completed lap"
        for n in laps:
            row = history["lapHistoryData"][n]
            sectors = [
                row[f"sector{s}TimeMinutesPart" if fmt >= 2024 else f"sector{s}TimeMinutes"] * 60000
                + row[f"sector{s}TimeMSPart" if fmt >= 2024 else f"sector{s}TimeInMS"]
                for s in (1, 2, 3)
            ]
            # The record the export has, and the message `lap_completed` carries for the latest lap.
            last = results.lap_message(car) if n + 1 == max(car.lap_facts) else None
            for record in filter(None, (results.lap_record(view, car, n + 1), last)):
                assert record is not None and record["lap"] == n + 1
                assert record["time_ms"] == row["lapTimeInMS"], (i, n + 1)
                assert record["sectors_ms"] == sectors, (i, n + 1)
                assert record["valid"] == bool(row["lapValidBitFlags"] & 1)
                assert 1 <= record["position"] <= len(view.active)
                assert record["tyre"] in ("soft", "medium", "hard") and record["tyre_age_laps"] >= 0
                assert record["top_speed_kph"] is not None and 150 < record["top_speed_kph"] < 380
            checked += 1
    assert checked >= 3 * (len(view.active) - 1) + 1  # every lap of every car (the retired one stopped early)


@pytest.mark.parametrize("fmt", FORMATS)
def test_player_laps_carry_fuel_wear_and_top_speed(fmt: int) -> None:
    view = readonly(synthetic(fmt).state)
    player = view.player
    assert player is not None
    records = [results.lap_record(view, player, n) for n in sorted(player.laps)]
    assert records and all(r is not None for r in records)
    for record in records:
        assert record is not None
        assert 0 < record["fuel_used_kg"] < 5, record  # an F1 car burns one to two kilograms a lap
        assert record["fuel_used_pct"] is None
        assert set(record["wheel_wear_added_pct"] or {}) in ({"rl", "rr", "fl", "fr"}, set())
    assert any(r and r["wheel_wear_added_pct"] and min(r["wheel_wear_added_pct"].values()) > 0 for r in records)
    other = view.car(next(i for i in view.active if i != player.index))
    assert "fuel_used_kg" not in (results.lap_record(view, other, 1) or {})


@pytest.mark.parametrize("fmt", FORMATS)
def test_stints_follow_the_games_stint_history_and_pit_stops(fmt: int) -> None:
    run = synthetic(fmt)
    view = readonly(run.state)
    for i in view.active:
        car = view.car(i)
        history = run.history[i]
        game = history["tyreStintsHistoryData"][: history.count("numTyreStints")]
        stints = results.stints(car)
        assert len(stints) == len(game), i
        for stint, row in zip(stints, game, strict=True):
            assert stint["tyre"] == slug("visualTyreCompound", fmt, row["tyreVisualCompound"])
            assert stint["compound"] == slug("actualTyreCompound", fmt, row["tyreActualCompound"])
            if row["endLap"] != 255:
                assert stint["end_lap"] == row["endLap"] and not stint["running"]
        stops = results.pit_stops(view, car)
        assert len(stops) == car.pit_stops == len(stints) - 1
        for stop, before, after in zip(stops, stints, stints[1:], strict=False):
            assert stop["lap"] == before["end_lap"] and after["start_lap"] == stop["lap"] + 1
            assert stop["tyre_after"] == after["tyre"]
            assert 10_000 < stop["pit_lane_time_ms"] < 60_000 and 1_000 < stop["stop_time_ms"] < 10_000
        assert sum(s["laps"] for s in stints) == max(car.laps), "every lap on exactly one set"


@pytest.mark.parametrize("fmt", FORMATS)
def test_stint_laps_follow_the_games_tyre_age_by_the_documented_rule(fmt: int) -> None:
    run = synthetic(fmt)
    assert run.age_checks > 1000
    assert run.age_mismatches == []
    fitted_in_lap = [s.fitted_in_lap for car in run.state.active_cars for s in car.stints[1:]]
    assert fitted_in_lap, "the race has pit stops"


@pytest.mark.parametrize("fmt", FORMATS)
def test_warnings_and_penalties_keep_their_lap(fmt: int) -> None:
    run = synthetic(fmt)
    view = readonly(run.state)
    assert run.warnings_seen, "the synthetic race has a warning"
    for i, lap in run.warnings_seen.items():
        entries = results.warnings(view, view.car(i))
        assert [(w["lap"], w["type"], w["kind"]) for w in entries] == [(lap, "warning", "issued")]
        assert entries[0]["infringement"] == "corner_cutting_gained_time" and entries[0]["time_s"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_retirement_and_the_time_penalty_reach_the_results(fmt: int) -> None:
    run = synthetic(fmt)
    view = readonly(run.state)
    document = results.results(view)
    assert document is not None
    retired = [row for row in document["cars"] if row["result_status"] == "retired"]
    assert len(retired) == 1 and retired[0]["position"] == len(document["cars"]) and retired[0]["points"] == 0
    assert retired[0]["result_reason"] == ("mechanical_failure" if fmt >= 2025 else None)
    assert retired[0]["laps_behind"] > 0 and retired[0]["gap_to_winner_ms"] is None
    assert view.car(retired[0]["index"]).result_status == 7  # the game's LapData says so too
    penalised = [row for row in document["cars"] if row["penalties_s"]]
    assert [(row["penalties_s"], row["num_penalties"]) for row in penalised] == [(5, 1)]
    log = results.penalties(view, view.car(penalised[0]["index"]))
    assert [(p["type"], p["infringement"], p["time_s"], p["kind"]) for p in log] == [
        ("time_penalty", "small_collision", 5, "issued")]
    assert log[0]["other_driver"] == view.car(log[0]["other_car"]).name


@pytest.mark.parametrize("fmt", FORMATS)
def test_standings_are_one_consistent_running_order(fmt: int) -> None:
    view = readonly(synthetic(fmt).state)
    table = results.standings(view)
    assert [row["position"] for row in table] == list(range(1, len(view.active) + 1))
    assert {row["index"] for row in table} == set(view.active)
    assert all(row["name"] and row["tyre"] for row in table)


def test_penalty_served_and_garbage_events_never_break_the_log() -> None:
    state = SessionState()
    process_packet(state, build(2025, 2, {"lapData": [{"resultStatus": 2, "currentLapNum": 4}] * 2}, session_uid=9))
    process_packet(state, build_event(2025, "PENA", {"penaltyType": 4, "infringementType": 17, "vehicleIdx": 1,
                                                      "otherVehicleIdx": 0, "time": 5, "lapNum": 3}, session_uid=9))
    process_packet(state, build_event(2025, "DTSV", {"vehicleIdx": 1}, session_uid=9))
    process_packet(state, build_event(2025, "PENA", {"vehicleIdx": 200}, session_uid=9))  # no such car
    process_packet(state, build_event(2025, "SPTP", {"vehicleIdx": 1, "speed": math.nan}, session_uid=9))
    process_packet(state, build_event(2025, "SPTP", {"vehicleIdx": 0, "speed": 321.5}, session_uid=9))
    view = readonly(state)
    log = results.penalties(view, view.car(1))
    assert [(p["kind"], p["type"], p["infringement"], p["time_s"], p["lap"]) for p in log] == [
        ("issued", "time_penalty", "pit_lane_speeding", 5, 3), ("served", None, None, None, 4)]
    assert log[0]["other_car"] == 0
    assert view.car(1).speed_trap_kph is None and view.speed_trap_best == (321.5, 0)
    for _ in range(200):
        process_packet(state, build_event(2025, "PENA", {"penaltyType": 5, "vehicleIdx": 1}, session_uid=9))
    assert len(state.cars[1].penalty_log) == 64  # bounded: the latest kept


def test_garbage_speeds_never_become_a_top_speed() -> None:
    state = SessionState()
    fmt = 2025
    process_packet(state, build(fmt, 2, {"lapData": [{"resultStatus": 2, "currentLapNum": 1}]}, session_uid=3))
    process_packet(state, build(fmt, 6, {"carTelemetryData": [{"speed": 65535}]}, session_uid=3))
    process_packet(state, build(fmt, 2, {"lapData": [{"resultStatus": 2, "currentLapNum": 2,
                                                      "lastLapTimeInMS": 80_000}]}, session_uid=3))
    car = readonly(state).car(0)
    assert sorted(car.lap_facts) == [1]
    assert car.lap_facts[1].top_speed_kph is None and car.top_speed_kph is None  # 65,535 km/h is no car


def test_a_flashback_forgets_future_laps_stints_and_stops() -> None:
    run = synthetic(2025)
    state = run.state
    car = next(c for c in state.active_cars if c.pit_log)
    stop = car.pit_log[0].lap
    from bridge.state.derive import process_rewind

    process_rewind(state, car, stop)
    assert max(car.lap_facts, default=0) < stop and not car.pit_log
    assert car.stints[-1].end_lap is None and all(s.start_lap <= stop for s in car.stints)


@pytest.mark.parametrize("year", [2023, 2024])
def test_results_from_a_real_final_classification(parser_captures: Path, year: int) -> None:
    state = SessionState()  # the capture files come from different sessions: the classification alone
    packet = decode((parser_captures / f"{year}-08.bin").read_bytes())
    process_packet(state, packet)
    document = results.results(readonly(state))
    assert document is not None and len(document["cars"]) == packet["numCars"] == 20
    assert_results_match(document, packet, readonly(state))
    assert document["cars"][0]["gap_to_winner_ms"] == 0
    assert all(c["result_status"] == "finished" and c["stints"][0]["tyre"] for c in document["cars"])


@pytest.mark.parametrize("year", [2023, 2024])
def test_laps_from_a_real_session_history(parser_captures: Path, year: int) -> None:
    state = SessionState()
    process_packet(state, decode((parser_captures / f"{year}-02.bin").read_bytes()))
    packet = decode((parser_captures / f"{year}-11.bin").read_bytes())
    process_packet(state, packet)
    car = readonly(state).car(packet["carIdx"])
    done = [n + 1 for n in range(packet.count("numLaps")) if packet["lapHistoryData"][n]["lapTimeInMS"]]
    assert sorted(car.laps) == done
    assert [results.lap_record(readonly(state), car, n)["time_ms"] for n in done] == [  # type: ignore[index]
        packet["lapHistoryData"][n - 1]["lapTimeInMS"] for n in done]


def test_forza_lap_history_and_stint_from_the_same_neutral_code() -> None:
    from bridge.games.forza import synth as forza_synth
    from bridge.games.forza.codec import decode as forza_decode
    from bridge.games.forza.writer import process_telemetry

    state = SessionState()
    last_lap: dict[int, int] = {}  # laps completed -> the game's LastLap, in ms, when that count first shows
    for _, datagrams in forza_synth.ForzaRace(forza_synth.SynthConfig(laps=3, rate_hz=30)).frames():
        for data in datagrams:
            telemetry = forza_decode(data)
            assert telemetry, telemetry
            process_telemetry(state, telemetry)
            if telemetry.racing and telemetry["LapNumber"] > 0:
                last_lap.setdefault(telemetry["LapNumber"], round(telemetry["LastLap"] * 1000))
    view = readonly(state)
    player = view.player
    assert player is not None
    records = [results.lap_record(view, player, n) for n in sorted(player.laps)]
    assert [r["lap"] for r in records if r] == [1, 2, 3]
    for record in records:
        assert record is not None
        assert record["time_ms"] == last_lap[record["lap"]]
        assert record["tyre"] is None and record["tyre_age_laps"] is None  # Forza names no compound
        assert 0 < record["fuel_used_pct"] < 100 and record["fuel_used_kg"] is None
        assert 100 < record["top_speed_kph"] < 450
    stints = results.stints(player)
    assert stints[0]["wear_per_lap_pct"] > 0
    assert stints == [{
        "tyre": None, "compound": None, "start_lap": 1, "end_lap": 3, "laps": 3, "running": True,
        "fitted_age_laps": 0, "fitted_on_in_lap": False, "wear_per_lap_pct": stints[0]["wear_per_lap_pct"],
    }]
    assert results.lap_message(player)["lap"] == 3  # type: ignore[index]


def test_a_hostile_classification_never_breaks_the_results() -> None:
    state = SessionState()
    rows = [{"position": 1, "numLaps": 5, "resultStatus": 3, "totalRaceTime": math.nan, "numTyreStints": 200,
             "tyreStintsEndLaps": [255] * 8, "tyreStintsVisual": [99] * 8, "tyreStintsActual": [250] * 8},
            {"position": 2, "numLaps": 5, "resultStatus": 250, "totalRaceTime": math.inf, "penaltiesTime": 255},
            {"position": 0}]  # a slot without a car
    process_packet(state, build(2025, FINAL_CLASSIFICATION, {"numCars": 255, "classificationData": rows},
                                session_uid=4))
    document = results.results(readonly(state))
    assert document is not None and [row["index"] for row in document["cars"]] == [0, 1]
    first, second = document["cars"]
    assert first["total_race_time_s"] is None and len(first["stints"]) == 8  # the count clamped to the array
    assert first["stints"][0]["tyre"] == "unknown_99" and second["result_status"] == "unknown_250"
    assert second["gap_to_winner_ms"] is None
    json.loads(json_text(document))
