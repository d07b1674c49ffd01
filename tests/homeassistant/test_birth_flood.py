"""A flood of Home Assistant birth messages against a real mosquitto: one discovery round, little CPU."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.broker import Mosquitto
from tests.harness import BridgeThread, Subscriber, settings_for

pytestmark = pytest.mark.broker

FLOOD = 20_000
FLOOD_S = 2.0


def flood(port: int, payloads: list[bytes], seconds: float) -> None:
    """`payloads` on `homeassistant/status`, QoS 0, spread over about `seconds`."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    for n, payload in enumerate(payloads):
        client.publish("homeassistant/status", payload, qos=0)
        if n % 500 == 0:
            time.sleep(max(0.0, start + seconds * n / len(payloads) - time.monotonic()))
    done = threading.Event()
    client.publish("homeassistant/status/flood_end", b"", qos=1).wait_for_publish(5)
    done.set()
    client.loop_stop()
    client.disconnect()


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def test_a_flood_of_online_gives_one_discovery_round_and_costs_little_cpu(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "homeassistant/#").start()
    bt = BridgeThread(settings_for(broker.port)).start()
    try:
        topics = bt.call(lambda: [e.config_topic for e in bt.bridge.services["homeassistant"].entities])
        probe = topics[0]
        sub.wait_for(lambda ms: {m.topic for m in ms} >= set(topics), 10, "the configs published on connect")
        mark = len(sub.snapshot())
        cpu_before = bt.call(time.thread_time)
        wall_before = time.monotonic()
        flood(broker.port, [b"online"] * FLOOD, FLOOD_S)
        # Only the exact payload asks: these are ignored, and the big one is not decoded or copied.
        flood(broker.port, [b"Online", b" online", b"online\n", b"offline", b"x" * 1_000_000], 0.1)
        time.sleep(2.5)  # the debounce delay after the last `online`, and the round itself
        cpu = bt.call(time.thread_time) - cpu_before
        wall = time.monotonic() - wall_before
        after = sub.snapshot()[mark:]
    finally:
        bt.stop()
        sub.stop()
    rounds = sum(1 for m in after if m.topic == probe)
    assert 1 <= rounds <= 2, rounds
    discovery = sum(1 for m in after if m.topic in set(topics))
    assert discovery <= 2 * len(topics), discovery
    # The bridge's loop thread receives 20,000 messages; before the debounce it also built every config each
    # time and ran at ~98 % of a core. Now receiving is the whole cost.
    assert cpu / wall < 0.5, f"bridge thread CPU {cpu:.2f} s over {wall:.2f} s"
    print(f"flood: {FLOOD} online in {FLOOD_S} s -> {rounds} round(s), {discovery} discovery messages, "
          f"bridge thread CPU {cpu:.2f} s over {wall:.2f} s ({100 * cpu / wall:.0f} %)")
