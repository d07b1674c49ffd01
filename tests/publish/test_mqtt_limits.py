"""What the broker will not take, and what the bridge will not take from it, against a real mosquitto:
the broker's Maximum Packet Size, publishes its ACL refuses, and oversize incoming messages."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from bridge.games.f1.codec import build, encode
from bridge.publish.diagnosis import SHORT_SESSIONS_IN_A_ROW
from bridge.publish.mqtt import MAX_INCOMING_BYTES, TAKEOVER_MIN_S
from bridge.publish.outbox import Message
from bridge.publish.wire import PublishEncoder
from tests.broker import Mosquitto
from tests.harness import BridgeThread, ProcessSubscriber, send_frames, settings_for
from tests.publish.test_mqtt_broker import race_frames

ROOT = "rigbridge/rig1"


def logged(caplog: pytest.LogCaptureFixture, text: str, level: int | None = None) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage() and level in (None, r.levelno)]


def telemetry(frame: int, rev_bits: int) -> bytes:
    return encode(build(2025, 6, {"carTelemetryData": [{"revLightsBitValue": rev_bits}]}, session_uid=9, frame=frame))


@pytest.mark.parametrize("limit", [400, 2000])
def test_the_brokers_maximum_packet_size_is_respected(
    tmp_path: Path, limit: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    broker = Mosquitto(tmp_path / "broker", extra=f"max_packet_size {limit}").start()
    sub = ProcessSubscriber(broker.port, "#", directory=tmp_path).start()
    bt = BridgeThread(settings_for(broker.port)).start()  # Home Assistant discovery on: configs of ~0.5-1 kB
    try:
        send_frames(bt.udp_port, race_frames(3.0), speed=3.0)
        # Exactly at the limit is sent; one byte more is skipped (QoS 0 written by the sender, QoS 1 by paho).
        encoder = PublishEncoder(5, 0)
        for qos in (0, 1):
            topic = f"{ROOT}/edge/q{qos}"
            n = limit - encoder.size(topic, "", qos, False)
            while encoder.size(topic, "x" * n, qos, False) > limit:  # the length field grows past 127 bytes
                n -= 1
            fits = "x" * n
            assert encoder.size(topic, fits, qos, False) == limit
            bt.call(lambda t=topic, p=fits, q=qos: bt.bridge.engine.outbox.offer(Message(t, p, q, True, "fast")))
            over = f"{ROOT}/edge/o{qos}"  # same length of topic, one byte more of payload
            assert encoder.size(over, fits + "x", qos, False) == limit + 1
            bt.call(lambda t=over, p=fits + "x", q=qos: bt.bridge.engine.outbox.offer(Message(t, p, q, True, "fast")))
        bt.call(bt.bridge.link.wake)
        time.sleep(2.0)
        send_frames(bt.udp_port, [(0.0, [telemetry(10_000, 0x3F)])])
        sub.wait_for(lambda ms: any(m.topic == f"{ROOT}/lights/rev_bits" and m.payload == "63" for m in ms), 10,
                     "telemetry after the oversize messages")
        status = bt.bridge.status
        skipped, by_reason, reconnects = status.oversize_skipped, dict(status.publish_failures_by_reason), \
            status.reconnects
        faults = bt.bridge.link.faults
        bt.call(faults.flush)
        warnings = logged(caplog, "the broker accepts packets of at most")
        connections = bt.bridge.link.connections
    finally:
        bt.stop()
        sub.stop()
        broker.stop()
    assert connections == 1 and reconnects == 0  # never disconnected for a packet too large
    assert skipped >= 2 and by_reason.get("oversize") == skipped
    assert skipped == faults.count("mqtt.oversize")
    received = {m.topic for m in sub.snapshot()}
    assert {f"{ROOT}/edge/q0", f"{ROOT}/edge/q1"} <= received
    assert not {f"{ROOT}/edge/o0", f"{ROOT}/edge/o1"} & received
    assert any(f"at most {limit} bytes" in w and "max_packet_size" in w for w in warnings), warnings
    # One line per topic group, however many messages of it were skipped.
    groups = [kind for where, kind in faults.counts if where == "mqtt.oversize"]
    assert f"{ROOT}/edge/#" in groups and len(warnings) == len(groups)


@pytest.mark.parametrize("protocol", [5, 311])
def test_incoming_messages_larger_than_the_bound_never_reach_a_reader(tmp_path: Path, protocol: int) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    bt = BridgeThread(settings_for(broker.port, mqtt={"rig": "rig1", "protocol": protocol})).start()
    handed: list[int] = []  # payload sizes the link handed to the readers (Home Assistant listens to its status)
    link = bt.bridge.link
    readers = link._on_message

    def recording(message: object) -> None:
        handed.append(len(message.payload))  # type: ignore[attr-defined]
        readers(message)

    bt.call(lambda: setattr(link, "_on_message", recording))
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        publisher.publish("homeassistant/status", b"x" * (4 * MAX_INCOMING_BYTES), qos=1).wait_for_publish(10)
        publisher.publish("homeassistant/status", b"online", qos=1).wait_for_publish(10)
        bt.wait(lambda b: 6 in handed, 10, "the small message after the large one")
        dropped = link.faults.count("mqtt.receive", "oversize")
        connections = link.connections
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        bt.stop()
        broker.stop()
    assert max(handed) <= MAX_INCOMING_BYTES, handed
    assert connections == 1
    # MQTT 5: the CONNECT's Maximum Packet Size had the broker drop it for us; 3.1.1: the link dropped it.
    assert dropped == (0 if protocol == 5 else 1)


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
def test_publishes_the_acl_refuses_are_counted_by_reason_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "rig", "pw"], check=True, capture_output=True)
    acl = tmp_path / "acl"
    acl.write_text(  # anonymous clients (the test's subscriber) read everything; the bridge's user may not
        "topic read #\n\n"  # publish its status, Home Assistant discovery, nor any car
        f"user rig\ntopic readwrite {ROOT}/#\ntopic deny {ROOT}/cars/#\ntopic deny {ROOT}/status\n"
        "topic read homeassistant/status\n"
    )
    broker = Mosquitto(tmp_path / "broker", extra=f"allow_anonymous true\npassword_file {passwd}\nacl_file {acl}")
    broker.start()
    sub = ProcessSubscriber(broker.port, "#", directory=tmp_path).start()
    settings = settings_for(broker.port, mqtt={"rig": "rig1", "username": "rig", "password": "pw"})
    caplog.set_level(logging.INFO)
    bt = BridgeThread(settings).start()
    try:
        send_frames(bt.udp_port, race_frames(3.0), speed=3.0)
        bt.wait(lambda b: b.status.publish_failures_by_reason["not_authorized"] > 20, 10, "refused discovery")
        status = bt.bridge.status
        refused = status.publish_failures_by_reason["not_authorized"]
        failures = status.publish_failures
        discovery_published = status.published["discovery"]
        faults = bt.bridge.link.faults
        groups = {kind for where, kind in faults.counts if where == "mqtt.refused"}
        bt.call(faults.flush)
        warnings = logged(caplog, "the broker refused", logging.WARNING)
        counted = faults.count("mqtt.refused")
        connections = bt.bridge.link.connections
    finally:
        bt.stop()
        sub.stop()
        broker.stop()
    received = {m.topic for m in sub.snapshot()}
    assert connections == 1
    assert not any(t.startswith((f"{ROOT}/cars/", "homeassistant/")) for t in received)  # the ACL held...
    assert f"{ROOT}/player/speed_kph" in received  # ... and what it allows flowed
    assert refused == counted and failures >= refused  # counted as failures, not as published
    assert discovery_published == 0
    # QoS 1 refusals carry a reason code; the cars' QoS 0 values are refused without a word (MQTT has no
    # acknowledgement for QoS 0), so only the broker's log knows.
    assert groups == {"not_authorized homeassistant/#", f"not_authorized {ROOT}/status"}
    assert len(warnings) == 2  # one line per topic group
    assert any("refused homeassistant/# (Not authorized): check its ACL for this client (client id rigbridge-rig1-"
               in w and "user rig" in w for w in warnings), warnings
    loud = [r for r in caplog.records if r.levelno == logging.ERROR and f"refused {ROOT}/status online" in r.message]
    assert loud and "Home Assistant" in loud[0].message


def test_under_mqtt_3_1_1_a_broker_closing_on_oversize_packets_gets_the_long_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # MQTT 3.1.1 announces no limit: the broker just closes the connection on the first discovery config over
    # 400 bytes, after every reconnect. Three such short sessions in a row and the link stops retrying quickly.
    caplog.set_level(logging.INFO)
    broker = Mosquitto(tmp_path / "broker", extra="max_packet_size 400").start()
    bt = BridgeThread(settings_for(broker.port, mqtt={"rig": "rig1", "protocol": 311})).start(wait_connected=False)
    try:
        bt.wait(lambda b: "its max_packet_size" in caplog.text, 15, "the diagnosis")
        connections = bt.bridge.link.connections
        time.sleep(3.0)  # the normal backoff (0.2-1 s here) would have reconnected several times
        later = bt.bridge.link.connections
    finally:
        bt.stop()
        broker.stop()
    assert connections == later == SHORT_SESSIONS_IN_A_ROW
    line = next(r for r in caplog.records if "its max_packet_size" in r.getMessage())
    assert line.levelno == logging.WARNING and "under MQTT 3.1.1" in line.getMessage()
    assert float(line.getMessage().rsplit("retrying in ", 1)[1].split(" s")[0]) >= TAKEOVER_MIN_S
