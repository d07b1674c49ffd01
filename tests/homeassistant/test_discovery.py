"""Home Assistant discovery and WLED output against a real mosquitto, driven by a synthetic race or built packets."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import Counter
from functools import cache
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from bridge.config import RateSettings
from bridge.games.f1.codec import build, encode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.publish.catalog import CAR_FIELDS, CATALOG
from bridge.publish.fieldread import FieldReader
from tests.broker import Mosquitto
from tests.harness import BridgeThread, Received, Subscriber, retained_snapshot, send_frames, settings_for
from tests.homeassistant.ha_reference import problems

SHORT_TRACK = 17  # Austria
ALL_GROUPS = ("session", "player", "cars", "lights", "bridge")
ROOT = "rigbridge/rig1"
CONFIG_TOPIC = re.compile(r"homeassistant/(sensor|binary_sensor)/rig1/([A-Za-z0-9_-]+)/config")
PATHS = {f.path: f for f in CATALOG}
CAR_HA = {f"cars/{{car}}/{d.path}": d.ha for d in CAR_FIELDS}

pytestmark = pytest.mark.broker


@cache
def race_frames(seconds: float, cars: int = 20) -> list[tuple[float, list[bytes]]]:
    frames = []
    config = SynthConfig(packet_format=2025, cars=cars, laps=3, seed=7, track_id=SHORT_TRACK)
    for t, datagrams in SyntheticRace(config).frames():
        if t > seconds:
            break
        frames.append((t, datagrams))
    return frames


def ha_settings(port: int, rig: str = "rig1", **sections):
    publish = {"rates": RateSettings(fast=10.0, normal=5.0, slow=1.0), **sections.pop("publish", {})}
    return settings_for(port, rig, publish=publish, **sections)


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def configs(messages: list[Received]) -> dict[str, str]:
    """The last discovery payload per config topic."""
    return {m.topic: m.payload for m in messages
            if m.topic.startswith("homeassistant/") and m.topic != "homeassistant/status"}


def field_of(relative: str):
    """The catalogue field behind a topic path below <root> (car index replaced by `{car}`)."""
    parts = relative.split("/")
    if parts[0] == "cars":
        return PATHS["/".join(["cars", "{car}", *parts[2:]])]
    return PATHS[relative]


def fast(f) -> bool:
    return f.rate in ("realtime", "fast")


def publish_once(port: int, topic: str, payload: str, retain: bool = False) -> None:
    done = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_publish = lambda *a: done.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain)
    assert done.wait(5), "publish not acknowledged"
    client.loop_stop()
    client.disconnect()


def no_values(bt: BridgeThread) -> set[str]:
    """State topics of entities whose field has no value in the bridge's state now (nothing to publish yet)."""

    def read() -> set[str]:
        reader = FieldReader(bt.bridge.view, bt.bridge.engine.context)
        entities = bt.bridge.services["homeassistant"].entities
        return {e.state_topic for e in entities if reader.render(e.field, e.car) is None}

    return bt.call(read)


