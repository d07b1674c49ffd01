"""Faults on the game's side of the bridge: garbage at full rate, a new session, a flashback, a pause."""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1.codec import build, build_event, encode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.f1.values import LAP_DATA, PARTICIPANTS
from tests.broker import Mosquitto, free_port
from tests.harness import ProcessSubscriber, RigbridgeProcess
from tests.reliability.helpers import (
    ROOT,
    RSS_BOUND_MB,
    Feeder,
    Frames,
    RssWatch,
    bridge_config,
    disagreements,
    feed,
    payloads_between,
    reference,
    republished_unchanged,
    retained,
    start_bridge,
    window,
)

pytestmark = pytest.mark.broker


def bridge_with_subscriber(
    tmp_path: Path, closing: contextlib.ExitStack, broker: Mosquitto, **config: Any
) -> tuple[RigbridgeProcess, ProcessSubscriber, int]:
    """A subscriber on everything under ROOT, then the bridge: (bridge process, subscriber, UDP port)."""
    sub = ProcessSubscriber(broker.port, f"{ROOT}/#", directory=tmp_path).start()
    closing.callback(sub.stop)
    udp = free_port(socket.SOCK_DGRAM)
    proc = closing.enter_context(start_bridge(bridge_config(tmp_path, broker.port, udp, **config), broker.port))
    return proc, sub, udp


# ------------------------------------------------------------------------------------------------- garbage


