"""A fake PlayStation running GT7: a real UDP peer on loopback that behaves like the console towards listeners.

It streams encrypted packets (the synthetic race, in the variant the heartbeat asks for, with the key of that
heartbeat) to the address the heartbeats come from, only while heartbeats keep arriving: once none has
arrived for `patience_s` it goes quiet, as the game does. `restart()` closes its socket for a while and comes
back on the same port with packet ids starting again, like a console (or the game) restarting.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections import Counter

from bridge.games.gt7 import crypto
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7

PACKET_ID_OFFSET = 0x70


class _Console(asyncio.DatagramProtocol):
    def __init__(self, fake: FakePlayStation) -> None:
        self.fake = fake

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.fake._heartbeat(data, addr)


class FakePlayStation:
    def __init__(self, *, rate_hz: float = 100.0, patience_s: float = 0.5, first_packet_id: int = 500_000) -> None:
        self.rate_hz = rate_hz
        self.patience_s = patience_s
        self.first_packet_id = first_packet_id
        self.port = 0
        self.heartbeats: Counter[bytes] = Counter()
        self.sent = 0
        self.boots = 0
        self._listener: tuple[str, int] | None = None
        self._heartbeat_kind = b"~"
        self._heartbeat_at = float("-inf")
        self._transport: asyncio.DatagramTransport | None = None
        self._streamer: asyncio.Task[None] | None = None

    async def start(self) -> FakePlayStation:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Console(self), local_addr=("127.0.0.1", self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        self.boots += 1
        self._listener = None  # a fresh console knows no listener until the next heartbeat
        self._heartbeat_at = float("-inf")
        self._streamer = asyncio.create_task(self._stream(self.first_packet_id if self.boots == 1 else 1))
        return self

    async def stop(self) -> None:
        if self._streamer is not None:
            self._streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._streamer
            self._streamer = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def restart(self, downtime_s: float) -> None:
        await self.stop()
        await asyncio.sleep(downtime_s)
        await self.start()

    @property
    def streaming(self) -> bool:
        return self._listener is not None and time.monotonic() - self._heartbeat_at <= self.patience_s

    def _heartbeat(self, data: bytes, addr: tuple[str, int]) -> None:
        self.heartbeats[data] += 1
        if data in crypto.SEEDS:
            self._listener = addr
            self._heartbeat_kind = data
            self._heartbeat_at = time.monotonic()

    async def _stream(self, packet_id: int) -> None:
        races = {hb: SyntheticGt7(Gt7SynthConfig(heartbeat=hb, laps=50)).plain_packets() for hb in crypto.SEEDS}
        period = 1.0 / self.rate_hz
        iv = 0x1000
        while True:
            await asyncio.sleep(period)
            if not self.streaming or self._transport is None:
                continue
            kind = self._heartbeat_kind
            plain = bytearray(next(races[kind])[1])
            struct.pack_into("<I", plain, PACKET_ID_OFFSET, packet_id)
            iv += 7919
            self._transport.sendto(crypto.encrypt(plain, iv, kind), self._listener)
            packet_id += 1
            self.sent += 1
