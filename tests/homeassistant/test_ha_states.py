"""What Home Assistant would show, from what a real mosquitto delivers: states, unknowns, options, events.

`ha_state()` folds the messages of one state topic through the entity's config the way Home Assistant's MQTT
integration does (home-assistant/core 2025.4, unchanged through 2026.2): the `value_template` rendered by Jinja
in a sandbox, then `components/mqtt/sensor.py` `MqttSensor._update_state` (payload `None` -> unknown; an empty
payload ignored by numeric sensors; an enum state not in `options` ignored) or `binary_sensor.py` (`None` ->
unknown, anything but on/off ignored). See tests/homeassistant/ha_reference.py for the sources.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bridge.games.f1.codec import build, build_event, encode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.publish.fieldread import FieldReader
from bridge.publish.homeassistant import GAME_EVENTS
from tests.broker import Mosquitto
from tests.harness import BridgeThread, Received, Subscriber, retained_snapshot, send_frames
from tests.homeassistant.ha_reference import problems, trigger_problems
from tests.homeassistant.test_discovery import ROOT, ha_settings, publish_once

jinja2 = pytest.importorskip("jinja2", reason="Jinja2 renders the value templates as Home Assistant does")
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

pytestmark = pytest.mark.broker
ENV = ImmutableSandboxedEnvironment()
UNKNOWN = None
IGNORED = object()


def render(template: str, payload: str) -> str:
    try:
        value_json = json.loads(payload)
    except ValueError:
        value_json = None
    return ENV.from_string(template).render(value=payload, value_json=value_json)


def apply(component: str, config: dict, payload: str) -> object:
    """The state one message gives the entity: a value, UNKNOWN, or IGNORED (the state stays as it was)."""
    rendered = render(config["value_template"], payload) if "value_template" in config else payload
    if rendered == "None":
        return UNKNOWN
    if component == "binary_sensor":
        return {"true": "on", "false": "off"}.get(rendered, IGNORED)
    numeric = "unit_of_measurement" in config or "state_class" in config or "suggested_display_precision" in config
    if numeric:
        return IGNORED if rendered == "" else rendered
    if config.get("options") and rendered not in config["options"]:
        return IGNORED
    return rendered


def ha_state(component: str, config: dict, payloads: list[str]) -> object:
    state: object = UNKNOWN
    for payload in payloads:
        new = apply(component, config, payload)
        if new is not IGNORED:
            state = new
    return state


def race(seed: int, track: int, seconds: float, offset: float = 0.0) -> list[tuple[float, list[bytes]]]:
    config = SynthConfig(packet_format=2025, cars=20, laps=3, seed=seed, track_id=track)
    frames = []
    for t, datagrams in SyntheticRace(config).frames():
        if t > seconds:
            break
        frames.append((offset + t, datagrams))
    return frames


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def discovered(messages: list[Received]) -> dict[str, tuple[str, dict]]:
    """config topic -> (component, config) of the last non-empty discovery payload."""
    out = {}
    for m in messages:
        parts = m.topic.split("/")
        if parts[0] == "homeassistant" and len(parts) == 5 and m.payload:
            out[m.topic] = (parts[1], json.loads(m.payload))
    return out


def test_home_assistant_shows_current_values_readable_names_and_unknown_after_a_new_session(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "#").start()
    bt = BridgeThread(ha_settings(broker.port, udp={"receive_timeout_s": 30.0})).start()
    try:
        # An Austria race long enough for a lap to complete, then a Zandvoort session (a new session UID) for
        # 1.5 s: no lap completes there, so lap times, sectors and the best-lap driver are unknown again.
        first = race(seed=7, track=17, seconds=80.0)
        send_frames(bt.udp_port, first + race(seed=11, track=26, seconds=1.5, offset=first[-1][0] + 0.1),
                    speed=20.0)
        time.sleep(1.5)  # a rate-limited turn
        bt.wait(lambda b: not b.engine.outbox.has_pending(), 10, "empty pending map")
        # Home Assistant starting now (or restarting) sees only what the broker retains.
        retained = retained_snapshot(broker.port, "#", settle=1.0)
    finally:
        bt.stop()
        sub.stop()
    messages = sub.snapshot()
    configs = discovered(messages)
    assert len(configs) > 80
    stream: dict[str, list[str]] = {}
    for m in messages:
        stream.setdefault(m.topic, []).append(m.payload)

    states = {}
    for topic, (component, config) in configs.items():
        assert problems(component, config) == [], (topic, problems(component, config))
        assert config["icon"].startswith("mdi:"), topic  # every entity has its icon
        assert "expire_after" not in config
        seen = stream.get(config["state_topic"], [])
        states[config["state_topic"]] = (component, config, ha_state(component, config, seen))

    def state_of(path: str) -> object:
        for topic in (f"{ROOT}/{path}", f"{ROOT}/ha/{path}"):
            if topic in states:
                return states[topic][2]
        raise KeyError(path)

    # The Austria race set these; the new session took them away: Home Assistant shows unknown, not Austria's values.
    austria = {p: ha_state(*states[f"{ROOT}/{p}"][:2], stream[f"{ROOT}/{p}"][:-1]) for p in
            ("player/last_lap_ms", "session/best_lap_ms", "session/best_lap_driver", "player/last_lap/sector1_colour")}
    assert all(v is not UNKNOWN for v in austria.values()), austria
    for path in austria:
        assert state_of(path) is UNKNOWN, (path, stream[f"{ROOT}/{path}"][-3:])
    # Readable names, and each one of the entity's options.
    assert state_of("session/track") == "Zandvoort"
    assert austria["player/last_lap/sector1_colour"] in ("Purple", "Green", "Yellow")
    for _component, config, state in states.values():
        if config.get("device_class") == "enum":
            assert state is UNKNOWN or state in config["options"], (config["name"], state)
            assert "_" not in "".join(config["options"]), config["options"]  # no raw slugs
            assert "None" not in config["options"], config["name"]  # Home Assistant would read it as unknown
            assert render(config["value_template"], "unknown_77") == "None"  # a new game id: unknown, no warning
    assert state_of("player/tyre_visual") in ("Soft", "Medium", "Hard", "Inter", "Wet")
    # Tyre pressure in kPa, whole numbers on screen, the unit in the topic name.
    _, pressure, kpa = states[f"{ROOT}/ha/player/tyres/fl/pressure_kpa"]
    assert pressure["unit_of_measurement"] == "kPa" and pressure["suggested_display_precision"] == 0
    assert 100 < float(kpa) < 250, kpa

    # Every entity whose value the bridge knows has it retained on its state topic: Home Assistant gets it when
    # it subscribes after discovery and after a restart. The flag stayed `none` all race and is there too.
    for state_topic, (component, config, state) in states.items():
        if state is not UNKNOWN and config.get("entity_category") != "diagnostic":  # health moves on at stop
            assert state_topic in retained, (config["name"], state_topic)
            assert ha_state(component, config, [retained[state_topic].payload]) == state, config["name"]
    assert retained[f"{ROOT}/ha/lights/flag"].payload == "none" and state_of("lights/flag") == "No flag"
    assert sum(1 for _, _, s in states.values() if s is not UNKNOWN) >= 0.8 * len(states)


def event_packets() -> list[tuple[float, list[bytes]]]:
    uid = 21

    def ev(code: str, details: dict | None = None, frame: int = 1) -> bytes:
        return encode(build_event(2025, code, details, session_uid=uid, frame=frame))

    def status(flag: int, frame: int) -> bytes:
        return encode(build(2025, 7, {"carStatusData": [{"vehicleFIAFlags": flag}]}, session_uid=uid, frame=frame))

    return [
        (0.0, [status(0, 1)]),
        (1.2, [ev("SCAR", {"safetyCarType": 1, "eventType": 0}, 2)]),
        (1.3, [ev("BUTN", {"buttonStatus": 1 << 20 | 1 << 21 | 1}, 3)]),  # UDP actions 1 and 2 (and Cross) at once
        (1.4, [ev("BUTN", {"buttonStatus": 1 << 20}, 4)]),  # still held: no new press
        (1.5, [ev("BUTN", {"buttonStatus": 0}, 5), ev("FTLP", {"vehicleIdx": 0, "lapTime": 81.25}, 5)]),
        (1.6, [ev("PENA", {"penaltyType": 4, "vehicleIdx": 0, "time": 5, "lapNum": 3}, 6), ev("CHQF", None, 6)]),
        (1.7, [status(3, 7)]),  # a yellow flag for the player; the flag event follows within a rate-limit turn
    ] + [(1.8 + n / 10, [status(3, 8 + n)]) for n in range(20)]


def test_events_reach_home_assistant_as_event_entities_and_device_triggers(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "#").start()
    groups = ("session", "player", "lights", "bridge", "events")
    bt = BridgeThread(ha_settings(broker.port, homeassistant={"groups": groups})).start()
    try:
        send_frames(bt.udp_port, event_packets())
        time.sleep(1.5)
    finally:
        bt.stop()
        sub.stop()
    messages = sub.snapshot()
    configs = discovered(messages)
    entities = {c["state_topic"]: c for t, (component, c) in configs.items() if component == "event"}
    triggers = [c for t, (component, c) in configs.items() if component == "device_automation"]
    assert len(entities) == len(GAME_EVENTS)
    for config in entities.values():
        assert problems("event", config) == [], problems("event", config)
        assert [a["topic"] for a in config["availability"]] == [f"{ROOT}/status"]
    for trigger in triggers:
        assert trigger_problems(trigger) == [], trigger_problems(trigger)
        assert trigger["topic"] in entities and trigger["payload"] in entities[trigger["topic"]]["event_types"]

    received = [(m.topic, json.loads(m.payload), m) for m in messages if m.topic.startswith(f"{ROOT}/ha/event/")]
    seen = [(t.rsplit("/", 1)[1], p["event_type"]) for t, p, _ in received]
    # Two presses in one datagram are two events, in order: events queue, none replaces another.
    assert seen == [("safety_car", "full_safety_car_deployed"), ("button", "udp_action_1"), ("button", "udp_action_2"),
                    ("fastest_lap", "fastest_lap"), ("penalty", "time_penalty"), ("chequered_flag", "chequered_flag"),
                    ("flag", "yellow")], seen
    for topic, payload, m in received:
        assert payload["event_type"] in entities[topic]["event_types"]
        assert not m.retain and m.qos == 1
        # The device triggers of this event fire: their template renders the payload they wait for.
        fired = [t for t in triggers if t["topic"] == topic and render(t["value_template"], m.payload) == t["payload"]]
        if entities[topic].get("name") != "Penalty":
            assert len(fired) == 1, (topic, payload)
    fastest = next(p for t, p, _ in received if p["event_type"] == "fastest_lap")
    assert fastest["lap_time_ms"] == 81250 and fastest["player"] is True


def test_a_home_assistant_restart_gets_every_value_even_after_the_broker_expired_them(broker: Mosquitto) -> None:
    """Retained telemetry carries an MQTT 5 expiry; a fact that has not changed since (the track) is gone from the
    broker by the time Home Assistant restarts. Its birth message brings every current value back."""
    bt = BridgeThread(ha_settings(broker.port, publish={"expiry_s": 4}, udp={"receive_timeout_s": 30.0})).start()
    try:
        send_frames(bt.udp_port, race(seed=5, track=17, seconds=3.0), speed=2.0)
        time.sleep(1.5)
        reader = FieldReader(bt.bridge.view, bt.bridge.engine.context)
        entities = bt.call(lambda: [(e.state_topic, reader.render(e.field, e.car))
                                    for e in bt.bridge.services["homeassistant"].entities])
        known = {topic for topic, payload in entities if payload is not None}
        time.sleep(3.5)  # past the expiry
        expired = retained_snapshot(broker.port, f"{ROOT}/#", settle=0.5)
        assert f"{ROOT}/session/track" not in expired  # the premise: the broker dropped the unchanged facts
        publish_once(broker.port, "homeassistant/status", "online")
        time.sleep(2.0)  # the debounce (at most 1.5 s), then the round; the values it brings expire in 4 s
        retained = retained_snapshot(broker.port, f"{ROOT}/#", settle=0.5)
    finally:
        bt.stop()
    assert len(known) > 40
    missing = sorted(known - set(retained))
    assert not missing, missing