def garbage(rng: random.Random, valid: list[bytes]) -> bytes:
    """One undecodable datagram: noise, a truncated or oversized real one, a wrong format, an unknown packet id."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 2048))
    data = bytearray(rng.choice(valid))
    if kind == 1:
        return bytes(data[: rng.randrange(0, len(data))])
    if kind == 2:
        return bytes(data) + rng.randbytes(rng.randrange(1, 600))
    if kind == 3:
        struct.pack_into("<H", data, 0, rng.choice((0, 2017, 2019, 2021, 2022, 2027, 2030, 65535)))
        return bytes(data)
    data[6] = rng.randrange(20, 256)  # packet id no format defines
    return bytes(data)


class Flood(threading.Thread):
    """`rate` undecodable datagrams per second for `seconds`, in 10 ms bursts, from its own socket."""

    def __init__(self, port: int, valid: list[bytes], rate: int = 1000, seconds: float = 5.0) -> None:
        super().__init__(name="flood", daemon=True)
        self.port, self.valid, self.rate, self.seconds = port, valid, rate, seconds
        self.sent = 0
        self.started_at = self.ended_at = 0.0

    def run(self) -> None:
        rng = random.Random(20777)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        per_tick = self.rate // 100
        self.started_at = time.time()
        start = time.monotonic()
        try:
            for tick in range(int(self.seconds * 100)):
                delay = start + tick / 100 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                for _ in range(per_tick):
                    sock.sendto(garbage(rng, self.valid), ("127.0.0.1", self.port))
                    self.sent += 1
        finally:
            self.ended_at = time.time()
            sock.close()


def test_udp_garbage_at_full_rate_beside_the_race(
    tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto, race: Frames
) -> None:
    proc, sub, udp = bridge_with_subscriber(tmp_path, closing, mosquitto)
    watch = RssWatch(proc.process.pid).start()
    closing.callback(watch.stop)
    frames = window(race, 10.0, 19.0)  # cars moving: the player's speed changes every frame
    feeder = Feeder(udp, frames).start()
    closing.callback(feeder.stop)
    time.sleep(3.0)
    rss_before = watch.baseline()
    flood = Flood(udp, [d for _, ds in frames[:60] for d in ds])
    flood.start()
    flood.join(30)
    feeder.join()
    time.sleep(2.5)
    messages = sub.snapshot()
    after = retained(mosquitto.port)
    want = reference(feeder.sent)

    def rate(start: float, end: float) -> float:
        """Messages per second from the race (not the bridge's own health topics) received in [start, end]."""
        race_topics = [m for m in messages if start <= m.t <= end and not m.topic.startswith(f"{ROOT}/bridge/")]
        return len(race_topics) / (end - start)

    calm = rate(flood.started_at - 2.0, flood.started_at)
    flooded = rate(flood.started_at, flood.ended_at)
    assert calm >= 100 and flooded >= 0.6 * calm, (calm, flooded)  # valid topics kept flowing through the flood
    dropped = [int(p) for p in payloads_between(messages, f"{ROOT}/bridge/dropped")]
    assert dropped == sorted(dropped) and len(set(dropped)) >= 3, dropped  # counted as it happened
    assert flood.sent >= 4500
    # Every garbage datagram is counted; a valid one only if the kernel had to drop it (at most 1 % here).
    assert flood.sent <= dropped[-1] <= flood.sent + 0.01 * len(feeder.sent), (dropped[-1], flood.sent)
    assert proc.poll() is None and after[f"{ROOT}/status"].payload == "online"
    assert disagreements(sub.last(), want) == {}  # the race's latest values, as if the flood never happened
    assert watch.peak() - rss_before <= RSS_BOUND_MB


# ------------------------------------------------------------------------------------------------- new session


def session_frames(fmt: int, cars: int, seed: int, seconds: float) -> tuple[int, Frames]:
    race = SyntheticRace(SynthConfig(packet_format=fmt, cars=cars, seed=seed, laps=2))
    frames = []
    for t, datagrams in race.frames():
        if t >= seconds:
            break
        frames.append((t, datagrams))
    return race.session_uid, frames


def test_game_restarts_with_a_new_session(
    tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto
) -> None:
    """22 cars in format 2024 (the player has completed a lap), then the game starts another session: 12 cars,
    format 2025, another seed, no lap completed yet."""
    uid_a, first = session_frames(2024, 22, seed=3, seconds=6.0)
    uid_b, second = session_frames(2025, 12, seed=11, seconds=5.0)
    assert uid_a != uid_b
    proc, sub, udp = bridge_with_subscriber(tmp_path, closing, mosquitto)
    sent = feed(udp, first, speed=2.0)
    sent += feed(udp, lap_completed(uid_a))
    time.sleep(1.5)
    before = retained(mosquitto.port)
    assert before[f"{ROOT}/session/best_lap_ms"].payload == "90000"
    cars_before = {t for t in before if t.startswith(f"{ROOT}/cars/")}
    sent += feed(udp, second)
    time.sleep(2.5)
    messages = sub.snapshot()
    last = sub.last()
    after = retained(mosquitto.port)
    want = reference(sent)

    uids = payloads_between(messages, f"{ROOT}/session/uid")
    assert uids[0] == str(uid_a) and uids[-1] == str(uid_b), uids
    assert after[f"{ROOT}/game/format"].payload == "2025"
    assert after[f"{ROOT}/session/active_cars"].payload == "12"
    gone = {t for t in cars_before if int(t.split("/")[3]) >= 12}
    assert len(gone) > 100
    assert {t for t in gone if last[t].payload != ""} == set()  # each one cleared with an empty retained payload
    assert not any(t in after for t in gone)  # so a new subscriber does not get them
    positions = sorted(int(after[f"{ROOT}/cars/{i}/position"].payload) for i in range(12))
    assert positions == list(range(1, 13))

    def stale(topic: str) -> bool:
        """Neither a topic of the new session nor the bridge's own (Home Assistant's `ha/` copies included)."""
        relative = topic[len(ROOT) + 1 :].removeprefix("ha/")
        return f"{ROOT}/{relative}" not in want and not relative.startswith(("bridge/", "game/", "status"))

    problems = {
        # A clear meant for a car of the old session must never land after the new session's value for it.
        "cleared after the new session's value": sorted(t for t in want if t in last and last[t].payload == ""),
        # Nothing of the first session may stay retained: a new subscriber would take it for the new one's.
        "left over from the first session": sorted(t for t in after if stale(t)),
        "retained value differs from the new session's": disagreements(after, want, retained_only=True),
    }
    found = {k: v for k, v in problems.items() if v}
    assert found == {}
    assert proc.poll() is None


def lap_completed(uid: int) -> Frames:
    """Two LapData packets (format 2024, 22 cars) in which the player completes lap 1 in 90.0 s."""
    rows = [{"carPosition": i + 1, "currentLapNum": 1, "resultStatus": 2, "gridPosition": i + 1} for i in range(22)]
    header = {"session_uid": uid, "player_car_index": 0}
    rows[0].update(sectors(30_000, 30_000))
    end_of_lap = encode(build(2024, LAP_DATA, {"lapData": rows}, frame=100_000, **header))
    rows[0].update(currentLapNum=2, lastLapTimeInMS=90_000, **sectors(0, 0))
    next_lap = encode(build(2024, LAP_DATA, {"lapData": rows}, frame=100_001, **header))
    return [(0.0, [end_of_lap]), (0.2, [next_lap])]


# ------------------------------------------------------------------------------------------------- flashback


class LapScript:
    """LapData for 20 cars (format 2025, player 0) built packet by packet; only the player's laps move."""

    def __init__(self, uid: int = 0x5EED_F1B4) -> None:
        self.uid = uid
        self.frame = 0  # frameIdentifier: goes back on a flashback
        self.overall = 0  # overallFrameIdentifier: never goes back
        self.rows = [
            {"carPosition": i + 1, "currentLapNum": 1, "resultStatus": 2, "gridPosition": i + 1} for i in range(20)
        ]

    def header(self) -> dict[str, Any]:
        self.frame += 1
        self.overall += 1
        return {"session_uid": self.uid, "frame": self.frame, "overall_frame": self.overall,
                "session_time": self.frame / 20, "player_car_index": 0}

    def participants(self) -> bytes:
        drivers = [{"name": f"DRIVER {i}", "raceNumber": i + 1, "aiControlled": 1} for i in range(20)]
        return encode(build(2025, PARTICIPANTS, {"numActiveCars": 20, "participants": drivers}, **self.header()))

    def lap_data(self, **player: Any) -> bytes:
        self.rows[0].update(player)
        return encode(build(2025, LAP_DATA, {"lapData": self.rows}, **self.header()))

    def flashback(self, to_frame: int) -> bytes:
        packet = build_event(2025, "FLBK", {"flashbackFrameIdentifier": to_frame,
                                            "flashbackSessionTime": to_frame / 20}, **self.header())
        self.frame = to_frame
        return encode(packet)


def sectors(s1: int, s2: int) -> dict[str, int]:
    return {"sector1TimeMSPart": s1 % 60000, "sector1TimeMinutesPart": s1 // 60000,
            "sector2TimeMSPart": s2 % 60000, "sector2TimeMinutesPart": s2 // 60000}


def test_flashback_rewinds_laps(tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto) -> None:
    """Lap 2 in 85.0 s (the best), a flashback into lap 2, lap 2 again in 88.0 s: the rewound lap is gone."""
    proc, sub, udp = bridge_with_subscriber(tmp_path, closing, mosquitto)
    script = LapScript()
    hold = 12  # packets per step at 20 Hz: 0.6 s, several turns of the 10 Hz on-change check
    steps: list[list[bytes]] = [[script.participants()]]

    def step(**player: Any) -> None:
        steps.append([script.lap_data(**player) for _ in range(hold)])

    step(currentLapNum=1, **sectors(30_000, 30_000))  # lap 1, sector 3
    step(currentLapNum=2, lastLapTimeInMS=90_000, **sectors(0, 0))  # lap 1 done: 90.0 s
    rewind_to = script.frame
    step(currentLapNum=2, **sectors(28_000, 28_000))
    step(currentLapNum=3, lastLapTimeInMS=85_000, **sectors(0, 0))  # lap 2 done: 85.0 s, the best so far
    steps.append([script.flashback(rewind_to)])  # frame numbers go back; the overall frame does not
    step(currentLapNum=2, lastLapTimeInMS=90_000, **sectors(0, 0))  # back in lap 2
    step(currentLapNum=2, **sectors(29_000, 29_500))
    step(currentLapNum=3, lastLapTimeInMS=88_000, **sectors(0, 0))  # lap 2 again: 88.0 s
    feed(udp, [(n * hold / 20, datagrams) for n, datagrams in enumerate(steps)])
    time.sleep(2.0)
    messages = sub.snapshot()

    def seq(path: str) -> list[str]:
        return payloads_between(messages, f"{ROOT}/{path}")

    assert seq("player/lap") == ["1", "2", "3", "2", "3"]  # the lap goes back and forward again
    assert seq("player/best_lap_ms") == ["90000", "85000", "90000", "88000"]  # the rewound lap's best is gone
    assert seq("session/best_lap_ms")[-1] == "88000"
    # The laps kept: lap 1, then the first lap 2, then lap 1 again (the only one left), then the new lap 2.
    assert seq("player/last_lap/sector1_ms") == ["30000", "28000", "30000", "29000"]
    # Had the rewound lap 2 (28.0 s sectors) stayed, the new one's 29.0 s sector 1 would be yellow.
    assert seq("player/last_lap/sector1_colour")[-1] == "purple"
    assert len(seq("event/FLBK")) == 1
    assert proc.poll() is None


# ------------------------------------------------------------------------------------------------- pause


@pytest.mark.slow
def test_pause_flips_game_receiving_and_nothing_else(
    tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto, race: Frames
) -> None:
    """The game sends nothing while paused. With `udp.receive_timeout_s: 1` a 5 s pause stands in for a long one."""
    proc, sub, udp = bridge_with_subscriber(tmp_path, closing, mosquitto, udp="receive_timeout_s: 1")
    feed(udp, window(race, 10.0, 14.0))
    paused_at = time.time()
    time.sleep(5.0)
    resumed_at = time.time()
    feed(udp, window(race, 14.0, 17.0))
    time.sleep(2.0)
    messages = [m for m in sub.snapshot() if m.topic.startswith(ROOT)]

    receiving = [(m.t, m.payload) for m in messages if m.topic == f"{ROOT}/game/receiving"]
    flips = [(t, p) for t, p in receiving if paused_at <= t <= resumed_at + 1.5]
    assert [p for _, p in flips] == ["false", "true"], receiving
    assert paused_at + 1.0 - 0.3 <= flips[0][0] <= paused_at + 1.0 + 1.5  # after the timeout, not long after
    assert resumed_at <= flips[1][0] <= resumed_at + 1.5
    assert "offline" not in payloads_between(messages, f"{ROOT}/status")  # the bridge stayed online throughout
    assert retained(mosquitto.port, settle=0.3)[f"{ROOT}/status"].payload == "online"
    # Nothing but the flag and the bridge's own health (rates falling to 0, heartbeat) during the pause, once the
    # values that changed just before it had their turn (slowest class: 1 Hz here).
    quiet = sorted({m.topic for m in messages if paused_at + 1.5 <= m.t <= resumed_at
                    and m.topic != f"{ROOT}/game/receiving" and not m.topic.startswith(f"{ROOT}/bridge/")})
    assert quiet == []
    assert republished_unchanged(messages, skip=lambda t: t == f"{ROOT}/bridge/uptime_s") == []
    assert proc.poll() is None
