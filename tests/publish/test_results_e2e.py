"""Results, lap messages and stints through a real mosquitto: a whole synthetic race as real UDP into a bridge.

The expected values come from the race's own datagrams (the game's FinalClassification, SessionHistory and
CarStatus), never from the bridge's state.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bridge.config import RateSettings
from bridge.games.f1.codec import Packet, decode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.f1.values import CAR_STATUS, FINAL_CLASSIFICATION, PARTICIPANTS, SESSION_HISTORY
from tests.broker import Mosquitto
from tests.harness import BridgeThread, ProcessSubscriber, replay, retained_snapshot, settings_for, write_capture
from tests.state.test_results import assert_results_match

SHORT_TRACK = 17  # Austria: ~69 s laps
ROOT = "rigbridge/rig1"


@dataclass
class Truth:
    """What the game said, read from the race's datagrams."""

    datagrams: int = 0
    classification: Packet | None = None
    participants: Packet | None = None
    history: dict[int, Packet] = field(default_factory=dict)
    status: Packet | None = None  # the last CarStatus: every car's final tyre age


def race(fmt: int, path: Path) -> Truth:
    config = SynthConfig(packet_format=fmt, cars=8, laps=3, seed=5, track_id=SHORT_TRACK, rate_hz=20, penalty=True,
                         retirement=True)
    frames = list(SyntheticRace(config).frames())
    truth = Truth(datagrams=write_capture(path, frames))
    for _, datagrams in frames:
        for data in datagrams:
            packet = decode(data)
            assert packet, packet
            pid = packet.packet_id
            if pid == FINAL_CLASSIFICATION:
                truth.classification = packet
            elif pid == SESSION_HISTORY:
                truth.history[packet["carIdx"]] = packet
            elif pid == PARTICIPANTS:
                truth.participants = packet
            elif pid == CAR_STATUS:
                truth.status = packet
    assert truth.classification is not None and truth.participants is not None and truth.status is not None
    return truth


def names_view(participants: Packet) -> Any:
    """The names the game sent, shaped like the view `assert_results_match` reads."""
    rows = participants["participants"]

    def car(i: int) -> Any:
        return SimpleNamespace(name=rows[i]["name"], race_number=rows[i]["raceNumber"], team_id=rows[i]["teamId"])

    return SimpleNamespace(car=car)


def sectors(row: Any, fmt: int) -> list[int]:
    ms, minutes = ("sector{}TimeMSPart", "sector{}TimeMinutesPart") if fmt >= 2024 else ("sector{}TimeInMS",
                                                                                          "sector{}TimeMinutes")
    return [row[minutes.format(s)] * 60000 + row[ms.format(s)] for s in (1, 2, 3)]


