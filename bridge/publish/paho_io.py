"""What the broker link does beneath aiomqtt, to paho's socket and packets: Nagle off, batches of PUBLISH packets
written at once, oversize incoming messages read through unkept.

These reach into paho's client internals, which is why the dependency is pinned to paho>=2,<3.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiomqtt
from paho.mqtt.client import PINGRESP, PUBLISH, MQTTMessageInfo
from paho.mqtt.client import Client as PahoClient


def paho_of(client: aiomqtt.Client) -> PahoClient:
    """The paho client inside an aiomqtt client."""
    return client._client  # aiomqtt>=2,<3 keeps its paho client here


def no_delay(client: aiomqtt.Client) -> None:
    """Send every message at once. paho leaves Nagle's algorithm on, and Nagle holds a small write back while an
    earlier one is unacknowledged; the broker acknowledges QoS 0 data only with a delayed ACK (up to 40 ms on
    Linux), so a rev-light message could wait that long behind the one before it."""
    sock = paho_of(client).socket()
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def write_packets(paho: PahoClient, data: bytes, mid: int) -> int:
    """Queue `data` (PUBLISH packets) in paho's write queue under message id `mid`, and write it at once.

    paho's own path asks the event loop, through a thread-safe call, to watch the socket, and writes when it says
    the socket is writable: three more loop turns and four system calls per batch. The socket almost always
    has room, so we write now; whatever does not fit paho leaves queued and has the loop watch the socket for.
    """
    info = MQTTMessageInfo(mid)
    if paho._registered_write:  # noqa: SLF001
        # paho already waits for the socket (data that did not fit, or its own publish): queue behind that.
        # Writing now would also drop the loop's watch before aiomqtt (thread-safely, later) adds it, and a watch
        # added after the drop is never removed: the loop would call the writer on every turn.
        return paho._packet_queue(PUBLISH, data, mid, 0, info)  # noqa: SLF001
    packet = {"command": PUBLISH, "mid": mid, "qos": 0, "pos": 0, "to_process": len(data), "packet": data,
              "info": info}  # fmt: skip
    paho._out_packet.append(packet)  # noqa: SLF001 - the packet shape of paho's _packet_queue()
    return paho.loop_write()


def drop_oversize_reads(paho: PahoClient, limit: int, dropped: Callable[[int], None]) -> None:
    """Have paho read a PUBLISH larger than `limit` through without keeping it.

    MQTT 3.1.1 cannot ask the broker for a maximum packet size, and paho gathers a packet whole (copying it as it
    grows) before anyone can look at it: one 100 MB message cost 300 MB. Its length is known from the fixed
    header, before the body is read: from there the body is read and thrown away chunk by chunk, and paho,
    told the packet is an empty PINGRESP, ends it as a no-op."""
    receive = paho._sock_recv  # noqa: SLF001 - paho>=2,<3: every read of a packet body goes through here

    def bounded_receive(size: int) -> bytes:
        packet = paho._in_packet  # noqa: SLF001 - paho's packet being read: command, remaining length, body
        if packet["have_remaining"] and packet["to_process"]:
            if packet["command"] & 0xF0 == PUBLISH and packet["remaining_length"] > limit:
                dropped(packet["remaining_length"])
                packet["command"], packet["remaining_length"] = PINGRESP, 0
            if packet["command"] == PINGRESP:  # an empty PINGRESP has no body: this is a dropped PUBLISH
                packet["packet"] = b""
                return receive(min(size, 65536))
        return receive(size)

    paho._sock_recv = bounded_receive  # type: ignore[method-assign]  # noqa: SLF001
