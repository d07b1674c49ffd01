"""QoS 0 PUBLISH packets, encoded here so that a batch of them reaches the socket in one write.

paho's `publish()` costs far more than the packet it builds: per message it queues a packet, asks the event loop
(through a thread-safe call) to watch the socket, writes with one `send()`, and reports the write through a
callback that builds a reason code and a properties object. At a few hundred small messages a second that was
half of the bridge's CPU. A QoS 0 PUBLISH is a few bytes around the topic and payload (MQTT 3.1.1 section 3.3,
MQTT 5 section 3.3), so the sender encodes each one here, joins a batch, and hands paho one packet for it all:
paho still owns the socket, the order of everything written, partial writes and the connection's fate.
QoS 1 messages (events, status, clears of QoS 1 topics) still go through `publish()`, which tracks their
acknowledgements.
"""

from __future__ import annotations

PUBLISH = 0x30
RETAIN = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02  # MQTT 5 property identifier: four-byte integer, seconds
MAX_CACHED_TOPICS = 20_000  # topics are bounded by the catalogue and the cars; this only guards the cache itself


def remaining_length(n: int) -> bytes:
    """MQTT's variable byte integer: seven bits a byte, least significant first, high bit = more follows."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out)


class PublishEncoder:
    """Encodes QoS 0 PUBLISH packets for one connection's protocol version."""

    def __init__(self, protocol: int, expiry_s: int) -> None:
        expiry = bytes([5, MESSAGE_EXPIRY_INTERVAL]) + expiry_s.to_bytes(4, "big") if expiry_s > 0 else b"\x00"
        # MQTT 5 carries a property section in every PUBLISH; an empty one is a single zero byte. 3.1.1 has none.
        self._properties = {False: b"\x00", True: expiry} if protocol == 5 else {False: b"", True: b""}
        self._headers: dict[tuple[str, bool], bytes] = {}

    def encode(self, topic: str, payload: str, retain: bool, expires: bool) -> bytes:
        header = self._headers.get((topic, expires)) or self._header(topic, expires)
        body = payload.encode()
        size = len(header) + len(body)
        length = bytes((size,)) if size < 128 else remaining_length(size)
        return bytes((PUBLISH | RETAIN if retain else PUBLISH,)) + length + header + body

    def size(self, topic: str, payload: str, qos: int, expires: bool) -> int:
        """Bytes of the PUBLISH packet for this message, as the broker counts them against its Maximum Packet
        Size: the QoS 0 packet `encode()` writes, or the QoS 1 packet paho writes (two bytes of packet id more)."""
        header = self._headers.get((topic, expires)) or self._header(topic, expires)
        size = len(header) + len(payload.encode()) + (2 if qos else 0)
        return 1 + len(remaining_length(size)) + size

    def _header(self, topic: str, expires: bool) -> bytes:
        """The topic section, the same for every value of a topic (topic name, then MQTT 5 properties): cached."""
        name = topic.encode()
        header = len(name).to_bytes(2, "big") + name + self._properties[expires]
        if len(self._headers) >= MAX_CACHED_TOPICS:
            self._headers.clear()
        self._headers[(topic, expires)] = header
        return header
