"""F1's Session and TyreSets packets become the aids' forecast and tyre sets; the session facts drive the fuel
model's finish (race laps, or a timed session's clock); the aids' files keep the single-writer rule."""

from __future__ import annotations

from pathlib import Path

import pytest

import bridge.games.registry  # noqa: F401 - the games register their enumerations
from bridge.games.f1.aids import forecast_samples
from bridge.games.f1.codec import build
from bridge.games.f1.writer import process_packet
from bridge.state.aids import documents
from bridge.state.aids.forecast import ForecastSample
from bridge.state.session import SessionState
from bridge.state.view import readonly
from tests.state.test_single_writer import writes_outside_writers

UID = 5
RACE, PRACTICE = 15, 1  # sessionType (2024+)


def sample(session: int, offset: int, rain: int, weather: int = 1) -> dict[str, int]:
    return {"sessionType": session, "timeOffset": offset, "weather": weather, "trackTemperature": 30,
            "trackTemperatureChange": 0, "airTemperature": 22, "airTemperatureChange": 2, "rainPercentage": rain}


def test_the_forecast_is_the_running_sessions_samples() -> None:
    rows = [sample(PRACTICE, 0, 90), sample(RACE, 10, 40), sample(RACE, 0, 5), sample(RACE, 5, 20)]
    packet = build(2025, 1, {"sessionType": RACE, "numWeatherForecastSamples": 4, "weatherForecastSamples": rows},
                   session_uid=UID)
    samples = forecast_samples(packet)
    assert [s.offset_min for s in samples] == [0, 5, 10] and samples[1].rain_pct == 20
    state = SessionState()
    process_packet(state, packet)
    assert "forecast" in state.changed
    ctx = type("Ctx", (), {"state": readonly(state)})()
    assert documents.rain_pct_next(ctx) == 20
    doc = documents.forecast(ctx)
    assert doc is not None and doc[0] == {"offset_min": 0, "weather": "light_cloud", "track_temp_c": 30,
                                          "track_temp_trend": "up", "air_temp_c": 22, "air_temp_trend": "no_change",
                                          "rain_pct": 5}


def test_the_nearest_sample_is_now_when_nothing_lies_ahead() -> None:
    from bridge.state.aids.forecast import next_sample

    now = ForecastSample(0, 0, 30, 2, 20, 2, 7)
    assert next_sample((now,)) == now and next_sample(()) is None


def test_the_players_tyre_sets() -> None:
    state = SessionState()
    process_packet(state, build(2025, 2, {"lapData": [{"resultStatus": 2, "carPosition": 1}]}, session_uid=UID))
    sets = [{"visualTyreCompound": 16, "actualTyreCompound": 19, "wear": 12, "available": 1, "lifeSpan": 9,
             "usableLife": 16}, {"visualTyreCompound": 17, "actualTyreCompound": 18, "wear": 0, "available": 0},
            {"visualTyreCompound": 18, "actualTyreCompound": 17, "wear": 30, "available": 0, "lifeSpan": 20,
             "usableLife": 34}]
    process_packet(state, build(2025, 12, {"carIdx": 0, "fittedIdx": 2, "tyreSetData": sets}, session_uid=UID,
                                frame=2))
    doc = documents.tyre_sets(readonly(state).player)
    assert doc is not None and [row["tyre"] for row in doc] == ["soft", "hard"]  # available, and the fitted one
    assert doc[0] == {"tyre": "soft", "compound": "c2", "wear_pct": 12, "life_laps": 9, "usable_life_laps": 16,
                      "fitted": False}
    assert doc[1]["fitted"] is True
    other = build(2025, 12, {"carIdx": 1, "fittedIdx": 0, "tyreSetData": sets[:1]}, session_uid=UID, frame=3)
    process_packet(state, other)
    assert "aids.tyre_sets" not in state.changed  # another car's sets are not the player's


def lap_data(lap: int, last_ms: int = 0) -> dict[str, object]:
    return {"lapData": [{"resultStatus": 2, "carPosition": 1, "currentLapNum": lap, "lastLapTimeInMS": last_ms}]}


@pytest.mark.parametrize(("session", "time_left", "expected"), [(RACE, 0, 7.0), (PRACTICE, 600, 8.0)])
def test_the_finish_is_race_laps_or_what_the_clock_allows(session: int, time_left: int, expected: float) -> None:
    state = SessionState()
    frame = 0

    def send(pid: int, body: dict[str, object]) -> None:
        nonlocal frame
        frame += 1
        process_packet(state, build(2025, pid, body, session_uid=UID, frame=frame))

    send(1, {"sessionType": session, "totalLaps": 10, "sessionTimeLeft": time_left})
    fuel = 20.0
    send(7, {"carStatusData": [{"fuelInTank": fuel}]})
    send(2, lap_data(1))
    for lap in (2, 3, 4):
        fuel -= 1.5
        send(7, {"carStatusData": [{"fuelInTank": fuel}]})
        send(2, lap_data(lap, 80_000))  # 80 s laps: 600 s left allow 7.5, so 8 laps are started and finished
    estimate = readonly(state).aids.fuel
    assert estimate is not None and estimate.lap == 3 and estimate.per_lap == pytest.approx(1.5)
    assert estimate.remaining_laps == expected
    assert estimate.to_finish == pytest.approx(1.5 * expected)


def test_the_aids_modules_keep_the_single_writer_rule() -> None:
    root = Path(__file__).resolve().parents[2] / "bridge"
    files = [*sorted((root / "state" / "aids").glob("*.py")), root / "games" / "f1" / "aids.py"]
    offences = {f.name: writes_outside_writers(f.read_text()) for f in files if f.name != "view.py"}
    assert {name: lines for name, lines in offences.items() if lines} == {}


def test_the_per_packet_work_is_far_below_half_a_point_of_a_core() -> None:
    """The aids' work on a lap data and a car status packet of a 22-car race, at 60 Hz: half a point of a core
    would be 83 µs per packet pair; the hooks must stay well below (the lap-level work runs once per lap)."""
    import timeit

    from bridge.games.f1.codec import Packet, decode
    from bridge.games.f1.synth import race
    from bridge.state.aids.hooks import process_aids_flag, process_aids_lap_data

    state = SessionState()
    for frame, (_, datagrams) in enumerate(race(2025, cars=22, laps=3, rate_hz=60, seed=3).frames()):
        for data in datagrams:
            packet = decode(data)
            if isinstance(packet, Packet):
                process_packet(state, packet)
        if frame > 2500:  # racing: lap 1 under way, a reference to come
            break
    def packet_pair() -> None:
        process_aids_lap_data(state, 1.0)
        process_aids_flag(state)

    runs = 2000
    cost = min(timeit.repeat(packet_pair, number=runs, repeat=5)) / runs
    assert cost < 40e-6, f"{cost * 1e6:.1f} µs per packet pair"
