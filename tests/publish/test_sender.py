"""The sender's bookkeeping when the connection fails in the middle of a slice: nothing taken is lost.

A real broker cannot be made to fail between two messages of one slice on demand, so this drives the sender
with a stand-in for the part of paho's client it uses; everything else (engine, encoder, link) is real. The
topics are read back from the bytes written (test_wire.py holds those bytes equal to paho's own).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from types import SimpleNamespace
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bridge.config import default_settings
from bridge.publish.engine import PublishEngine
from bridge.publish.leds import Lights
from bridge.publish.mqtt import MqttLink
from bridge.publish.outbox import Message
from bridge.publish.paho_io import PacketIds
from bridge.state.session import SessionState
from bridge.state.view import readonly
from bridge.status import BridgeStatus


class PahoStandIn:
    """Writes everything it is given at once; accepts `accept_qos1` QoS 1 publishes, then reports no connection."""

    def __init__(self, accept_qos1: int) -> None:
        self._registered_write = False
        self._out_packet: deque[dict[str, Any]] = deque()
        self.on_publish: Any = lambda *args: None
        self.accept_qos1 = accept_qos1
        self.written: list[bytes] = []
        self.qos1: list[str] = []
        self.qos1_mids: list[int] = []
        self._mid = 0

    def is_connected(self) -> bool:
        return True

    def _mid_generate(self) -> int:
        self._mid += 1
        return self._mid

    def loop_write(self) -> int:
        while self._out_packet:
            packet = self._out_packet.popleft()
            self.written.append(packet["packet"])
            self.on_publish(self, None, packet["mid"], ReasonCode(PacketTypes.PUBACK), Properties(PacketTypes.PUBACK))
        return MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: str, qos: int, retain: bool, properties: Any) -> SimpleNamespace:
        if len(self.qos1) >= self.accept_qos1:
            return SimpleNamespace(rc=MQTT_ERR_NO_CONN, mid=0)
        self.qos1.append(topic)
        self.qos1_mids.append(self._mid_generate())
        return SimpleNamespace(rc=MQTT_ERR_SUCCESS, mid=self.qos1_mids[-1])  # acknowledged later (never, here)


def topics_written(data: list[bytes]) -> list[str]:
    """Topic names of the QoS 0 PUBLISH packets in `data` (MQTT 5: fixed header, remaining length, topic)."""
    topics = []
    buffer = b"".join(data)
    i = 0
    while i < len(buffer):
        assert buffer[i] & 0xF0 == 0x30
        length, shift, i = 0, 0, i + 1
        while True:
            length |= (buffer[i] & 0x7F) << shift
            shift, i = shift + 7, i + 1
            if not buffer[i - 1] & 0x80:
                break
        size = int.from_bytes(buffer[i : i + 2], "big")
        topics.append(buffer[i + 2 : i + 2 + size].decode())
        i += length
    return topics


def make_link(port: int = 1883) -> tuple[MqttLink, PublishEngine]:
    settings = default_settings()
    settings = dataclasses.replace(settings, mqtt=dataclasses.replace(
        settings.mqtt, rig="rig1", host="127.0.0.1", port=port, reconnect_min_s=0.2, reconnect_max_s=1.0))
    view = readonly(SessionState())
    status = BridgeStatus()
    engine = PublishEngine(settings, view, status, Lights(view, settings.lights))
    return MqttLink(settings, engine.outbox, status), engine


@pytest.mark.parametrize("accept_qos1", [0, 1, 2])
def test_a_failure_mid_slice_puts_every_untaken_message_back_in_order(accept_qos1: int) -> None:
    link, engine = make_link()
    realtime = [Message(f"rigbridge/rig1/lights/l{i}", str(i), 0, False, "realtime") for i in range(3)]
    events = [Message(f"rigbridge/rig1/event/e{i}", str(i), 1, False, "event") for i in range(3)]
    values = [Message(f"rigbridge/rig1/player/v{i}", str(i), 0, True, "fast") for i in range(4)]
    for message in realtime + values:
        engine.outbox.offer(message)
    engine.outbox.events.extend(events)
    paho = PahoStandIn(accept_qos1)
    ids = PacketIds(paho)  # type: ignore[arg-type]  # the stand-in has the parts of paho's client used

    async def run() -> None:
        link._wake.set()
        await link._send_loop(ids, asyncio.Event())

    with pytest.raises(aiomqtt.MqttCodeError):
        asyncio.run(run())

    # The slice was realtime, events, values. What came before the refused event was written, in order...
    assert topics_written(paho.written) == [m.topic for m in realtime]
    assert paho.qos1 == [m.topic for m in events[:accept_qos1]]
    # ... and everything after it is back in the engine, values pending again, and the events in their order:
    # those paho took but the broker never acknowledged (at least once), the refused one, and those after it.
    assert list(engine.outbox.events) == events
    assert set(engine.outbox.pending) == {m.topic for m in values}
    assert not engine.outbox.pending_realtime
    assert link.status.publish_failures == 1 + accept_qos1  # the refused event, and those accepted but never acked
    assert link.status.publish_failures_by_reason == {"disconnected": 1 + accept_qos1}

    # A PUBACK that paho reports after the sender ended is for an event already put back: it changes nothing.
    published = dict(link.status.published)
    for mid in paho.qos1_mids:
        paho.on_publish(paho, None, mid, ReasonCode(PacketTypes.PUBACK), Properties(PacketTypes.PUBACK))
    assert list(engine.outbox.events) == events
    assert link.status.published == published
