"""The broker link's own failures: the wrong transport for a port (TLS at a plain listener and the reverse), a
broker that says "session taken over", and exceptions inside the link's own tasks. Real mosquitto listeners,
real sockets, real bridges; a failure is injected by making one real call raise once."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from bridge.games.f1.codec import build, encode
from bridge.publish.mqtt import TAKEOVER_MIN_S
from tests.broker import Mosquitto, free_port
from tests.harness import BridgeThread, Subscriber, send_frames, settings_for
from tests.publish.test_mqtt_broker import _make_ca
from tests.publish.test_sender import make_link


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
# paho leaves the socket of a failed TLS handshake for the garbage collector to close (paho.mqtt 2.2,
# Client._create_socket): a ResourceWarning of paho's, not of the bridge.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_at_a_plain_listener_and_plain_at_a_tls_listener_are_diagnosed_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ca, cert, key = _make_ca(tmp_path)
    plain = free_port()
    broker = Mosquitto(tmp_path / "tls", extra=f"certfile {cert}\nkeyfile {key}\ncafile {ca}\n"
                                                f"listener {plain} 127.0.0.1").start()  # fmt: skip
    caplog.set_level(logging.INFO)
    cases = [  # (port, TLS settings, what the log must say, time for a few more attempts)
        (plain, {"enabled": True, "ca_file": str(ca)}, f"the broker at 127.0.0.1:{plain} did not complete a TLS "
                                                       "handshake: that port is a plain (non-TLS) listener", 2.0),
        # A plain CONNECT at a TLS port goes unanswered: each attempt waits out the 5 s timeout.
        (broker.port, {"enabled": False}, f"the broker at 127.0.0.1:{broker.port} expects TLS: that port is a TLS "
                                          "listener; set mqtt.tls.enabled: true", 6.0),
    ]  # fmt: skip
    try:
        for port, tls, diagnosis, more in cases:
            settings = settings_for(port)
            settings = dataclasses.replace(settings, mqtt=dataclasses.replace(
                settings.mqtt, tls=dataclasses.replace(settings.mqtt.tls, **tls)))
            caplog.clear()
            bt = BridgeThread(settings).start(wait_connected=False)
            try:
                deadline = time.monotonic() + 20
                while diagnosis not in caplog.text and time.monotonic() < deadline:
                    time.sleep(0.1)
                attempts = bt.bridge.status.broker_state
                time.sleep(more)
            finally:
                bt.stop()
            assert attempts == "reconnecting"  # still retrying, with backoff
            assert caplog.text.count(diagnosis) == 1, caplog.text  # said once, not once per attempt
    finally:
        broker.stop()


def test_a_broker_saying_session_taken_over_gets_the_long_backoff(caplog: pytest.LogCaptureFixture) -> None:
    """mosquitto 2.0 closes a taken-over connection without a word; MQTT 5 brokers that send DISCONNECT 0x8E
    are stood in for by a TCP server speaking just CONNACK then DISCONNECT(0x8E)."""
    caplog.set_level(logging.INFO)
    connects: list[float] = []

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connects.append(time.monotonic())
        await reader.read(1024)  # the CONNECT
        writer.write(bytes([0x20, 3, 0, 0, 0]))  # CONNACK: no session present, success, no properties
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(bytes([0xE0, 2, 0x8E, 0]))  # DISCONNECT: session taken over, no properties
        await writer.drain()
        writer.close()

    async def run() -> str:
        server = await asyncio.start_server(broker, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        link, _ = make_link(port=port)
        stop = asyncio.Event()
        task = asyncio.create_task(link.run(stop))
        deadline = time.monotonic() + 10
        while "took over" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # the normal backoff (0.2-1 s here) would have connected again by now
        stop.set()
        await asyncio.wait_for(task, 5)
        server.close()
        return link.status.broker_state

    state = asyncio.run(run())
    assert state == "stopped"
    assert len(connects) == 1  # one session, no second attempt within the long backoff
    lines = [r.getMessage() for r in caplog.records if "another client with the same client id" in r.getMessage()]
    assert len(lines) == 1 and "most likely" not in lines[0]  # said by the broker, not guessed
    assert float(lines[0].rsplit("retrying in ", 1)[1].split(" s")[0]) >= TAKEOVER_MIN_S


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def rev_bits(frame: int, value: int) -> bytes:
    return encode(build(2025, 6, {"carTelemetryData": [{"revLightsBitValue": value}]}, session_uid=4, frame=frame))


def fail_once(target: object, name: str, error: Exception) -> None:
    """Make `target.name()` raise `error` on its next call only."""
    original = getattr(target, name)

    def failing(*args: object, **kwargs: object) -> object:
        setattr(target, name, original)
        raise error

    setattr(target, name, failing)


def test_a_failure_in_the_sender_is_reported_and_the_link_recovers(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "rigbridge/rig1/lights/rev_bits").start()
    bt = BridgeThread(settings_for(broker.port)).start()
    try:
        link = bt.bridge.link
        bt.call(lambda: fail_once(bt.bridge.engine.outbox, "take", RuntimeError("injected into the sender")))
        send_frames(bt.udp_port, [(0.0, [rev_bits(1, 0x1F)])])
        bt.wait(lambda b: b.link.connections >= 2 and b.status.broker_connected, 10, "a new session")
        send_frames(bt.udp_port, [(0.0, [rev_bits(2, 0x3F)])])
        sub.wait_for(lambda ms: "63" in [m.payload for m in ms], 10, "values after the failure")
        reported = link.faults.count("mqtt.sender", "RuntimeError")
    finally:
        bt.stop()
        sub.stop()
    assert reported == 1


def test_a_failure_in_the_heartbeat_is_reported_and_the_link_recovers(broker: Mosquitto) -> None:
    bt = BridgeThread(settings_for(broker.port)).start()  # keepalive 5: a heartbeat every 2.5 s
    try:
        link = bt.bridge.link
        bt.call(lambda: fail_once(link, "_publish_acked", OSError("injected into the heartbeat")))
        bt.wait(lambda b: b.link.faults.count("mqtt.heartbeat") == 1, 10, "the heartbeat's failure reported")
        bt.wait(lambda b: b.link.connections == 2 and b.status.broker_connected, 10, "a new session")
        time.sleep(3.0)  # the next heartbeat goes through on the new session
        connections = link.connections
    finally:
        bt.stop()
    assert connections == 2


def test_a_failing_message_handler_is_reported_and_the_listener_goes_on(broker: Mosquitto) -> None:
    bt = BridgeThread(settings_for(broker.port)).start()  # Home Assistant listens to homeassistant/status
    handled: list[bytes] = []
    link = bt.bridge.link
    readers = link._on_message

    def recording(message: object) -> None:
        handled.append(message.payload)  # type: ignore[attr-defined]
        readers(message)

    bt.call(lambda: setattr(link, "_on_message", recording))
    bt.call(lambda: fail_once(link, "_on_message", ValueError("injected into a message handler")))
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        publisher.publish("homeassistant/status", b"first", qos=1).wait_for_publish(5)
        publisher.publish("homeassistant/status", b"second", qos=1).wait_for_publish(5)
        bt.wait(lambda b: b"second" in handled, 10, "the message after the failing one")
        reported = link.faults.count("mqtt.on_message", "ValueError")
        connections = link.connections
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        bt.stop()
    assert reported == 1 and connections == 1 and b"first" not in handled