def test_discovery_of_a_synthetic_race_is_valid_complete_and_stable(broker: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(broker.port, "#").start()
    bt = BridgeThread(ha_settings(broker.port, homeassistant={"groups": ALL_GROUPS})).start()
    try:
        send_frames(bt.udp_port, race_frames(12.0), speed=3.0)
        time.sleep(1.5)  # a rate-limit turn and every rate class came round
        bt.wait(lambda b: not b.engine.outbox.has_pending(), 10, "empty pending map")
        unset = no_values(bt)
        entity_count = bt.call(lambda: len(bt.bridge.services["homeassistant"].entities))
    finally:
        bt.stop()
        sub.stop()
    messages = sub.snapshot()
    first = {k: v for k, v in configs(messages).items() if v}
    assert len(first) == entity_count
    received = {m.topic for m in messages if m.payload}
    payloads: dict[str, set[str]] = {}
    for m in messages:
        payloads.setdefault(m.topic, set()).add(m.payload)

    parsed = {}
    for topic, payload in first.items():
        match = CONFIG_TOPIC.fullmatch(topic)
        assert match, topic  # inside the ACL pattern homeassistant/+/<rig>/#, one object id level
        component, object_id = match.groups()
        config = json.loads(payload)
        assert problems(component, config) == [], (topic, problems(component, config))
        assert config["unique_id"] == f"rigbridge_rig1_{object_id}"
        parsed[topic] = (component, config)

    unique_ids = [c["unique_id"] for _, c in parsed.values()]
    entity_ids = [c["default_entity_id"] for _, c in parsed.values()]
    assert len(set(unique_ids)) == len(unique_ids) and len(set(entity_ids)) == len(entity_ids)
    assert all(c["device"]["identifiers"] == ["rigbridge_rig1"] for _, c in parsed.values())
    assert len({json.dumps(c["device"], sort_keys=True) for _, c in parsed.values()}) == 1  # one device

    scopes: Counter[str] = Counter()
    per_car: Counter[str] = Counter()
    for component, config in parsed.values():
        state = config["state_topic"]
        limited = state.startswith(f"{ROOT}/ha/")
        relative = state[len(f"{ROOT}/ha/") if limited else len(f"{ROOT}/") :]
        f = field_of(relative)
        scopes[f.scope] += 1
        if f.scope == "car":
            per_car[relative.split("/")[1]] += 1
        # The state topic is the field's own topic, or its rate-limited copy for fields faster than 1 Hz here.
        assert limited == (f.rate in ("realtime", "fast", "normal")), (state, f.rate)
        # Every state and availability topic is one the bridge really published during the run.
        assert state in received or state in unset, state
        for a in config["availability"]:
            assert a["topic"] in received, a["topic"]
            assert {a["payload_available"], a["payload_not_available"]} >= payloads[a["topic"]] - {""}
        live = [a["topic"] for a in config["availability"]]
        if config.get("entity_category") == "diagnostic":
            assert live == [f"{ROOT}/status"]  # bridge health stays visible while the game is closed
            assert f.scope in ("game", "bridge")
        elif f.rate in ("realtime", "fast", "normal"):  # live values: only while the game sends
            assert live == [f"{ROOT}/status", f"{ROOT}/game/receiving"] and config["availability_mode"] == "all"
        else:  # facts (track, lap times, positions) stay while the bridge is online
            assert live == [f"{ROOT}/status"], state
        # Payloads Home Assistant can parse for this entity.
        seen = payloads.get(state, set()) - {""}
        if component == "binary_sensor":
            assert seen <= {"true", "false"}, (state, seen)
        elif "unit_of_measurement" in config or "state_class" in config:
            assert all(re.fullmatch(r"-?\d+(\.\d+)?", p) for p in seen), (state, seen)
        assert "expire_after" not in config, state  # retained values: nothing expires while it is current
        # Fast-changing sensors start disabled, as the catalogue says (player copies of realtime/fast fields).
        ha_meta = f.ha if f.scope != "car" else CAR_HA[f.path]
        assert config.get("enabled_by_default", True) == (ha_meta.enabled and not (f.scope == "car" and limited)), state
        if f.scope == "player" and fast(f):
            assert config["enabled_by_default"] is False, state
    assert len(received & {c["state_topic"] for _, c in parsed.values()}) >= 0.85 * len(parsed)
    assert set(scopes) == {"game", "session", "player", "car", "lights", "bridge"}
    assert len(per_car) == 20 and len(set(per_car.values())) == 1  # every car slot has the same entities

    # A second instance of the same rig (fresh broker: nothing retained) announces the same ids.
    second = Mosquitto(tmp_path / "second").start()
    try:
        sub2 = Subscriber(second.port, "homeassistant/#").start()
        bt2 = BridgeThread(ha_settings(second.port, homeassistant={"groups": ALL_GROUPS})).start()
        try:
            send_frames(bt2.udp_port, race_frames(2.0), speed=2.0)
            sub2.wait_for(lambda ms: len({m.topic for m in ms}) >= len(first), 10, "every config")
        finally:
            bt2.stop()
            sub2.stop()
    finally:
        second.stop()
    again = {t: json.loads(p) for t, p in configs(sub2.snapshot()).items() if p}
    assert set(again) == set(first)
    assert {t: c["unique_id"] for t, c in again.items()} == {t: c["unique_id"] for t, (_, c) in parsed.items()}
    assert again == {t: c for t, (_, c) in parsed.items()}  # the whole config is deterministic


def test_home_assistant_birth_message_republishes_every_config(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "homeassistant/#").start()
    bt = BridgeThread(ha_settings(broker.port)).start()
    try:
        expected = bt.call(lambda: {e.config_topic for e in bt.bridge.services["homeassistant"].entities})
        sub.wait_for(lambda ms: {m.topic for m in ms} >= expected, 10, "the configs published on connect")
        before = configs(sub.snapshot())
        mark = len(sub.snapshot())
        publish_once(broker.port, "homeassistant/status", "offline")
        time.sleep(1.0)
        after_offline = sub.snapshot()[mark:]
        publish_once(broker.port, "homeassistant/status", "online")
        sub.wait_for(lambda ms: {m.topic for m in ms[mark:]} >= expected, 10, "the configs again after online")
        time.sleep(0.5)
        again = [m for m in sub.snapshot()[mark:] if m.topic != "homeassistant/status"]
    finally:
        bt.stop()
        sub.stop()
    assert len(expected) > 50
    assert [m.topic for m in after_offline] == ["homeassistant/status"]  # "offline" asks for nothing
    assert Counter(m.topic for m in again) == Counter(dict.fromkeys(expected, 1))  # each config exactly once
    assert {m.topic: m.payload for m in again} == {t: before[t] for t in expected}
    assert all(m.qos == 1 for m in again)


def lap_data(active: int, frame: int) -> bytes:
    """LapData with `active` racing cars (resultStatus 2) and the other slots unused."""
    rows = [{"resultStatus": 2 if i < active else 0, "carPosition": i + 1, "currentLapNum": 1} for i in range(22)]
    return encode(build(2025, 2, {"lapData": rows}, session_uid=9, frame=frame))


def test_a_car_slot_that_leaves_has_its_entities_removed(broker: Mosquitto) -> None:
    # A config an earlier run announced, for a group this run leaves out: cleared on connect.
    stale = "homeassistant/sensor/rig1/player_speed_kph/config"
    publish_once(broker.port, stale, '{"name": "Speed"}', retain=True)
    sub = Subscriber(broker.port, "homeassistant/#").start()
    bt = BridgeThread(ha_settings(broker.port, homeassistant={"groups": ("session", "cars")})).start()
    try:
        # One sender (one source port): four cars, then three a second later.
        send_frames(bt.udp_port, [(n / 20, [lap_data(4, n + 1)]) for n in range(10)]
                    + [(1.0 + n / 20, [lap_data(3, n + 20)]) for n in range(10)])
        time.sleep(0.5)
        announced = {m.topic for m in sub.snapshot() if m.payload and "/cars_3_" in m.topic}
        sub.wait_for(lambda ms: all(configs(ms)[t] == "" for t in announced), 5, "car 3 removed")
        retained = retained_snapshot(broker.port, "homeassistant/#", settle=0.5)
    finally:
        bt.stop()
        sub.stop()
    assert len(announced) > 10
    removals = [m for m in sub.snapshot() if m.topic in announced and m.payload == ""]
    assert {m.topic for m in removals} == announced and all(m.qos == 1 for m in removals)
    assert not any("/cars_3_" in t for t in retained)  # gone for a Home Assistant that starts later, too
    assert stale not in retained and not any("/player_" in t for t in retained)
    for car in range(3):
        assert sum(1 for t in retained if f"/cars_{car}_" in t) == len(announced)


def telemetry(n: int, pct: int = 0) -> bytes:
    """Car telemetry of the player (car 0) for packet `n`: speed, throttle, brake and gear move every packet."""
    car = {"speed": 100 + (7 * n) % 200, "throttle": (0.07 * n) % 1.0, "brake": (0.5 + 0.07 * n) % 1.0,
           "gear": 1 + n % 8, "engineRPM": 8000 + 100 * (n % 40), "revLightsPercent": pct}
    return encode(build(2025, 6, {"carTelemetryData": [car]}, session_uid=5, frame=n + 1))


DRIVEN = ("player/speed_kph", "player/throttle_pct", "player/brake_pct", "player/gear", "player/rpm")


def test_home_assistant_states_of_a_60_hz_field_are_rate_limited(broker: Mosquitto) -> None:
    realtime = [p for p in DRIVEN if PATHS[p].rate == "realtime" and PATHS[p].ha is not None]
    assert realtime, "no 60 Hz telemetry field with a Home Assistant entity left to test"
    sub = Subscriber(broker.port, f"{ROOT}/#").start()
    bt = BridgeThread(ha_settings(broker.port)).start()
    packets = [(n / 60, [telemetry(n)]) for n in range(5 * 60)]
    try:
        start = time.monotonic()
        send_frames(bt.udp_port, packets)
        sent_s = time.monotonic() - start
        time.sleep(1.5)  # the last rate-limited turn
        run_s = time.monotonic() - start
    finally:
        bt.stop()
        sub.stop()
    messages = [m for m in sub.snapshot() if m.t >= start]
    max_rate = 1.0  # homeassistant.max_rate_hz default
    for path in DRIVEN:
        ha = [m.payload for m in messages if m.topic == f"{ROOT}/ha/{path}"]
        main = [m.payload for m in messages if m.topic == f"{ROOT}/{path}"]
        assert len(ha) <= max_rate * run_s + 1, (path, len(ha), run_s)
        assert len(ha) >= max_rate * sent_s - 1, (path, len(ha), sent_s)  # it is fed, at about the limit
        assert ha[-1] == main[-1], path  # the entity ends on the latest value
        assert all(a != b for a, b in itertools.pairwise(ha)), path  # change-only
        if path in realtime:
            assert len(main) > 0.9 * len(packets), path  # the main topic still carries (nearly) every packet


def test_wled_gets_the_led_frame_and_nothing_when_it_does_not_change(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "#").start()
    bt = BridgeThread(ha_settings(broker.port, lights={"wled": _wled(("wled/test",))})).start()
    # rev percentages, three packets each at 60 Hz: a run of repeats, a rise, the limiter-free top, a fall
    percents = [0] * 10 + list(range(0, 101, 7)) + [100] * 10 + [60, 60, 30]
    packets = [(n / 60, [telemetry(n, pct)]) for n, pct in enumerate(p for p in percents for _ in range(3))]
    try:
        send_frames(bt.udp_port, packets)
        time.sleep(0.5)
        leds_count = bt.call(lambda: bt.bridge.settings.lights.leds)
    finally:
        bt.stop()
        sub.stop()
    messages = sub.snapshot()
    leds = [m.payload for m in messages if m.topic == f"{ROOT}/lights/leds"]
    wled = [m for m in messages if m.topic == "wled/test/api"]
    frames = []
    for m in wled:
        state = json.loads(m.payload)
        assert state["on"] is True and state["bri"] == 255
        colours = state["seg"]["i"]
        assert len(colours) == leds_count and all(re.fullmatch(r"[0-9a-f]{6}", c) for c in colours)
        assert not m.retain and m.qos == 0
        frames.append("".join(colours))
    assert frames == leds  # the same colours, frame by frame
    assert all(a != b for a, b in itertools.pairwise(frames))  # nothing republished while the frame stays
    assert 5 < len(frames) < len(percents)  # repeats and equal-looking percentages sent nothing


def _wled(topics: tuple[str, ...]):
    from bridge.config import WledSettings

    return WledSettings(enabled=True, topics=topics)
