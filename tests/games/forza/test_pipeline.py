"""Forza in the live pipeline: the writer, the neutral derivations, the catalogue fields it provides, rev lights
from rpm, and the synthetic race end to end through a real mosquitto."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bridge.config import default_settings
from bridge.games.f1.codec import build as f1_build
from bridge.games.f1.codec import encode as f1_encode
from bridge.games.forza.codec import decode
from bridge.games.forza.synth import race
from bridge.games.forza.writer import process_telemetry
from bridge.games.registry import FORZA, identify_live
from bridge.publish.leds import Lights
from bridge.state.session import SessionState
from bridge.state.view import readonly
from tests.broker import Mosquitto
from tests.harness import BridgeThread, Subscriber, retained_snapshot, send_frames, settings_for

LAPS = 2


def raced(variant: str = "motorsport", laps: int = LAPS) -> tuple[SessionState, list]:
    """The synthetic race folded into a state; returns it and the decoded datagrams."""
    state = SessionState()
    records = [decode(d) for _, (d,) in race(variant, laps=laps, cars=8, seed=5, rate_hz=20).frames()]
    for record in records:
        process_telemetry(state, record)
    return state, records


def test_laps_best_lap_and_stint_come_from_the_neutral_derivations() -> None:
    state, records = raced()
    view = readonly(state)
    player = view.player
    assert view.game == "forza" and view.active == (0,) and player is not None
    racing = [r for r in records if r.racing]
    sent = [b["LastLap"] for a, b in itertools.pairwise(racing) if b["LapNumber"] != a["LapNumber"]]
    assert sorted(player.laps) == list(range(1, LAPS + 1))
    assert [player.laps[n].time_ms for n in sorted(player.laps)] == [round(s * 1000) for s in sent]
    assert player.best_lap_ms == round(min(sent) * 1000) and view.best_lap[0] == player.best_lap_ms
    assert [(s.start_lap, s.end_lap) for s in player.stints] == [(1, None)]
    # After the flag the game goes to its menus (zeros): the race's laps stay.
    assert not records[-1].racing and view.racing is False and len(player.laps) == LAPS


def test_values_in_published_units() -> None:
    state, records = raced(laps=1)
    mid = next(r for r in records if r.racing and r["Speed"] > 30 and r["Gear"] not in (0, 11))
    process_telemetry(state, mid)
    car = readonly(state).player
    assert car.speed_kph == pytest.approx(mid["Speed"] * 3.6)
    assert car.rpm == round(mid["CurrentEngineRpm"]) and car.gear == mid["Gear"]
    assert car.tyre_surface_temps_c[2] == pytest.approx((mid["TireTempFrontLeft"] - 32) * 5 / 9)  # RL, RR, FL, FR
    assert car.tyre_wear_pct[0] == pytest.approx(mid["TireWearRearLeft"] * 100)
    assert car.fuel_pct == pytest.approx(mid["Fuel"] * 100) and 0 < car.fuel_pct <= 100
    assert car.throttle == pytest.approx(mid["Accel"] / 255) and car.lap == mid["LapNumber"] + 1
    assert car.car_class in ("d", "c", "b", "a", "s", "r", "p", "x") and car.drivetrain in ("fwd", "rwd", "awd")
    assert car.drs_open is None and car.ers_store_j is None  # F1's values: not Forza's


def test_rev_lights_from_rpm_between_idle_and_max() -> None:
    state, records = raced(laps=1)
    view = readonly(state)
    lights_settings = default_settings().lights
    lights = Lights(view, lights_settings)
    seen = set()
    for record in records:
        if not record.racing:
            continue
        process_telemetry(state, record)
        idle, top, rpm = record["EngineIdleRpm"], record["EngineMaxRpm"], record["CurrentEngineRpm"]
        position = (rpm - idle) / (top - idle) * 100
        pct = lights.rev_pct
        seen.add(pct)
        if position <= lights_settings.rev_start_pct:
            assert pct == 0
        elif position >= lights_settings.shift_pct:
            assert pct == 100 and lights.shift is True
        assert lights.leds is not None and len(lights.leds) == 6 * lights_settings.leds
    assert 0 in seen and 100 in seen and len(seen) > 20


def test_every_datagram_of_the_real_capture_goes_through_the_writer(captures: Path) -> None:
    data = (captures / "forza" / "fm2023-dash-331.bin").read_bytes()
    state = SessionState()
    view = readonly(state)
    speeds = []
    for offset in range(0, len(data), 331):
        record = decode(data[offset : offset + 331])
        assert record and identify_live(data[offset : offset + 331]) is FORZA
        process_telemetry(state, record)
        car = view.player
        speeds.append(car.speed_kph)
        if record.racing:
            assert 0 <= car.speed_kph < 450 and 0 <= car.fuel_pct <= 100 and car.gear in range(-1, 11)
            assert all(-30 < t < 250 for t in car.tyre_surface_temps_c)
    assert len(speeds) == 1793 and max(speeds) > 50


def test_an_f1_datagram_never_starts_forza() -> None:
    f1 = f1_encode(f1_build(2025, 6, {}, session_uid=1))
    assert identify_live(f1).key == "f1"


def test_the_synthetic_race_end_to_end_through_mosquitto(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    sub = Subscriber(broker.port, "#").start()
    bridge = BridgeThread(settings_for(broker.port)).start()
    try:
        frames = list(race("motorsport", laps=1, cars=8, seed=5, rate_hz=20).frames())
        send_frames(bridge.udp_port, frames, speed=25.0)
        root = "rigbridge/rig1"
        # The lap count and the best lap are read in different rate-class turns, and when the race is over the
        # game's lap counter starts again at 1: wait for both, and look at what was published on the way.
        sub.wait_for(lambda ms: any(m.topic == f"{root}/player/best_lap_ms" for m in ms)
                     and any(m.topic == f"{root}/player/lap" and m.payload == "2" for m in ms), 10, "lap 2, best lap")
        bridge.wait(lambda b: b.game is FORZA, 5, "forza")
        last = sub.last()
        assert last[f"{root}/game/name"].payload == "forza"
        assert sub.payloads(f"{root}/player/lap")[:2] == ["1", "2"]
        assert sub.payloads(f"{root}/player/best_lap_ms")[0] == sub.payloads(f"{root}/player/last_lap_ms")[0]
        assert {int(p) for p in sub.payloads(f"{root}/lights/rev_pct")} >= {0, 100}
        assert "true" in sub.payloads(f"{root}/lights/shift")
        assert any(p.startswith("00") and len(p) == 90 for p in sub.payloads(f"{root}/lights/leds"))
        for topic in ("player/speed_kph", "player/rpm", "player/gear", "player/fuel_pct", "player/car/class",
                      "player/tyres/fl/surface_temp_c", "player/tyres/fl/wear_pct", "session/racing"):
            assert f"{root}/{topic}" in last, topic
        assert not any(m.topic.startswith(f"{root}/cars/") for m in sub.snapshot())
        assert not any(m.topic in (f"{root}/player/drs", f"{root}/player/ers_store_j", f"{root}/session/track")
                       for m in sub.snapshot())
        # Home Assistant keeps Forza's entities only: what F1 announced before the first datagram is withdrawn.
        discovery = {t: m for t, m in retained_snapshot(broker.port, "homeassistant/#").items() if m.payload}
        configs = {t.split("/")[-2]: json.loads(m.payload) for t, m in discovery.items()}
        assert "player_speed_kph" in configs and "player_fuel_pct" in configs
        assert not {"player_drs", "player_ers_store_j", "session_track", "player_tyre_compound"} & set(configs)
        assert {c["device"]["model"] for c in configs.values() if "device" in c} == {"Forza telemetry bridge"}
    finally:
        bridge.stop()
        sub.stop()
        broker.stop()
