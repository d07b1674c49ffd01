"""A huge message on a topic the bridge subscribes to (Home Assistant's status), against the real `rigbridge run`:
its resident memory must not grow with the message, under MQTT 5 (the broker is asked for a Maximum Packet
Size) or MQTT 3.1.1 (no such property: the bridge reads the message through without keeping it)."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.broker import Mosquitto, free_port
from tests.reliability.helpers import RssWatch, bridge_config, start_bridge

pytestmark = pytest.mark.broker

MESSAGE_BYTES = 50_000_000  # before the bound, 50 MB here cost ~140 MB of resident memory at the peak
GROWTH_BOUND_MB = 10.0  # allocator noise and the broker link's buffers; a kept copy would be 50 MB


@pytest.mark.parametrize("protocol", [5, 311])
def test_a_huge_incoming_message_costs_no_memory(tmp_path: Path, closing: contextlib.ExitStack, protocol: int) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    closing.callback(broker.stop)
    config = bridge_config(tmp_path, broker.port, free_port(socket.SOCK_DGRAM), mqtt=f"protocol: {protocol}")
    proc = closing.enter_context(start_bridge(config, broker.port))
    watch = RssWatch(proc.process.pid, interval=0.02).start()
    closing.callback(watch.stop)
    time.sleep(1.0)
    before = watch.baseline()
    sent_at = time.time()
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        publisher.publish("homeassistant/status", b"x" * MESSAGE_BYTES, qos=1).wait_for_publish(30)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    deadline = time.monotonic() + 20
    while protocol == 311 and "dropped a" not in proc.output() and time.monotonic() < deadline:
        time.sleep(0.1)  # the whole message reached the bridge and was read through
    time.sleep(1.0)
    peak = watch.peak(since=sent_at)
    out = proc.output()
    assert proc.poll() is None, out
    assert peak - before <= GROWTH_BOUND_MB, (before, peak)
    # 3.1.1: the bridge dropped it itself, and said so; MQTT 5: the broker never sent it.
    assert ("dropped a" in out) == (protocol == 311), out
    assert out.count(" connected") == 1  # the link survived it
