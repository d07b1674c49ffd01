"""The QoS 0 PUBLISH encoder writes, byte for byte, what paho itself would write for the same message."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as paho
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bridge.publish.wire import PublishEncoder, remaining_length

EXPIRY_S = 300


def paho_packet(protocol: int, topic: str, payload: str, retain: bool, expires: bool, qos: int = 0) -> bytes:
    """The PUBLISH packet paho builds (QoS 0 unless asked), caught on its way into paho's write queue."""
    version = paho.MQTTv5 if protocol == 5 else paho.MQTTv311
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=version)
    caught: list[bytes] = []

    def catch(command: int, packet: Any, *rest: Any) -> int:
        caught.append(bytes(packet))
        return paho.MQTT_ERR_SUCCESS

    client._sock = object()  # paho only checks that there is one
    client._packet_queue = catch  # type: ignore[method-assign]
    properties = None
    if expires and protocol == 5:
        properties = Properties(PacketTypes.PUBLISH)
        properties.MessageExpiryInterval = EXPIRY_S
    try:
        client._send_publish(1, topic.encode(), payload.encode(), qos, retain, False, None, properties)
    finally:
        client._sock = None  # nothing to close
    return caught[0]


topics = st.lists(st.text(st.characters(blacklist_characters="+#/\x00", blacklist_categories=("Cs",)), min_size=1,
                          max_size=12), min_size=1, max_size=6).map("/".join)  # fmt: skip
payloads = st.one_of(st.text(max_size=40), st.text(min_size=100, max_size=300), st.just("x" * 20_000))


@settings(max_examples=300, deadline=None)
@given(protocol=st.sampled_from((4, 5)), topic=topics, payload=payloads, retain=st.booleans(), expires=st.booleans())
def test_packets_equal_pahos_own(protocol: int, topic: str, payload: str, retain: bool, expires: bool) -> None:
    encoder = PublishEncoder(protocol, EXPIRY_S)
    assert encoder.encode(topic, payload, retain, expires) == paho_packet(protocol, topic, payload, retain, expires)
    # the cached topic section gives the same bytes the second time
    assert encoder.encode(topic, payload, retain, expires) == paho_packet(protocol, topic, payload, retain, expires)


@settings(max_examples=200, deadline=None)
@given(protocol=st.sampled_from((4, 5)), topic=topics, payload=payloads, qos=st.sampled_from((0, 1)),
       expires=st.booleans())
def test_size_is_the_length_of_the_packet_paho_writes(protocol: int, topic: str, payload: str, qos: int,
                                                      expires: bool) -> None:
    # The broker's Maximum Packet Size is checked against this, so it must be exact at QoS 0 and QoS 1.
    encoder = PublishEncoder(protocol, EXPIRY_S)
    assert encoder.size(topic, payload, qos, expires) == len(paho_packet(protocol, topic, payload, False, expires, qos))


def test_no_expiry_configured_means_no_expiry_property() -> None:
    encoder = PublishEncoder(5, 0)
    assert encoder.encode("a/b", "1", True, True) == paho_packet(5, "a/b", "1", True, False)


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"), (16_384, b"\x80\x80\x01"),
     (268_435_455, b"\xff\xff\xff\x7f")],
)
def test_remaining_length_matches_the_standards_table(n: int, encoded: bytes) -> None:
    assert remaining_length(n) == encoded  # MQTT 3.1.1 table 2.4 / MQTT 5 section 1.5.5
