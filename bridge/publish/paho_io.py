"""What the broker link does beneath aiomqtt, to paho's socket and packets: Nagle off, message ids and their
reports (`PacketIds`), batches of PUBLISH packets written at once, oversize incoming messages read through unkept.

These reach into paho's client internals, which is why the dependency is pinned to paho>=2,<3. aiomqtt>=2,<3
registers paho's callbacks with callback API version 2, the signatures the chained handlers here are called with.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import aiomqtt
from paho.mqtt.client import (
    MQTT_ERR_NO_CONN,
    MQTT_ERR_SUCCESS,
    PINGRESP,
    PUBLISH,
    CallbackOnConnect_v2,
    CallbackOnDisconnect_v2,
    CallbackOnPublish_v2,
    ConnectFlags,
    DisconnectFlags,
    MQTTMessageInfo,
)
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:
    from paho.mqtt.client import _OutPacket

Report = Callable[[ReasonCode], None]  # paho's report on one message id: written (QoS 0), acknowledged or refused


def paho_of(client: aiomqtt.Client) -> PahoClient:
    """The paho client inside an aiomqtt client."""
    return client._client  # aiomqtt>=2,<3 keeps its paho client here


def properties(packet_type: int) -> Properties:
    """An empty MQTT 5 property set for a packet type (paho's constructor carries no annotations)."""
    make = cast("Callable[[int], Properties]", Properties)
    return make(packet_type)


def no_delay(client: aiomqtt.Client) -> None:
    """Send every message at once. paho leaves Nagle's algorithm on, and Nagle holds a small write back while an
    earlier one is unacknowledged; the broker acknowledges QoS 0 data only with a delayed ACK (up to 40 ms on
    Linux), so a rev-light message could wait that long behind the one before it."""
    sock = paho_of(client).socket()
    if isinstance(sock, socket.socket):  # TCP, plain or TLS (a websocket wrapper has no options to set)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def watch_connection(
    paho: PahoClient,
    connected: Callable[[Properties | None], None],
    disconnected: Callable[[ReasonCode], None],
) -> None:
    """Hear what aiomqtt does not pass on: the CONNACK's properties (the broker's limits) and why the connection
    ended. aiomqtt's own handlers still run, right after ours."""
    aiomqtt_on_connect = cast(CallbackOnConnect_v2, paho.on_connect)
    aiomqtt_on_disconnect = cast(CallbackOnDisconnect_v2, paho.on_disconnect)

    def on_connect(
        c: PahoClient, userdata: Any, flags: ConnectFlags, reason: ReasonCode, props: Properties | None = None
    ) -> None:
        connected(props)
        aiomqtt_on_connect(c, userdata, flags, reason, props)

    def on_disconnect(
        c: PahoClient, userdata: Any, flags: DisconnectFlags, reason: ReasonCode, props: Properties | None = None
    ) -> None:
        disconnected(reason)
        aiomqtt_on_disconnect(c, userdata, flags, reason, props)

    paho.on_connect, paho.on_disconnect = on_connect, on_disconnect


