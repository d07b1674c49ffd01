"""Datagrams a careless or hostile sender can produce, through the real writer and publish engine.

Every datagram here decodes (each is encoded with the codec's own layouts): a change of format mid-session, a
spoofed frame number, NaN and infinities in float fields, a flood of unknown event codes. None of them may raise
in the writer or the engine, stop other topics from flowing, or make a container grow without bound.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
import re
import struct
from collections.abc import Iterator, Sized
from typing import Any

import pytest

from bridge.config import default_settings
from bridge.games.f1.codec import HEADER_SIZE_VALUES, blank_values, build, build_event, decode, encode, header_values
from bridge.games.f1.layouts import EVENT_DETAILS_SIZE, EVENT_PACKET_ID, HEADER_SIZE, LAYOUTS
from bridge.games.f1.synth import race
from bridge.games.f1.values import (
    CAR_STATUS,
    CAR_TELEMETRY,
    EVENT,
    LAP_DATA,
    PARTICIPANTS,
    SESSION,
    SESSION_HISTORY,
)
from bridge.games.f1.writer import STALE_WINDOW_FRAMES, process_packet
from bridge.publish.engine import PublishEngine
from bridge.publish.leds import Lights
from bridge.publish.policy import MAX_CACHED_VERDICTS
from bridge.state import changes
from bridge.state.changes import LAPS, Changes
from bridge.state.session import MAX_STINTS, SessionState
from bridge.state.view import readonly
from bridge.status import BridgeStatus

ROOT = "rigbridge/rig1"
UID = 0x5EED_0F_F1
F32_MAX = struct.unpack("<f", struct.pack("<f", 3.4028234663852886e38))[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """The writer and the publish engine wired as the bridge wires them, fed encoded datagrams."""

    def __init__(self) -> None:
        settings = default_settings()
        settings = dataclasses.replace(settings, mqtt=dataclasses.replace(settings.mqtt, rig="rig1"))
        self.clock = Clock()
        self.state = SessionState()
        self.view = readonly(self.state)
        self.status = BridgeStatus()
        self.lights = Lights(self.view, settings.lights, self.clock)
        self.engine = PublishEngine(settings, self.view, self.status, self.lights, clock=self.clock)
        self.published: dict[str, str] = {}  # topic -> last payload taken

    def feed(self, data: bytes) -> set[str]:
        packet = decode(data)
        assert packet, packet
        changed = process_packet(self.state, packet)
        if changed:
            self.engine.on_change(changed)
        return changed

    def tick(self, seconds: float = 10.0) -> dict[str, str]:
        """Let time pass, run the rate classes, take everything pending as sent; topic -> payload of this turn."""
        self.clock.now += seconds
        self.engine.tick()
        out = {}
        for message in self.engine.outbox.take(100_000):
            self.engine.outbox.sent(message)
            out[message.topic] = message.payload
        self.published.update(out)
        return out


def lap_rows(slots: int, lap: int, **row: Any) -> list[dict[str, Any]]:
    return [{"carPosition": i + 1, "currentLapNum": lap, "resultStatus": 2, **row} for i in range(slots)]


def datagram(fmt: int, pid: int, body: dict[str, Any], frame: int, uid: int = UID) -> bytes:
    return encode(build(fmt, pid, body, session_uid=uid, frame=frame))


# ------------------------------------------------------------------------------------------ slot count changes


@pytest.mark.parametrize(("before", "after"), [(2026, 2025), (2025, 2026)])
def test_a_change_of_slot_count_within_one_tick_keeps_every_topic_flowing(before: int, after: int) -> None:
    rig = Rig()
    slots_before, slots_after = LAYOUTS.num_cars[before], LAYOUTS.num_cars[after]
    rig.feed(datagram(before, LAP_DATA, {"lapData": lap_rows(slots_before, 1)}, 100))
    rig.tick()
    # Every car completes a lap: per-car work for every slot of the old format waits for the next tick...
    rows = lap_rows(slots_before, 2, lastLapTimeInMS=90_000)
    assert rig.feed(datagram(before, LAP_DATA, {"lapData": rows}, 101)).car_changed(LAPS, slots_before - 1)
    # ...when a datagram of the other format arrives.
    rig.feed(datagram(after, CAR_TELEMETRY, {"carTelemetryData": [{"speed": 111}] * slots_after}, 102))
    rig.tick()

    rig.feed(datagram(after, LAP_DATA, {"lapData": lap_rows(slots_after, 3)}, 103))
    rig.feed(datagram(after, CAR_TELEMETRY, {"carTelemetryData": [{"speed": 222}] * slots_after}, 104))
    rig.status.receiving = True
    rig.engine.mark("game")
    out = rig.tick()
    assert out[f"{ROOT}/game/receiving"] == "true"
    assert out[f"{ROOT}/cars/{slots_after - 1}/lap"] == "3"
    assert out[f"{ROOT}/player/speed_kph"] == "222"
    if slots_before > slots_after:  # slots the new format lacks: their retained topics are cleared
        assert rig.published[f"{ROOT}/cars/{slots_before - 1}/lap"] == ""


def _hostile_mix(rng: random.Random) -> Iterator[bytes]:
    """Packets of both slot counts interleaved at random, each kind that queues per-car work among them."""
    frame = 1000
    laps = {2025: 1, 2026: 1}
    while True:
        fmt = rng.choice((2025, 2026))
        slots = LAYOUTS.num_cars[fmt]
        uid = rng.choice((UID, UID + 1))
        frame += 1
        kind = rng.randrange(7)
        if kind == 0:
            laps[fmt] += 1
            rows = lap_rows(slots, laps[fmt], lastLapTimeInMS=80_000 + laps[fmt], pitLaneTimerActive=laps[fmt] % 2)
            yield datagram(fmt, LAP_DATA, {"lapData": rows}, frame, uid)
        elif kind == 1:
            lap = {"lapTimeInMS": 80_000 + frame, "lapValidBitFlags": 15}
            history = {"carIdx": rng.randrange(slots), "numLaps": 2, "lapHistoryData": [lap, lap]}
            yield datagram(fmt, SESSION_HISTORY, history, frame, uid)
        elif kind == 2:
            status = [{"visualTyreCompound": rng.choice((16, 17, 18)), "tyresAgeLaps": rng.randrange(3)}] * slots
            yield datagram(fmt, CAR_STATUS, {"carStatusData": status}, frame, uid)
        elif kind == 3:
            yield datagram(fmt, CAR_TELEMETRY, {"carTelemetryData": [{"speed": frame % 300}] * slots}, frame, uid)
        elif kind == 4:
            yield datagram(fmt, PARTICIPANTS, {"numActiveCars": slots}, frame, uid)
        elif kind == 5:
            yield datagram(fmt, SESSION, {"trackId": rng.randrange(30), "totalLaps": 50}, frame, uid)
        else:
            fastest = {"vehicleIdx": slots - 1, "lapTime": 80.5}
            yield encode(build_event(fmt, "FTLP", fastest, session_uid=uid, frame=frame))


def test_both_slot_counts_interleaved_at_random_never_break_the_engine() -> None:
    rig = Rig()
    rng = random.Random(12)
    for data in itertools.islice(_hostile_mix(rng), 3000):
        rig.feed(data)
        if rng.random() < 0.3:
            rig.tick(rng.choice((0.01, 0.2, 10.0)))
    rig.status.receiving = True
    rig.engine.mark("game")
    assert rig.tick()[f"{ROOT}/game/receiving"] == "true"
    assert f"{ROOT}/cars/23/lap" in rig.published and f"{ROOT}/event/FTLP" in rig.published


def test_two_real_races_of_different_formats_interleaved_frame_by_frame() -> None:
    rig = Rig()
    races = [race(2026, cars=24, seed=3, rate_hz=20).frames(), race(2025, cars=22, seed=4, rate_hz=20).frames()]
    kinds: set[int] = set()
    for _ in range(200):  # 10 s of each race: every packet kind of the start of a race
        for frames in races:
            _, datagrams = next(frames)
            for data in datagrams:
                kinds.add(data[6])
                rig.feed(data)
            rig.tick(0.05)
    rig.status.receiving = True
    rig.engine.mark("game")
    assert rig.tick()[f"{ROOT}/game/receiving"] == "true"
    assert {LAP_DATA, CAR_TELEMETRY, CAR_STATUS, PARTICIPANTS, SESSION, SESSION_HISTORY, EVENT} <= kinds
    assert f"{ROOT}/cars/23/position" in rig.published and f"{ROOT}/player/speed_kph" in rig.published


# ------------------------------------------------------------------------------------------ the stale rule


def _telemetry(speed: int, frame: int) -> bytes:
    return encode(build(2025, CAR_TELEMETRY, {"carTelemetryData": [{"speed": speed}]}, session_uid=UID,
                        frame=frame, overall_frame=frame))


def _poisoned_telemetry(speed: int, overall_frame: int) -> bytes:
    return encode(build(2025, CAR_TELEMETRY, {"carTelemetryData": [{"speed": speed}]}, session_uid=UID, frame=5,
                        overall_frame=overall_frame))


def test_one_datagram_with_a_huge_frame_does_not_freeze_telemetry_for_the_session() -> None:
    rig = Rig()
    rig.feed(datagram(2025, LAP_DATA, {"lapData": lap_rows(22, 1)}, 100))
    for frame in range(100, 110):
        rig.feed(_telemetry(100 + frame, frame))
    assert rig.tick()[f"{ROOT}/player/speed_kph"] == "209"
    rig.feed(_poisoned_telemetry(1, 0xFFFFFFFF))  # from anyone on the LAN, with the session's UID
    for frame in range(110, 130):
        rig.feed(_telemetry(100 + frame, frame))
        assert rig.view.player.speed_kph == 100 + frame
    assert rig.tick()[f"{ROOT}/player/speed_kph"] == "229"
    assert rig.state.stale_dropped == {}


def test_reordered_packets_within_the_window_are_dropped_and_counted_by_reason() -> None:
    state = SessionState()
    process_packet(state, decode(_telemetry(200, 5000)))
    assert not process_packet(state, decode(_telemetry(150, 4999)))
    assert not process_packet(state, decode(_telemetry(150, 5000 - STALE_WINDOW_FRAMES + 1)))
    assert state.stale_dropped == {"reordered": 2}
    assert state.player.speed_kph == 200
    # Further behind than any reordering: a restart under the same UID; it is taken and becomes the reference.
    telemetry = Changes.of(changes.CAR_TELEMETRY)
    assert process_packet(state, decode(_telemetry(50, 5000 - STALE_WINDOW_FRAMES))) == telemetry
    assert process_packet(state, decode(_telemetry(60, 5000 - STALE_WINDOW_FRAMES + 1))) == telemetry
    assert state.player.speed_kph == 60 and state.stale_dropped == {"reordered": 2}
    assert readonly(state).stale_dropped == {"reordered": 2}


# ------------------------------------------------------------------------------------------ NaN and infinity


def _value_types(struct_format: str) -> list[str]:
    """One type character per value `struct.unpack` returns for `struct_format`."""
    out: list[str] = []
    for count, kind in re.findall(r"(\d*)([a-zA-Z?])", struct_format):
        out.extend(kind * (1 if kind == "s" else int(count or 1)))
    return out


def _extreme(value: float, kind: str) -> float:
    """`value` as the field can carry it: floats (f32) hold up to about 3.4e38; doubles hold 1e308."""
    return math.copysign(F32_MAX, value) if kind == "f" and math.isfinite(value) else value


EXTREMES = (math.nan, math.inf, -math.inf, 1e308, -1e308)


def _packets_with_every_float(fmt: int, value: float) -> Iterator[bytes]:
    for pid, layout in LAYOUTS.formats[fmt].items():
        if pid == EVENT_PACKET_ID:
            continue
        values = blank_values(layout.record)
        values[:HEADER_SIZE_VALUES] = header_values(fmt, pid, session_uid=UID, frame=1000)
        for i, kind in enumerate(_value_types(layout.struct.format)):
            if kind in "fd":
                values[i] = _extreme(value, kind)
        if pid == LAP_DATA:  # every slot holds a car, so every per-car field is read
            for car in range(layout.num_cars):
                values[layout.index("lapData", car, "resultStatus")] = 2
        yield layout.struct.pack(*values)


def _events_with_every_float(fmt: int, value: float) -> Iterator[tuple[str, bytes]]:
    layout = LAYOUTS.formats[fmt][EVENT_PACKET_ID]
    for code, event in layout.events.items():
        details = [_extreme(value, kind) if kind in "fd" else 0 for kind in _value_types(event.struct.format)]
        raw = bytearray(EVENT_DETAILS_SIZE)
        event.struct.pack_into(raw, 0, *details)
        header = header_values(fmt, EVENT_PACKET_ID, session_uid=UID, frame=1000, session_time=_extreme(value, "f"))
        yield code, layout.struct.pack(*header, code.encode("ascii"), *raw)


def _strict_json(payload: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(payload, parse_constant=refuse)


@pytest.mark.parametrize("fmt", sorted(LAYOUTS.formats))
@pytest.mark.parametrize("value", EXTREMES, ids=["nan", "inf", "-inf", "huge", "-huge"])
def test_non_finite_and_huge_floats_never_raise_and_events_stay_json(fmt: int, value: float) -> None:
    rig = Rig()
    for data in _packets_with_every_float(fmt, value):
        rig.feed(data)
        rig.tick()
    events = {}
    for code, data in _events_with_every_float(fmt, value):
        rig.feed(data)
        out = rig.tick()
        events[code] = _strict_json(out[f"{ROOT}/event/{code}"])  # published, not lost
    carried = _extreme(value, "f") if math.isfinite(value) else None
    assert events["FTLP"] == {"code": "FTLP", "session_time": carried, "vehicle_idx": 0, "lap_time": carried}
    assert rig.state.fastest_lap_event == (None if carried is None else (0, round(carried * 1000)))
    # Telemetry keeps flowing after all of it.
    rig.feed(datagram(fmt, CAR_TELEMETRY, {"carTelemetryData": [{"speed": 123}]}, 2000))
    assert rig.tick()[f"{ROOT}/player/speed_kph"] == "123"


# ------------------------------------------------------------------------------------------ bounded containers


def _containers(obj: Any) -> Iterator[tuple[str, int]]:
    """(attribute, length) of every collection an object holds, one level down into dict values."""
    for name in dir(obj):
        if name.startswith("__"):
            continue
        try:
            value = object.__getattribute__(obj, name)
        except AttributeError:
            continue
        if isinstance(value, Sized) and not isinstance(value, (str, bytes)):
            yield name, len(value)
            if isinstance(value, dict):
                for key, inner in value.items():
                    if isinstance(inner, Sized) and not isinstance(inner, (str, bytes)):
                        yield f"{name}[{key!r}]", len(inner)


def test_distinct_event_codes_and_hostile_streams_leave_every_container_bounded() -> None:
    rig = Rig()
    rig.feed(datagram(2025, LAP_DATA, {"lapData": lap_rows(22, 1)}, 100))
    template = bytearray(encode(build_event(2025, "AAAA", session_uid=UID, frame=200)))
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    codes = ("".join(c).encode("ascii") for c in itertools.product(letters, repeat=4))
    for n, code in enumerate(itertools.islice(codes, 50_000)):
        template[HEADER_SIZE : HEADER_SIZE + 4] = code
        rig.feed(bytes(template))
        if n % 100 == 0:
            rig.tick(0.01)
    rig.tick()
    # Compounds flipping on every CarStatus, for every car.
    for frame in range(300, 500):
        status = [{"visualTyreCompound": 16 + frame % 2, "tyresAgeLaps": 0}] * 22
        rig.feed(datagram(2025, CAR_STATUS, {"carStatusData": status}, frame))
    rig.tick()
    # The engine and what it is made of: the topic policy, the outbox, its field reader.
    parts = {"engine": rig.engine, "policy": rig.engine.policy, "outbox": rig.engine.outbox,
             "reader": rig.engine._reader, "state": rig.state}
    sizes = {f"{where}.{k}": v for where, obj in parts.items() for k, v in _containers(obj)}
    largest = max(sizes, key=sizes.__getitem__)
    assert sizes[largest] <= MAX_CACHED_VERDICTS, (largest, sizes[largest])
    assert max(len(car.stints) for car in rig.state.cars) == MAX_STINTS
    assert f"{ROOT}/event/ZZZZ" not in rig.published and f"{ROOT}/event/ABMR" in rig.published


def test_the_verdict_cache_holds_every_topic_the_catalogue_can_have() -> None:
    """Clearing the cache when full must be rare: every catalogue topic with 24 cars fits in it at once."""
    from bridge.publish.catalog import CATALOG

    topics = sum(24 if "{car}" in f.path else 1 for f in CATALOG)
    known_events = max(len(LAYOUTS.formats[fmt][EVENT_PACKET_ID].events) for fmt in LAYOUTS.formats)
    assert topics + known_events < MAX_CACHED_VERDICTS / 2
