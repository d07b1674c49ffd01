"""The racer's aids through the live bridge (real UDP on loopback, a real mosquitto): the synthetic race's fuel and
wear predictions against what the race really did, and constructed laps and fields for the delta and the rejoin."""

from __future__ import annotations

import itertools
import json
import socket
import time
from typing import Any

import pytest

from bridge.games.f1.codec import build, decode, encode
from bridge.games.f1.synth import race
from tests.broker import Mosquitto
from tests.harness import BridgeThread, Subscriber, send_frames, settings_for

pytestmark = pytest.mark.broker

ROOT = "rigbridge/rig1"
LAPS = 10
WHEELS = ("rl", "rr", "fl", "fr")


def truth_at_lines(frames: list[tuple[float, list[bytes]]]) -> tuple[dict[int, float], dict[int, tuple[float, ...]]]:
    """What the game itself said at each of the player's line crossings: fuel and tyre wear, by laps completed
    (0: lights out). Read from the datagrams with the decoder only."""
    fuel_now: float | None = None
    wear_now: tuple[float, ...] | None = None
    fuel: dict[int, float] = {}
    wear: dict[int, tuple[float, ...]] = {}
    last: tuple[int, int] | None = None
    for _, datagrams in frames:
        for data in datagrams:
            packet: Any = decode(data)
            if not packet:
                continue
            pid = packet.packet_id
            if pid == 7:
                fuel_now = packet["carStatusData"][0]["fuelInTank"]
            elif pid == 10:
                wear_now = tuple(packet["carDamageData"][0]["tyresWear"])
            elif pid == 3 and packet.code == "LGOT" and fuel_now is not None and wear_now is not None:
                fuel[0], wear[0] = fuel_now, wear_now
            elif pid == 2:
                row = packet["lapData"][0]
                now = (row["currentLapNum"], row["lastLapTimeInMS"])
                if last is not None and now != last and now[1] and fuel_now is not None and wear_now is not None:
                    done = last[0]  # the lap that ended (at the flag the lap number stays)
                    fuel.setdefault(done, fuel_now)
                    wear.setdefault(done, wear_now)
                last = now
    return fuel, wear


def models(messages: list[Any], topic: str) -> dict[int, dict[str, Any]]:
    found = {}
    for m in messages:
        if m.topic == f"{ROOT}/player/{topic}" and m.payload:
            doc = json.loads(m.payload)
            found[doc["lap"]] = doc
    return found


