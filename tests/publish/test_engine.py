"""The publish engine without a network: change-only, deadbands, latest-wins, rate classes, car lifecycle."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from bridge.config import default_settings
from bridge.games.f1.codec import build, build_event
from bridge.games.f1.values import CAR_STATUS, CAR_TELEMETRY, LAP_DATA, PARTICIPANTS, SESSION
from bridge.games.f1.writer import process_packet
from bridge.publish.catalog import CATALOG
from bridge.publish.engine import PublishEngine
from bridge.publish.leds import Lights
from bridge.state.session import SessionState
from bridge.state.view import readonly
from bridge.status import BridgeStatus

ROOT = "rigbridge/rig1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, slots: int = 4, **publish: Any) -> None:
        settings = default_settings()
        settings = dataclasses.replace(
            settings,
            mqtt=dataclasses.replace(settings.mqtt, rig="rig1"),
            publish=dataclasses.replace(settings.publish, **publish),
        )
        self.clock = Clock()
        self.state = SessionState()
        view = readonly(self.state)
        self.engine = PublishEngine(settings, view, BridgeStatus(), Lights(view, settings.lights, self.clock),
                                    clock=self.clock)
        self.cars = slots
        self.frame = 10
        self.lap_rows = [{"carPosition": i + 1, "currentLapNum": 1, "resultStatus": 2} for i in range(slots)]

    def send(self, pid: int, body: dict[str, Any]) -> set[str]:
        self.frame += 1
        changed = process_packet(self.state, build(2025, pid, body, session_uid=99, frame=self.frame))
        self.engine.on_change(changed)
        return changed

    def telemetry(self, **player: Any) -> None:
        rows = [{"speed": 100 + i, "gear": 3, "engineRPM": 9000} for i in range(self.cars)]
        rows[0].update(player)
        self.send(CAR_TELEMETRY, {"carTelemetryData": rows})

    def lap_data(self, changes: dict[int, dict[str, Any]] | None = None) -> None:
        for i, row in (changes or {}).items():
            self.lap_rows[i].update(row)
        self.send(LAP_DATA, {"lapData": self.lap_rows})

    def drain(self, tick: bool = True) -> dict[str, Any]:
        """Let every rate class come round, take everything pending and report it sent; topic -> message."""
        if tick:
            self.clock.now += 10.0
            self.engine.tick()
        out = {}
        for m in self.engine.outbox.take(10_000):
            self.engine.outbox.sent(m)
            out[m.topic] = m
        return out


def test_realtime_player_fields_are_ready_right_after_the_telemetry_packet() -> None:
    h = Harness()
    h.lap_data()
    h.telemetry(speed=250, gear=7, throttle=0.5, revLightsPercent=80, revLightsBitValue=0x0FFF)
    realtime = {m.topic: m for m in h.engine.outbox.pending_realtime.values()}
    assert realtime[f"{ROOT}/player/throttle_pct"].payload == "50"
    assert f"{ROOT}/player/speed_kph" not in realtime  # fast class: read when its turn comes
    assert realtime[f"{ROOT}/player/gear"].payload == "7"
    assert realtime[f"{ROOT}/lights/rev_bits"].payload == str(0x0FFF)
    assert realtime[f"{ROOT}/lights/rev_pct"].payload == "80"
    assert all(not m.retain and m.qos == 0 for m in realtime.values())


def test_unchanged_values_are_not_published_again() -> None:
    h = Harness()
    h.lap_data()
    h.telemetry(speed=250)
    first = h.drain()
    assert f"{ROOT}/player/speed_kph" in first
    h.telemetry(speed=250)
    assert f"{ROOT}/player/speed_kph" not in h.drain()
    h.telemetry(speed=260)
    assert h.drain()[f"{ROOT}/player/speed_kph"].payload == "260"


def test_deadband_suppresses_small_changes() -> None:
    h = Harness()
    h.lap_data()
    h.telemetry(engineRPM=9000)
    h.drain()
    h.telemetry(engineRPM=9040)  # rpm deadband is 50
    assert f"{ROOT}/player/rpm" not in h.drain()
    h.telemetry(engineRPM=9100)
    assert h.drain()[f"{ROOT}/player/rpm"].payload == "9100"


def test_deadband_override_from_config() -> None:
    h = Harness(deadbands=(("player/rpm", 500.0),))
    h.lap_data()
    h.telemetry(engineRPM=9000)
    h.drain()
    h.telemetry(engineRPM=9400)
    assert f"{ROOT}/player/rpm" not in h.drain()


def test_latest_value_wins_and_the_map_stays_bounded() -> None:
    h = Harness()
    h.lap_data()
    for n in range(300):
        h.telemetry(throttle=n / 300, speed=n)  # nobody takes: a broker outage
        h.clock.now += 0.05
        h.engine.tick()
    size = h.engine.outbox.pending_size()
    topics = {m.topic for m in h.engine.outbox.take(10_000)}
    assert size == len(topics)  # one message per topic, never a queue
    h.telemetry(throttle=0.123)
    assert h.engine.outbox.pending_realtime[f"{ROOT}/player/throttle_pct"].payload == "12"


def test_a_failed_publish_is_retried_unless_a_newer_value_waits() -> None:
    h = Harness()
    h.lap_data()
    h.telemetry(throttle=0.2)
    message = next(m for m in h.engine.outbox.take(10_000) if m.topic.endswith("player/throttle_pct"))
    h.engine.outbox.failed(message)
    assert h.engine.outbox.pending_realtime[message.topic].payload == "20"
    h.engine.outbox.take(10_000)
    h.telemetry(throttle=0.3)
    h.engine.outbox.failed(message)  # the old value failed after a newer one was queued
    assert h.engine.outbox.pending_realtime[message.topic].payload == "30"


def test_rate_classes_wait_for_their_turn() -> None:
    h = Harness()
    h.lap_data({1: {"deltaToCarInFrontMSPart": 1500}})
    gap = f"{ROOT}/cars/1/gap_ahead_ms"
    h.engine.tick()  # first tick: every class is due
    assert h.drain(tick=False)[gap].payload == "1500"
    h.lap_data({1: {"deltaToCarInFrontMSPart": 2500}})
    h.clock.now += 0.1  # normal class is 2 Hz: not yet
    h.engine.tick()
    assert gap not in h.drain(tick=False)
    h.clock.now += 0.5
    h.engine.tick()
    assert h.drain(tick=False)[gap].payload == "2500"


def test_on_change_fields_are_checked_at_the_fast_rate_not_per_packet() -> None:
    h = Harness()
    h.lap_data()
    h.drain()
    h.lap_data({2: {"carPosition": 1}, 0: {"carPosition": 3}})
    assert not any(t.endswith("/position") for t in h.engine.outbox.pending)  # nothing read per packet
    h.clock.now += 0.11  # the fast rate (10 Hz) comes round
    h.engine.tick()
    out = {t: m.payload for t, m in h.drain(tick=False).items()}
    assert out[f"{ROOT}/cars/2/position"] == "1" and out[f"{ROOT}/player/position"] == "3"
    assert f"{ROOT}/cars/1/position" not in out  # unchanged cars are not even read


def test_a_car_that_leaves_gets_its_retained_topics_cleared() -> None:
    h = Harness(slots=4)
    h.send(PARTICIPANTS, {"numActiveCars": 4, "participants": [{"name": f"D{i}", "raceNumber": i} for i in range(4)]})
    h.lap_data()
    sent = h.drain()
    assert f"{ROOT}/cars/3/name" in sent and f"{ROOT}/cars/3/position" in sent
    h.lap_data({3: {"resultStatus": 1}})
    cleared = h.drain()
    assert cleared[f"{ROOT}/cars/3/name"].payload == "" and cleared[f"{ROOT}/cars/3/name"].retain
    assert cleared[f"{ROOT}/cars/3/position"].payload == ""
    assert not any(t.startswith(f"{ROOT}/cars/3/") and m.payload for t, m in cleared.items())
    assert f"{ROOT}/cars/2/name" not in cleared


@pytest.mark.parametrize("cars,player,per_car", [("all", True, True), ("player", True, False), ("none", False, False)])
def test_cars_setting_trims_topics(cars: str, player: bool, per_car: bool) -> None:
    h = Harness(cars=cars)
    h.lap_data()
    h.telemetry()
    h.engine.tick()
    topics = set(h.drain())
    assert any("/player/" in t for t in topics) is player
    assert any("/cars/" in t for t in topics) is per_car
    assert f"{ROOT}/lights/rev_pct" in topics


def test_include_and_exclude_globs() -> None:
    h = Harness(include=("player/*", "lights/*"), exclude=("player/steer_pct",))
    h.lap_data()
    h.telemetry()
    topics = set(h.drain())
    assert f"{ROOT}/player/speed_kph" in topics and f"{ROOT}/lights/rev_bits" in topics
    assert f"{ROOT}/player/steer_pct" not in topics
    assert not any("/cars/" in t or "/session/" in t for t in topics)


def test_snapshot_offers_every_value_again_after_a_reconnect() -> None:
    h = Harness()
    h.send(SESSION, {"trackId": 7, "totalLaps": 12})
    h.lap_data()
    h.telemetry(speed=180)
    h.engine.tick()
    before = {t: m.payload for t, m in h.drain().items()}
    h.engine.snapshot()
    again = {t: m.payload for t, m in h.drain().items()}
    retained = {t for t, m in before.items()}
    assert retained <= set(again)
    assert again[f"{ROOT}/session/total_laps"] == "12"
    assert again[f"{ROOT}/player/speed_kph"] == "180"


def test_events_become_json_messages_never_retained() -> None:
    h = Harness()
    h.lap_data()
    h.frame += 1
    changed = process_packet(h.state, build_event(2025, "FTLP", {"vehicleIdx": 2, "lapTime": 81.25},
                                                  session_uid=99, frame=h.frame))
    h.engine.on_change(changed)
    h.frame += 1
    changed = process_packet(h.state, build_event(2025, "OVTK", {"overtakingVehicleIdx": 1,
                                                                 "beingOvertakenVehicleIdx": 0},
                                                  session_uid=99, frame=h.frame))
    h.engine.on_change(changed)
    events = [m for m in h.engine.outbox.take(10_000) if "/event/" in m.topic]
    assert [m.topic for m in events] == [f"{ROOT}/event/FTLP", f"{ROOT}/event/OVTK"]
    body = json.loads(events[0].payload)
    assert body["code"] == "FTLP" and body["vehicle_idx"] == 2 and body["lap_time"] == pytest.approx(81.25)
    assert all(m.qos == 1 and not m.retain for m in events)


def test_lap_completion_publishes_last_lap_and_sector_colours_at_once() -> None:
    h = Harness()
    h.lap_data({0: {"sector1TimeMSPart": 30_000, "sector2TimeMSPart": 31_000}})
    h.drain()
    h.lap_data({0: {"currentLapNum": 2, "lastLapTimeInMS": 92_500}})
    out = {t: m.payload for t, m in h.drain().items()}
    assert out[f"{ROOT}/player/last_lap_ms"] == "92500"
    assert out[f"{ROOT}/player/best_lap_ms"] == "92500"
    assert out[f"{ROOT}/player/last_lap/sector3_ms"] == "31500"
    assert out[f"{ROOT}/player/last_lap/sector1_colour"] == "purple"
    assert out[f"{ROOT}/session/best_lap_ms"] == "92500"


def test_status_and_flag_lights() -> None:
    h = Harness()
    h.lap_data()
    h.send(CAR_STATUS, {"carStatusData": [{"vehicleFIAFlags": 3, "pitLimiterStatus": 1}]})
    out = {t: m.payload for t, m in h.drain().items()}
    assert out[f"{ROOT}/lights/flag"] == "yellow" and out[f"{ROOT}/lights/pit_limiter"] == "true"
    h.send(SESSION, {"safetyCarStatus": 2})
    h.send(CAR_STATUS, {"carStatusData": [{"vehicleFIAFlags": 3}]})
    assert {t: m.payload for t, m in h.drain().items()}[f"{ROOT}/lights/flag"] == "virtual_safety_car"


def test_catalogue_has_no_duplicate_topics_and_realtime_is_never_retained() -> None:
    paths = [f.path for f in CATALOG]
    assert len(paths) == len(set(paths))
    assert all(not f.retain for f in CATALOG if f.rate == "realtime")
    assert {"lights/rev_bits", "lights/rev_pct", "player/speed_kph", "cars/{car}/position"} <= set(paths)


def test_a_value_that_becomes_unknown_has_its_retained_topic_cleared() -> None:
    h = Harness()
    h.lap_data({0: {"sector1TimeMSPart": 30_000, "sector2TimeMSPart": 31_000}})
    h.lap_data({0: {"currentLapNum": 2, "lastLapTimeInMS": 92_500}})
    assert h.drain()[f"{ROOT}/player/best_lap_ms"].payload == "92500"
    # A restart from the menu: a new session UID, no laps yet.
    h.frame += 1
    changed = process_packet(h.state, build(2025, LAP_DATA, {"lapData": h.lap_rows}, session_uid=100, frame=h.frame))
    h.engine.on_change(changed)
    cleared = h.drain()
    assert cleared[f"{ROOT}/player/best_lap_ms"].payload == "" and cleared[f"{ROOT}/player/best_lap_ms"].retain
    assert cleared[f"{ROOT}/session/best_lap_ms"].payload == ""
    assert f"{ROOT}/player/best_lap_ms" not in h.drain()  # cleared once, not again
