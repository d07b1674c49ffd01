"""One source at a time, on real loopback sockets: two games interleaving on the port, `udp.source`, switching.

Two machines are two loopback addresses: 127.0.0.1 and 127.0.0.2 are both this host, and a sender bound to each
reaches the receiver from that address.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from bridge.faults import Faults
from bridge.games.f1.codec import build, encode
from bridge.ingest.forward import Forwarder
from bridge.ingest.stats import OTHER_SOURCE, IngestStats
from bridge.ingest.udp import UdpReceiver
from tests.ingest.helpers import LOCAL, Collector, udp_settings, wait_until


def _rig(packet_format: int, uid: int) -> list[bytes]:
    """A frame of one game: the same packets, its own format and session UID."""
    return [encode(build(packet_format, pid, frame=1, session_uid=uid)) for pid in (13, 14, 12, 3, 1)]


OTHER_MACHINE = "127.0.0.2"


def _sender(host: str = LOCAL) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    return sock


def test_two_games_interleaving_only_the_first_reaches_the_handler_and_downstream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = Faults()
    rig_a, rig_b = _rig(2025, 0xA), _rig(2024, 0xB)
    rounds = 40

    async def main() -> tuple[list[tuple[bytes, tuple]], IngestStats, list[bytes], int]:
        got: list[tuple[bytes, tuple]] = []
        stats = IngestStats()
        with Collector() as downstream, Forwarder([downstream.address], stats, faults) as forwarder:
            rx = UdpReceiver(
                udp_settings(receive_timeout_s=5.0), lambda d, a, t: got.append((d, a)), stats, forwarder, faults
            )
            await rx.start()
            a, b = _sender(), _sender(OTHER_MACHINE)
            try:
                for _ in range(rounds):  # two rigs in broadcast mode: their frames interleave datagram by datagram
                    for data_a, data_b in zip(rig_a, rig_b, strict=True):
                        a.sendto(data_a, rx.address)
                        b.sendto(data_b, rx.address)
                    await asyncio.sleep(0.002)
                total = 2 * rounds * len(rig_a)
                assert await wait_until(lambda: stats.received == total)
                downstream.wait_for(rounds * len(rig_a), timeout=3)
                await asyncio.sleep(0.05)
                return got, stats, downstream.data(), b.getsockname()[1]
            finally:
                a.close()
                b.close()
                rx.close()

    got, stats, forwarded, port_b = asyncio.run(main())
    per_rig = rounds * len(rig_a)
    assert [d for d, _ in got] == rig_a * rounds  # only the first game, in order
    assert {addr for _, addr in got} == {got[0][1]}
    assert stats.dropped[OTHER_SOURCE] == per_rig  # every datagram of the second game, counted
    assert forwarded == rig_a * rounds  # downstream tools see the stream the bridge follows
    assert faults.count("udp", OTHER_SOURCE) == 1  # one warning, not one per datagram
    with caplog.at_level(logging.WARNING, logger="rigbridge"):
        faults.flush()
    assert f"ignoring UDP telemetry from {OTHER_MACHINE}:{port_b}" in caplog.text
    assert caplog.text.count("ignoring UDP telemetry") == 1


def test_the_other_source_takes_over_only_after_the_followed_one_is_silent() -> None:
    faults = Faults()
    timeout = 0.3

    async def main() -> None:
        got: list[tuple[bytes, int]] = []
        stats = IngestStats()
        rx = UdpReceiver(
            udp_settings(receive_timeout_s=timeout), lambda d, a, t: got.append((d, a[1])), stats, faults=faults
        )
        await rx.start()
        a, b = _sender(), _sender(OTHER_MACHINE)
        port_a, port_b = a.getsockname()[1], b.getsockname()[1]
        try:
            a.sendto(b"a1", rx.address)
            assert await wait_until(lambda: stats.received == 1)
            await asyncio.sleep(timeout / 3)
            b.sendto(b"b1", rx.address)  # a was heard recently: b is refused
            assert await wait_until(lambda: stats.received == 2)
            await asyncio.sleep(timeout / 3)
            a.sendto(b"a2", rx.address)
            assert await wait_until(lambda: stats.received == 3)
            await asyncio.sleep(timeout * 1.5)  # a falls silent for longer than the timeout
            b.sendto(b"b2", rx.address)  # b takes over
            assert await wait_until(lambda: stats.received == 4)
            a.sendto(b"a3", rx.address)  # and now a is the other source
            b.sendto(b"b3", rx.address)
            assert await wait_until(lambda: stats.received == 6)
        finally:
            a.close()
            b.close()
            rx.close()
        assert got == [(b"a1", port_a), (b"a2", port_a), (b"b2", port_b), (b"b3", port_b)]
        assert stats.dropped[OTHER_SOURCE] == 2
        assert faults.count("udp", "source_switch") == 1
        assert faults.count("udp", OTHER_SOURCE) == 2  # b while a was followed, then a while b is

    asyncio.run(main())


def test_udp_source_names_the_sender_to_follow_whoever_came_first() -> None:
    faults = Faults()
    a, b = _sender(), _sender()  # the same machine, but udp.source names b's port
    port_b = b.getsockname()[1]

    async def main() -> None:
        got: list[bytes] = []
        stats = IngestStats()
        settings = udp_settings(receive_timeout_s=0.05, source=("127.0.0.1", port_b))
        rx = UdpReceiver(settings, lambda d, addr, t: got.append(d), stats, faults=faults)
        await rx.start()
        try:
            a.sendto(b"a1", rx.address)  # first, but not the named source
            assert await wait_until(lambda: stats.received == 1)
            b.sendto(b"b1", rx.address)
            assert await wait_until(lambda: stats.received == 2)
            await asyncio.sleep(0.2)  # b silent far longer than the timeout: a still never takes over
            a.sendto(b"a2", rx.address)
            assert await wait_until(lambda: stats.received == 3)
        finally:
            rx.close()
        assert got == [b"b1"]
        assert stats.dropped[OTHER_SOURCE] == 2

    try:
        asyncio.run(main())
    finally:
        a.close()
        b.close()
    assert faults.count("udp", OTHER_SOURCE) == 1  # a is named once


def test_udp_source_with_any_port_matches_the_host_and_an_ipv4_sender_on_a_dual_stack_socket() -> None:
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6")

    async def main() -> list[bytes]:
        got: list[bytes] = []
        stats = IngestStats()
        rx = UdpReceiver(udp_settings(bind="::", source=("127.0.0.1", 0)), lambda d, a, t: got.append(d), stats)
        await rx.start()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                tx.sendto(b"mapped", (LOCAL, rx.address[1]))  # arrives as ::ffff:127.0.0.1
            assert await wait_until(lambda: stats.received == 1)
        finally:
            rx.close()
        return got

    assert asyncio.run(main()) == [b"mapped"]


def test_many_other_senders_are_all_dropped_and_remembered_within_a_bound() -> None:
    faults = Faults()

    async def main() -> tuple[UdpReceiver, IngestStats]:
        stats = IngestStats()
        rx = UdpReceiver(udp_settings(receive_timeout_s=30.0), lambda d, a, t: None, stats, faults=faults)
        await rx.start()
        try:
            with _sender() as first:
                first.sendto(b"kept", rx.address)
                assert await wait_until(lambda: stats.received == 1)
            for n in range(200):  # a scan's worth of senders, each from another address
                with _sender(f"127.0.1.{n + 1}") as other:
                    other.sendto(b"x", rx.address)
            assert await wait_until(lambda: stats.received == 201)
        finally:
            rx.close()
        return rx, stats

    rx, stats = asyncio.run(main())
    assert stats.dropped[OTHER_SOURCE] == 200
    assert len(rx._warned) <= 64


def test_two_bridges_forwarding_to_each_other_do_not_bounce_a_datagram_forever() -> None:
    """Each one sees the other's forwarding socket as a second source and drops it before forwarding."""

    async def main() -> tuple[IngestStats, IngestStats]:
        stats_x, stats_y = IngestStats(), IngestStats()
        x = UdpReceiver(udp_settings(), lambda d, a, t: None, stats_x)
        y = UdpReceiver(udp_settings(), lambda d, a, t: None, stats_y)
        await x.start()
        await y.start()
        x.forwarder = Forwarder([y.address], stats_x)
        y.forwarder = Forwarder([x.address], stats_y)
        try:
            with _sender(OTHER_MACHINE) as game:
                game.sendto(b"one datagram", x.address)
            await asyncio.sleep(0.3)
        finally:
            for rx in (x, y):
                rx.close()
                assert rx.forwarder is not None
                rx.forwarder.close()
        return stats_x, stats_y

    stats_x, stats_y = asyncio.run(main())
    assert stats_x.received == 2  # the game's datagram, and its copy back from y (dropped)
    assert stats_y.received == 1
    assert stats_x.dropped[OTHER_SOURCE] == 1
    assert stats_x.forwarded == stats_y.forwarded == 1