def test_synthetic_race_fuel_and_wear_predictions(mosquitto: Mosquitto) -> None:
    synthetic = race(2025, cars=6, laps=LAPS, rate_hz=10, seed=3, track_id=17, pit_stops=False)
    frames = list(synthetic.frames())
    fuel_truth, wear_truth = truth_at_lines(frames)
    assert sorted(fuel_truth) == list(range(LAPS + 1))
    burns = [fuel_truth[n - 1] - fuel_truth[n] for n in range(1, LAPS + 1)]
    assert all(1.0 < burn < 2.5 for burn in burns), burns  # the synthetic race burns fuel like a car
    assert all(1.0 < wear_truth[LAPS][w] - wear_truth[0][w] < 60 for w in range(4)), wear_truth  # and wears tyres

    bt = BridgeThread(settings_for(mosquitto.port)).start()
    subscriber = Subscriber(mosquitto.port, f"{ROOT}/#").start()
    try:
        sent = send_frames(bt.udp_port, frames, speed=30.0)
        bt.wait(lambda b: b.ingest.received >= sent, 15, "every datagram")
        subscriber.wait_for(lambda ms: LAPS in models(ms, "fuel_model"), 10, "the last lap's fuel estimate")
        assert bt.bridge is not None and bt.bridge.ingest.dropped_total == 0
        errors = dict(bt.bridge.faults.errors)
    finally:
        subscriber.stop()
        bt.stop()
    assert errors == {}
    published = subscriber.snapshot()

    # Fuel: the prediction made at half distance against what the rest of the race really used.
    fuel = models(published, "fuel_model")
    half = LAPS // 2
    used_after_half = fuel_truth[half] - fuel_truth[LAPS]
    assert fuel[half]["remaining_laps"] == LAPS - half
    assert fuel[half]["to_finish_kg"] == pytest.approx(used_after_half, abs=0.3)
    assert fuel[LAPS]["to_finish_kg"] == 0

    # Tyres: the wear each wheel was predicted to reach five laps later, against the game's wear then.
    tyres = models(published, "tyre_model")
    for lap in range(2, LAPS - 4):
        doc = tyres[lap]
        for w, wheel in enumerate(WHEELS):
            predicted = doc["wear_pct"][wheel] + 5 * doc["rate_pct_per_lap"][wheel]
            assert predicted == pytest.approx(wear_truth[lap + 5][w], abs=3.0), (lap, wheel)
            assert doc["laps_to_limit"][wheel] > 0

    # The rest of the aids reached the broker too.
    topics = {m.topic for m in published if m.payload}
    for path in ("player/delta_best_ms", "player/estimated_lap_ms", "lights/delta", "player/fuel_to_finish_kg",
                 "player/fuel_surplus_laps", "player/tyre_laps_left", "player/tyres/rl/laps_to_limit",
                 "player/battle/ahead", "player/battle/behind", "player/rejoin", "player/rejoin_position",
                 "session/forecast", "session/rain_pct_next", "player/tyre_sets", "player/driver_status",
                 "player/power_ice_kw", "player/brakes/rl/damage_pct", "cars/1/driver_status"):
        assert f"{ROOT}/{path}" in topics, path
    control = [json.loads(m.payload) for m in published if m.topic == f"{ROOT}/race_control"]
    texts = [c["text"] for c in control]
    assert "Lights out" in texts and "Chequered flag" in texts
    assert any(t.startswith("Race winner: ") for t in texts) and any("safety car" in t.lower() for t in texts)
    assert [c["seq"] for c in control] == sorted({c["seq"] for c in control})  # in order, none twice
    assert all(m.qos == 1 and not m.retain for m in published if m.topic == f"{ROOT}/race_control")


# ------------------------------------------------------------------------------------------------ constructed

TRACK_M = 4318.0
UID = 4242


def player_lap(lap: int, lap_ms: float, rate_hz: int, frame: int) -> list[bytes]:
    """LapData for the player driving lap `lap` at constant speed in `lap_ms` (the laps before it took 70 s)."""
    out: list[bytes] = []
    step = 1000.0 / rate_hz
    t = 0.0
    while t < lap_ms:
        d = TRACK_M * t / lap_ms
        body = {"lapData": [{"resultStatus": 2, "carPosition": 1, "currentLapNum": lap, "lapDistance": d,
                             "currentLapTimeInMS": int(t), "lastLapTimeInMS": 70_000 if lap > 1 else 0}]}
        out.append(encode(build(2025, 2, body, session_uid=UID, frame=frame + len(out))))
        t += step
    return out


def send_paced(port: int, datagrams: list[bytes], batch: int = 100, pause: float = 0.01) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for k in range(0, len(datagrams), batch):
            for data in datagrams[k : k + batch]:
                sock.sendto(data, ("127.0.0.1", port))
            time.sleep(pause)
    finally:
        sock.close()