class PacketIds:
    """paho's message ids on one connection, and what waits for each one's report: their one owner.

    paho numbers every PUBLISH it is handed and reports its fate to `on_publish` under that number: written to
    the socket (QoS 0), acknowledged or refused by the broker (QoS 1, with an MQTT 5 reason code). Everything
    the bridge publishes goes through here (the sender's batches and QoS 1 messages, the link's own
    acknowledged publishes), so one table maps an id to what waits for it and one handler, chained after
    aiomqtt's, hands each report over.
    """

    def __init__(self, paho: PahoClient) -> None:
        self._paho = paho
        self._waiting: dict[int, Report] = {}
        self._chained = cast(CallbackOnPublish_v2 | None, paho.on_publish)  # aiomqtt's, run first
        paho.on_publish = self._on_publish

    def _on_publish(self, c: PahoClient, userdata: Any, mid: int, reason: ReasonCode, props: Properties) -> None:
        if self._chained is not None:
            self._chained(c, userdata, mid, reason, props)
        report = self._waiting.pop(mid, None)
        if report is not None:
            report(reason)

    def publish(
        self, topic: str, payload: str, qos: int, retain: bool, props: Properties | None, report: Report
    ) -> MQTTMessageInfo:
        """Hand one QoS 1 message to paho's `publish()`, which keeps it for a resend and reports the broker's
        answer to `report`. That answer cannot come before this returns: it is read from the socket later."""
        info = self._paho.publish(topic, payload, qos, retain, props)
        if info.rc == MQTT_ERR_SUCCESS:
            self._waiting[info.mid] = report
        return info

    def write(self, data: bytes, report: Report) -> MQTTErrorCode:
        """Write `data` (QoS 0 PUBLISH packets, `wire.PublishEncoder`) under one new id; `report` hears when it
        is written, maybe before this returns. On failure nothing waits for it any more."""
        paho = self._paho
        if not paho.is_connected():
            return MQTT_ERR_NO_CONN
        mid = paho._mid_generate()  # an id of paho's own numbering, so no QoS 1 message shares it
        self._waiting[mid] = report  # before writing: a direct write reports back at once
        rc = _write_packets(paho, data, mid)
        if rc != MQTT_ERR_SUCCESS:
            self._waiting.pop(mid, None)
        return rc

    def forget(self, mid: int) -> None:
        """Nothing waits for `mid` any more (its wait timed out or the connection was lost)."""
        self._waiting.pop(mid, None)


def _write_packets(paho: PahoClient, data: bytes, mid: int) -> MQTTErrorCode:
    """Queue `data` in paho's write queue under message id `mid`, and write it at once.

    paho's own path asks the event loop, through a thread-safe call, to watch the socket, and writes when it says
    the socket is writable: three more loop turns and four system calls per batch. The socket almost always
    has room, so we write now; whatever does not fit paho leaves queued and has the loop watch the socket for.
    """
    info = MQTTMessageInfo(mid)
    if paho._registered_write:
        # paho already waits for the socket (data that did not fit, or its own publish): queue behind that.
        # Writing now would also drop the loop's watch before aiomqtt (thread-safely, later) adds it, and a watch
        # added after the drop is never removed: the loop would call the writer on every turn.
        return paho._packet_queue(PUBLISH, data, mid, 0, info)
    packet: _OutPacket = {"command": PUBLISH, "mid": mid, "qos": 0, "pos": 0, "to_process": len(data),
                          "packet": data, "info": info}  # the packet shape of paho's _packet_queue()
    paho._out_packet.append(packet)
    return paho.loop_write()


def drop_oversize_reads(paho: PahoClient, limit: int, dropped: Callable[[int], None]) -> None:
    """Have paho read a PUBLISH larger than `limit` through without keeping it.

    MQTT 3.1.1 cannot ask the broker for a maximum packet size, and paho gathers a packet whole (copying it as it
    grows) before anyone can look at it: one 100 MB message cost 300 MB. Its length is known from the fixed
    header, before the body is read: from there the body is read and thrown away chunk by chunk, and paho,
    told the packet is an empty PINGRESP, ends it as a no-op."""
    receive = paho._sock_recv  # paho>=2,<3: every read of a packet body goes through here

    def bounded_receive(bufsize: int) -> bytes:
        packet = paho._in_packet  # paho's packet being read: command, remaining length, body
        if packet["have_remaining"] and packet["to_process"]:
            if packet["command"] & 0xF0 == PUBLISH and packet["remaining_length"] > limit:
                dropped(packet["remaining_length"])
                packet["command"], packet["remaining_length"] = PINGRESP, 0
            if packet["command"] == PINGRESP:  # an empty PINGRESP has no body: this is a dropped PUBLISH
                packet["packet"] = bytearray()
                return receive(min(bufsize, 65536))
        return receive(bufsize)

    paho._sock_recv = bounded_receive  # type: ignore[method-assign]  # paho has no hook for this
