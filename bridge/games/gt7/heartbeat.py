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

`ConsoleWatch` is that logic without a socket (when to send, whether the console answers), shared by
`HeartbeatClient` (its own socket: tests, tools) and the bridge's console service (`console.py`), which sends
from the bridge's receiving socket.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Callable

from bridge.faults import Faults
from bridge.games.dropped import Dropped
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


class ConsoleWatch:
    """When the next heartbeat is due and whether the console answers; no I/O, the clock is given.

    Call `started()` once, `sent()` after each heartbeat, `arrived(count, last_id)` for packets received and
    `due()` now and then (it also notices a silence: `answering` False, one warning to `faults` under `where`).
    """

    def __init__(
        self,
        console_label: str,
        *,
        where: str = WHERE,
        every_packets: int = HEARTBEAT_EVERY_PACKETS,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        silence_s: float = SILENCE_S,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console_label = console_label
        self.where = where
        self.every_packets = every_packets
        self.interval_s = interval_s
        self.silence_s = silence_s
        self.faults = faults if faults is not None else Faults()
        self.clock = clock
        self.answering: bool | None = None  # None until the first packet or the first silence
        self.heartbeats_sent = 0
        self.packets = 0
        self.silences = 0  # times the console stopped answering
        self.restarts = 0  # times the packet ids started again (the game or the console restarted)
        self.last_packet_id: int | None = None
        self._since_heartbeat = 0
        self._heartbeat_at = float("-inf")
        self._last_packet_at = 0.0

    def started(self) -> None:
        self._last_packet_at = self.clock()

    def sent(self) -> None:
        self.heartbeats_sent += 1
        self._since_heartbeat = 0
        self._heartbeat_at = self.clock()

    def arrived(self, count: int = 1, last_id: int | None = None) -> bool:
        """`count` packets arrived (the last with id `last_id`, when known); True when a heartbeat is due."""
        if count <= 0:
            return False
        self.packets += count
        self._last_packet_at = self.clock()
        self.answering = True
        if last_id is not None:
            if self.last_packet_id is not None and last_id < self.last_packet_id:
                self.restarts += 1
            self.last_packet_id = last_id
        self._since_heartbeat += count
        return self._since_heartbeat >= self.every_packets

    def due(self) -> bool:
        """True when a heartbeat is due by time; notices a silent console."""
        now = self.clock()
        if self.answering is not False and now - self._last_packet_at >= self.silence_s:
            self._silent(now - self._last_packet_at)
        return now - self._heartbeat_at >= self.interval_s

    def _silent(self, for_s: float) -> None:
        self.answering = False
        self.silences += 1
        self.faults.warn(
            self.where,
            "no_answer",
            f"the PlayStation at {self.console_label} does not answer: no GT7 packet for {for_s:.0f} s "
            f"although heartbeats are sent (is GT7 running, on track or in a replay, and is the address right?)",
        )


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, client: HeartbeatClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
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
        check_heartbeat(heartbeat)
        self.console = console
        self.console_port = console_port
        self.console_label = f"{console}:{console_port}"
        self.heartbeat = heartbeat
        self.listen = listen
        self.on_packet = on_packet
        self.faults = faults if faults is not None else Faults()
        self.watch = ConsoleWatch(self.console_label, every_packets=every_packets, interval_s=interval_s,
                                  silence_s=silence_s, faults=self.faults, clock=clock)  # fmt: skip
        self.dropped: Counter[str] = Counter()
        self.local_address: tuple[str, int] | None = None
        self._console_ip: str | None = None
        self._transport: asyncio.DatagramTransport | None = None

    # What the status and the tests read.
    answering = property(lambda self: self.watch.answering)
    heartbeats_sent = property(lambda self: self.watch.heartbeats_sent)
    packets = property(lambda self: self.watch.packets)
    silences = property(lambda self: self.watch.silences)
    restarts = property(lambda self: self.watch.restarts)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until `stop` is set (or the task is cancelled). Raises OSError when the console's name does not
        resolve or the listening port cannot be bound."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.console, self.console_port, type=socket.SOCK_DGRAM)
        self._console_ip = str(infos[0][4][0])
        transport, _ = await loop.create_datagram_endpoint(lambda: _Endpoint(self), local_addr=self.listen)
        self._transport = transport
        self.local_address = transport.get_extra_info("sockname")
        watch = self.watch
        watch.started()
        try:
            self._send_heartbeat()
            tick = min(watch.interval_s, watch.silence_s) / 4
            while stop is None or not stop.is_set():
                await asyncio.sleep(tick)
                if watch.due():
                    self._send_heartbeat()
        finally:
            transport.close()
            self._transport = None

    def _send_heartbeat(self) -> None:
        if self._transport is None or self._console_ip is None:
            return
        self._transport.sendto(self.heartbeat, (self._console_ip, self.console_port))
        self.watch.sent()

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr[0] != self._console_ip:
            self.dropped[OTHER_SOURCE] += 1
            return
        packet = codec.decode(data)
        if isinstance(packet, Dropped):
            self.dropped[packet.reason] += 1
            return
        if self.watch.arrived(1, packet.packet_id):
            self._send_heartbeat()
        if self.on_packet is not None:
            try:
                self.on_packet(data, packet)
            except Exception as exc:
                self.faults.error(WHERE, exc, "GT7 packet handler failed")


def check_heartbeat(heartbeat: bytes) -> None:
    """Raises ValueError naming the choices when `heartbeat` is not one GT7 answers."""
    if heartbeat not in SEEDS:
        raise ValueError(f"GT7 heartbeat {heartbeat!r}: expected one of {', '.join(h.decode() for h in SEEDS)}")