@pytest.mark.parametrize("fmt", [2025, 2026])
def test_results_laps_and_stints_of_a_synthetic_race_over_mqtt(mosquitto: Mosquitto, tmp_path: Path,
                                                               fmt: int) -> None:
    capture = tmp_path / "race.rbcap"
    truth = race(fmt, capture)
    sub = ProcessSubscriber(mosquitto.port, f"{ROOT}/#", directory=tmp_path).start()
    settings = settings_for(mosquitto.port, publish={"rates": RateSettings(fast=10.0, normal=5.0, slow=1.0)})
    bt = BridgeThread(settings).start()
    try:
        replay(bt.udp_port, capture, speed=12.0)

        def all_accounted(b: Any) -> bool:
            b.receiver.update_kernel_drops()
            return b.ingest.received + b.ingest.dropped["kernel_overflow"] >= truth.datagrams

        bt.wait(all_accounted, 30, "every datagram received or counted as dropped")
        time.sleep(1.0)  # every rate class came round
        bt.wait(lambda b: not b.outbox.has_pending(), 10, "an empty pending map")
        player = bt.call(lambda: bt.bridge.state.player_index)
    finally:
        bt.stop()
        sub.stop()
    messages = sub.snapshot()
    last = {m.topic: m for m in messages}
    classification, fmt_ = truth.classification, fmt
    assert classification is not None
    cars = [i for i, row in enumerate(classification["classificationData"]) if row["position"]]
    assert len(cars) == 8

    # session/results: the classification packet, field by field (retained).
    document = json.loads(last[f"{ROOT}/session/results"].payload)
    assert_results_match(document, classification, names_view(truth.participants))
    assert [row["result_status"] for row in document["cars"]].count("retired") == 1
    assert [row["penalties_s"] for row in document["cars"] if row["penalties_s"]] == [5]

    # A lap message for every car and every lap, exactly once, not retained; times as in the game's history.
    laps_published: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in messages:
        if m.topic.endswith("/lap_completed") and m.topic.startswith(f"{ROOT}/cars/"):
            assert not m.retain
            laps_published[int(m.topic.split("/")[3])].append(json.loads(m.payload))
    for i in cars:
        history = truth.history[i]
        done = [n for n in range(history.count("numLaps")) if history["lapHistoryData"][n]["lapTimeInMS"]]
        got = laps_published[i]
        assert [lap["lap"] for lap in got] == [n + 1 for n in done], f"car {i}: one message per lap, in order"
        for lap, n in zip(got, done, strict=True):
            row = history["lapHistoryData"][n]
            assert (lap["time_ms"], lap["sectors_ms"], lap["valid"]) == (
                row["lapTimeInMS"], sectors(row, fmt_), bool(row["lapValidBitFlags"] & 1)), (i, n + 1)
            assert lap["car"] == i and lap["tyre"] and lap["tyre_age_laps"] >= 0 and lap["position"] >= 1
    player_laps = [json.loads(m.payload) for m in messages if m.topic == f"{ROOT}/player/lap_completed"]
    assert [lap["lap"] for lap in player_laps] == [lap["lap"] for lap in laps_published[player]]
    assert all(lap["fuel_used_kg"] > 0 for lap in player_laps)

    # Stints: the game's stint history, one more than the pit stops, and the game's final tyre age by the rule.
    status = truth.status
    assert status is not None
    for i in cars:
        stints = json.loads(last[f"{ROOT}/cars/{i}/stints"].payload)
        history = truth.history[i]
        game = history["tyreStintsHistoryData"][: history.count("numTyreStints")]
        assert [s["end_lap"] for s in stints[:-1]] == [row["endLap"] for row in game[:-1]]
        assert len(stints) == classification["classificationData"][i]["numPitStops"] + 1 == len(game)
        running = stints[-1]
        age = status["carStatusData"][i]["tyresAgeLaps"]
        assert age == running["fitted_age_laps"] + running["laps"] + int(running["fitted_on_in_lap"]), (i, running)
        assert last[f"{ROOT}/cars/{i}/tyre_age_laps"].payload == str(age)

    # The running order as one table, the pit lane time under its honest name (and the old one, deprecated).
    standings = json.loads(last[f"{ROOT}/session/standings"].payload)
    assert sorted(row["position"] for row in standings) == list(range(1, 9))
    for i in cars:
        assert last[f"{ROOT}/cars/{i}/pit_lane_time_ms"].payload == last[f"{ROOT}/cars/{i}/pit_time_lost_ms"].payload

    # Retained where a late subscriber needs a table; lap messages are a stream, never retained.
    retained = retained_snapshot(mosquitto.port, f"{ROOT}/#")
    assert {f"{ROOT}/session/results", f"{ROOT}/session/standings", f"{ROOT}/cars/0/stints"} <= set(retained)
    assert not any(t.endswith("/lap_completed") for t in retained)

    # Broker load: lap messages at most one per car per lap; the new documents counted.
    counts = Counter(m.topic.split("/", 2)[2].replace(f"cars/{m.topic.split('/')[3]}/", "cars/*/")
                     if m.topic.split("/")[2] == "cars" else m.topic.split("/", 2)[2] for m in messages)
    laps_total = sum(len(v) for v in laps_published.values())
    assert counts["cars/*/lap_completed"] == laps_total <= 8 * 3
    assert counts["session/results"] == 1
    assert counts["cars/*/stints"] <= 8 * (1 + 3 + 1)  # the first set, a lap longer each lap, the stop