def test_the_delta_reads_zero_on_an_equal_lap_and_tracks_a_slower_one(mosquitto: Mosquitto) -> None:
    session = encode(build(2025, 1, {"trackLength": int(TRACK_M), "trackId": 17, "sessionType": 15, "totalLaps": 5},
                           session_uid=UID, frame=0))
    # lap 1 becomes the reference, lap 2 is equal to it (its line is where lap 3 begins), lap 3 is 5 % slower
    equal_laps = [session, *player_lap(1, 70_000, 20, 1), *player_lap(2, 70_000, 20, 10_000)]
    slower_lap = player_lap(3, 73_500, 20, 20_000)
    bt = BridgeThread(settings_for(mosquitto.port)).start()
    subscriber = Subscriber(mosquitto.port, f"{ROOT}/player/delta_best_ms").start()
    try:
        send_paced(bt.udp_port, equal_laps)
        # latest wins: lap 2 reads 0 throughout (one message, within the deadband), so let it reach the broker
        subscriber.wait_for(lambda ms: bool(ms), 10, "lap 2's delta")
        send_paced(bt.udp_port, slower_lap)
        bt.wait(lambda b: b.ingest.received >= len(equal_laps) + len(slower_lap), 15, "every datagram")
        subscriber.wait_for(lambda ms: any(m.payload and int(m.payload) > 3400 for m in ms), 5, "lap 3's delta")
        assert bt.bridge is not None and bt.bridge.ingest.dropped_total == 0
    finally:
        subscriber.stop()
        bt.stop()
    values = [int(m.payload) for m in subscriber.snapshot() if m.payload]
    assert all(not m.retain for m in subscriber.snapshot())
    slower_from = next(i for i, v in enumerate(values) if v > 60)
    equal, slower = values[:slower_from], values[slower_from:]
    assert equal and all(abs(v) <= 50 for v in equal), equal  # lap 2, the line included
    assert len(slower) >= 20  # the bar moves through lap 3 (deadband 20 ms; latest wins when sent this fast)
    assert all(b >= a for a, b in itertools.pairwise(slower)), slower  # 5 % slower everywhere: the gap only grows
    assert max(slower) == pytest.approx(3500 * 73_450 / 73_500, abs=60)  # at the last sample before the line


def field_lap_data(gaps_ms: dict[int, int], frame: int) -> bytes:
    order = sorted(gaps_ms, key=lambda i: gaps_ms[i])
    rows = []
    for i in range(len(gaps_ms)):
        gap = gaps_ms[i]
        rows.append({"resultStatus": 2, "carPosition": order.index(i) + 1, "currentLapNum": 12,
                     "deltaToRaceLeaderMSPart": gap % 60_000, "deltaToRaceLeaderMinutesPart": gap // 60_000})
    return encode(build(2025, 2, {"lapData": rows}, session_uid=UID, frame=frame))


def test_the_rejoin_estimate_names_the_right_car(mosquitto: Mosquitto) -> None:
    names = ["PLAYER", "ALONSO", "BOTTAS", "GASLY", "HULKENBERG", "OCON", "SAINZ", "ZHOU"]
    participants = encode(build(2025, 4, {"numActiveCars": 8, "participants": [
        {"name": n.encode(), "raceNumber": k + 1} for k, n in enumerate(names)]}, session_uid=UID, frame=1))
    session = encode(build(2025, 1, {"trackId": 17, "sessionType": 15, "totalLaps": 30}, session_uid=UID, frame=2))
    # The player 12 s behind the leader; the pit stop at Austria is configured to cost 23 s: out at 35 s, behind
    # HULKENBERG (31 s), ahead of SAINZ (40.5 s).
    gaps = {0: 12_000, 1: 0, 2: 4_000, 3: 9_500, 4: 31_000, 5: 64_000, 6: 40_500, 7: 20_000}
    settings = settings_for(mosquitto.port, pit={"loss_s": (("aus*", 23.0),)})
    bt = BridgeThread(settings).start()
    subscriber = Subscriber(mosquitto.port, f"{ROOT}/player/#").start()
    try:
        send_paced(bt.udp_port, [participants, session, field_lap_data(gaps, 3)])
        subscriber.wait_for(lambda ms: any(m.topic.endswith("/rejoin_behind") for m in ms), 10, "the rejoin")
        subscriber.wait_for(lambda ms: any(m.topic.endswith("/rejoin") for m in ms), 5, "the rejoin document")
    finally:
        subscriber.stop()
        bt.stop()
    last = {m.topic.rsplit("/", 1)[1]: m.payload for m in subscriber.snapshot() if "/rejoin" in m.topic}
    assert last["rejoin_behind"] == "HULKENBERG"
    assert last["rejoin_position"] == "6"
    doc = json.loads(last["rejoin"])
    assert doc == {"position": 6, "behind": {"index": 4, "name": "HULKENBERG"}, "gap_ms": 4000,
                   "ahead_of": {"index": 6, "name": "SAINZ"}, "pit_loss_s": 23.0}
