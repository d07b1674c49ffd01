"""The heartbeat client against a fake PlayStation on loopback (real UDP both ways)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from bridge.faults import Faults
from bridge.games.gt7.codec import Packet
from bridge.games.gt7.heartbeat import WHERE, HeartbeatClient
from tests.games.gt7.fake_playstation import FakePlayStation

# How long the fake console streams after a heartbeat: the clients below send one every 0.1-0.15 s, so only a
# missed heartbeat (not a busy machine's scheduling delay) lets the stream stop.
PATIENCE_S = 0.6


class Received:
    """What the client handed on: arrival times and packets."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.packets: list[Packet] = []
        self.raw: list[bytes] = []

    def __call__(self, raw: bytes, packet: Packet) -> None:
        self.times.append(time.monotonic())
        self.packets.append(packet)
        self.raw.append(raw)

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.times, self.times[1:])), default=float("inf"))


def client_for(fake: FakePlayStation, received: Received, **kwargs) -> HeartbeatClient:
    return HeartbeatClient("127.0.0.1", console_port=fake.port, listen=("127.0.0.1", 0), on_packet=received, **kwargs)


async def run_for(client: HeartbeatClient, seconds: float, during=None) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))
    if during is not None:
        await during
    else:
        await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)


def test_the_fake_console_goes_quiet_without_heartbeats() -> None:
    """The control: one heartbeat buys `patience_s` of packets and no more, so keeping a stream alive is work."""

    async def scenario() -> tuple[int, int]:
        fake = await FakePlayStation(rate_hz=100, patience_s=0.4).start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sock.sendto(b"~", ("127.0.0.1", fake.port))
        await asyncio.sleep(1.2)
        got = 0
        while True:
            try:
                sock.recv(4096)
                got += 1
            except BlockingIOError:
                break
        sent_then = fake.sent
        await asyncio.sleep(0.4)
        sock.close()
        await fake.stop()
        return got, fake.sent - sent_then

    got, later = asyncio.run(scenario())
    assert 10 <= got <= 60  # about 0.4 s at 100 Hz, whatever the machine's load
    assert later == 0


@pytest.mark.parametrize("heartbeat, size", [(b"A", 296), (b"B", 316), (b"~", 344)])
def test_heartbeats_keep_the_stream_alive(heartbeat: bytes, size: int) -> None:
    received = Received()
    faults = Faults()

    async def scenario() -> tuple[FakePlayStation, HeartbeatClient]:
        fake = await FakePlayStation(rate_hz=100, patience_s=PATIENCE_S).start()
        client = client_for(fake, received, heartbeat=heartbeat, interval_s=0.1, silence_s=1.0, faults=faults)
        await run_for(client, 1.2)
        await fake.stop()
        return fake, client

    fake, client = asyncio.run(scenario())
    assert set(fake.heartbeats) == {heartbeat} and fake.heartbeats[heartbeat] >= 6
    assert client.packets >= 60 and client.packets == len(received.packets)
    assert received.longest_gap() < PATIENCE_S, "the console went quiet: a heartbeat came too late"
    assert {len(raw) for raw in received.raw} == {size}
    assert all(p.heartbeat == heartbeat and p.variant.size == size for p in received.packets)
    ids = [p.packet_id for p in received.packets]
    assert ids == sorted(ids) and client.restarts == 0
    assert client.answering is True and faults.total == 0 and not client.dropped


def test_a_heartbeat_every_n_packets_keeps_it_alive_alone() -> None:
    """With the timer out of the way (10 s), the packet count alone sends the heartbeats, in time."""
    received = Received()

    async def scenario() -> tuple[FakePlayStation, HeartbeatClient]:
        fake = await FakePlayStation(rate_hz=100, patience_s=PATIENCE_S).start()
        client = client_for(fake, received, every_packets=15, interval_s=10.0, silence_s=5.0)
        await run_for(client, 1.5)
        await fake.stop()
        return fake, client

    _, client = asyncio.run(scenario())
    assert client.packets >= 80
    assert received.longest_gap() < PATIENCE_S
    assert client.heartbeats_sent == 1 + client.packets // 15


def test_console_restart_is_noticed_and_the_stream_comes_back() -> None:
    received = Received()
    faults = Faults()

    async def scenario() -> tuple[FakePlayStation, HeartbeatClient, list]:
        fake = await FakePlayStation(rate_hz=100, patience_s=PATIENCE_S).start()
        client = client_for(fake, received, interval_s=0.1, silence_s=0.4, faults=faults)
        seen = []

        async def restart_midway() -> None:
            await asyncio.sleep(0.8)
            seen.append(("before", client.answering, client.packets))
            await fake.restart(downtime_s=1.0)
            seen.append(("down", client.answering, client.silences))
            await asyncio.sleep(1.0)

        await run_for(client, 0, during=restart_midway())
        await fake.stop()
        return fake, client, seen

    fake, client, seen = asyncio.run(scenario())
    assert seen[0][1] is True and seen[0][2] > 30
    assert seen[1] == ("down", False, 1), "the silence while the console was down was not noticed"
    assert faults.count(WHERE, "no_answer") == 1
    assert fake.boots == 2 and client.restarts == 1
    assert client.answering is True
    after = [p for p in received.packets if p.packet_id < 500_000]
    assert len(after) >= 30 and after[0].packet_id == 1


def test_no_console_is_reported_clearly() -> None:
    faults = Faults()

    async def scenario() -> HeartbeatClient:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        silent_port = probe.getsockname()[1]  # bound and never read: nobody answers
        client = HeartbeatClient(
            "127.0.0.1", console_port=silent_port, listen=("127.0.0.1", 0), interval_s=0.1, silence_s=0.3,
            faults=faults,
        )
        await run_for(client, 0.8)
        probe.close()
        return client

    client = asyncio.run(scenario())
    assert client.answering is False and client.packets == 0 and client.heartbeats_sent >= 5
    assert faults.count(WHERE, "no_answer") == 1  # said once, not once per heartbeat
    message = faults.queue[0].message
    assert "does not answer" in message and "127.0.0.1" in message


def test_a_bad_heartbeat_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="GT7 heartbeat b'C'"):
        HeartbeatClient("127.0.0.1", heartbeat=b"C")
