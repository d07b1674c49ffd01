"""Keep a PlayStation streaming GT7 telemetry: the heartbeat the game needs, and whether the console answers.

GT7 sends nothing until a listener sends a one-byte heartbeat ("A", "B" or "~", which also chooses the packet
variant) to the console's port 33739, and stops soon after the heartbeats stop. The public clients send one
after every 100 packets received, and again when nothing arrives; this client does both: a heartbeat after
`every_packets` packets, or when `interval_s` has passed since the last one (~1.6 s: 100 packets at 60 Hz).

The console sends to port 33740 of the address the heartbeats come from, so they leave from the listening
socket itself (bound to 33740 by default; another port only works with a peer that answers to the heartbeat's
source port, like the fake console of the tests).

When no packet arrives for `silence_s` the console "does not answer": `answering` turns False and a warning
goes to Faults; heartbeats go on, so the stream resumes by itself when the game comes back (after a console
restart its packet ids start again, which `restarts` counts).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Callable

from bridge.faults import Faults
from bridge.games.gt7 import codec
from bridge.games.gt7.crypto import SEEDS

CONSOLE_PORT = 33739
LISTEN_PORT = 33740
HEARTBEAT_EVERY_PACKETS = 100
HEARTBEAT_INTERVAL_S = 1.6
SILENCE_S = 5.0
WHERE = "gt7.console"
OTHER_SOURCE = "other_source"

PacketHandler = Callable[[bytes, codec.Packet], None]


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, client: HeartbeatClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.client._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.client.faults.warn(WHERE, "send_failed", f"GT7 heartbeat to {self.client.console_label}: {exc}")


class HeartbeatClient:
    """Sends heartbeats to one console and hands each packet it sends back to `on_packet(raw, packet)`.

    `raw` is the datagram as it arrived (still encrypted: what other GT7 tools expect if it is forwarded).
    Packets from other addresses and packets that do not decode are counted in `dropped` by reason.
    """

    def __init__(
        self,
        console: str,
        *,
        heartbeat: bytes = b"~",
        console_port: int = CONSOLE_PORT,
        listen: tuple[str, int] = ("0.0.0.0", LISTEN_PORT),
        every_packets: int = HEARTBEAT_EVERY_PACKETS,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        silence_s: float = SILENCE_S,
        on_packet: PacketHandler | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if heartbeat not in SEEDS:
            raise ValueError(f"GT7 heartbeat {heartbeat!r}: expected one of {', '.join(h.decode() for h in SEEDS)}")
        self.console = console
        self.console_port = console_port
        self.console_label = f"{console}:{console_port}"
        self.heartbeat = heartbeat
        self.listen = listen
        self.every_packets = every_packets
        self.interval_s = interval_s
        self.silence_s = silence_s
        self.on_packet = on_packet
        self.faults = faults if faults is not None else Faults()
        self.clock = clock
        # What the status and the tests read.
        self.answering: bool | None = None  # None until the first packet or the first silence
        self.heartbeats_sent = 0
        self.packets = 0
        self.dropped: Counter[str] = Counter()
        self.silences = 0  # times the console stopped answering
        self.restarts = 0  # times the packet ids started again (the game or the console restarted)
        self.last_packet_id: int | None = None
        self.local_address: tuple | None = None
        self._console_ip: str | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._since_heartbeat = 0
        self._heartbeat_at = 0.0
        self._last_packet_at = 0.0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until `stop` is set (or the task is cancelled). Raises OSError when the console's name does not
        resolve or the listening port cannot be bound."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.console, self.console_port, type=socket.SOCK_DGRAM)
        self._console_ip = infos[0][4][0]
        transport, _ = await loop.create_datagram_endpoint(lambda: _Endpoint(self), local_addr=self.listen)
        self._transport = transport
        self.local_address = transport.get_extra_info("sockname")
        started = self.clock()
        self._last_packet_at = started
        try:
            self._send_heartbeat()
            tick = min(self.interval_s, self.silence_s) / 4
            while stop is None or not stop.is_set():
                await asyncio.sleep(tick)
                now = self.clock()
                if now - self._heartbeat_at >= self.interval_s:
                    self._send_heartbeat()
                if self.answering is not False and now - self._last_packet_at >= self.silence_s:
                    self._silent(now - self._last_packet_at)
        finally:
            transport.close()
            self._transport = None

    def _send_heartbeat(self) -> None:
        if self._transport is None:
            return
        self._transport.sendto(self.heartbeat, (self._console_ip, self.console_port))
        self.heartbeats_sent += 1
        self._since_heartbeat = 0
        self._heartbeat_at = self.clock()

    def _silent(self, for_s: float) -> None:
        self.answering = False
        self.silences += 1
        self.faults.warn(
            WHERE,
            "no_answer",
            f"the PlayStation at {self.console_label} does not answer: no GT7 packet for {for_s:.0f} s "
            f"although heartbeats are sent (is GT7 running, on track or in a replay, and is the address right?)",
        )

    def _received(self, data: bytes, addr: tuple) -> None:
        if addr[0] != self._console_ip:
            self.dropped[OTHER_SOURCE] += 1
            return
        packet = codec.decode(data)
        if not packet:
            self.dropped[packet.reason] += 1
            return
        self.packets += 1
        self._last_packet_at = self.clock()
        self.answering = True
        packet_id = packet.packet_id
        if self.last_packet_id is not None and packet_id < self.last_packet_id:
            self.restarts += 1
        self.last_packet_id = packet_id
        self._since_heartbeat += 1
        if self._since_heartbeat >= self.every_packets:
            self._send_heartbeat()
        if self.on_packet is not None:
            try:
                self.on_packet(data, packet)
            except Exception as exc:  # noqa: BLE001 - a consumer's bug must not stop the heartbeats
                self.faults.error(WHERE, exc, "GT7 packet handler failed")