def test_a_new_port_on_the_followed_machine_takes_over_at_once() -> None:
    """A game or tool restarted on the followed machine sends from a new port: no wait for the timeout."""
    faults = Faults()

    async def main() -> list[bytes]:
        got: list[bytes] = []
        stats = IngestStats()
        rx = UdpReceiver(udp_settings(receive_timeout_s=30.0), lambda d, a, t: got.append(d), stats, faults=faults)
        await rx.start()
        try:
            with _sender() as before:
                before.sendto(b"before", rx.address)
                assert await wait_until(lambda: stats.received == 1)
            with _sender() as after:
                after.sendto(b"after", rx.address)
                assert await wait_until(lambda: stats.received == 2)
        finally:
            rx.close()
        assert stats.dropped[OTHER_SOURCE] == 0
        return got

    assert asyncio.run(main()) == [b"before", b"after"]
    assert faults.count("udp", "source_switch") == 1


def test_a_datagram_back_from_the_own_forwarding_socket_is_never_followed() -> None:
    """A target that leads back to the bridge unseen by name resolution: the copy is dropped, not forwarded again."""
    faults = Faults()

    async def main() -> IngestStats:
        stats = IngestStats()
        rx = UdpReceiver(udp_settings(), lambda d, a, t: None, stats, faults=faults)
        await rx.start()
        rx.forwarder = Forwarder([rx.address], stats, faults)  # set after start: never checked against the port
        try:
            with _sender() as game:  # even from the machine the copy comes from
                game.sendto(b"one datagram", rx.address)
            await asyncio.sleep(0.3)
        finally:
            rx.close()
            rx.forwarder.close()
        return stats

    stats = asyncio.run(main())
    assert stats.received == 2 and stats.forwarded == 1
    assert stats.dropped[OTHER_SOURCE] == 1
    assert faults.count("udp", "forward_loop") == 1
