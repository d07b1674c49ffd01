"""Forwarder on real loopback sockets: byte-identical copies, dead targets never slow the pipeline, reload."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable

import pytest

from bridge.ingest.forward import Forwarder
from bridge.ingest.stats import IngestStats
from bridge.ingest.udp import UdpReceiver
from tests.ingest.helpers import LOCAL, Collector, frame_datagrams, send_all, udp_settings, wait_until


def _dead_port() -> int:
    """A loopback port with nothing listening (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCAL, 0))
        port: int = sock.getsockname()[1]
    return port


def test_two_targets_get_identical_bytes_including_garbage() -> None:
    payloads = [*frame_datagrams(1), b"\xff" * 7, os.urandom(900), b"", b"not a game packet"]

    async def main() -> tuple[list[bytes], list[bytes], list[bytes], IngestStats]:
        got: list[bytes] = []
        stats = IngestStats()
        with Collector() as a, Collector() as b:
            # one by address, one by host name: names are resolved once, when the target list is set
            with Forwarder([a.address, ("localhost", b.address[1])], stats) as forwarder:
                assert forwarder.problems == []
                rx = UdpReceiver(udp_settings(), lambda d, addr, t: got.append(d), stats, forwarder)
                await rx.start()
                try:
                    send_all(rx.address, payloads)
                    assert await wait_until(lambda: len(got) == len(payloads))
                finally:
                    rx.close()
                a.wait_for(len(payloads), timeout=3)
                b.wait_for(len(payloads), timeout=3)
            return got, a.data(), b.data(), stats

    got, at_a, at_b, stats = asyncio.run(main())
    assert got == payloads
    assert at_a == payloads
    assert at_b == payloads
    assert stats.forwarded == 2 * len(payloads)
    assert stats.forward_errors == 0


def test_dead_target_does_not_slow_the_pipeline_and_errors_are_counted() -> None:
    n = 2000
    payload = frame_datagrams(2)[0]

    async def run(forwarder: Forwarder | None, stats: IngestStats) -> float:
        done = 0

        def handler(data: bytes, addr: tuple, t_ns: int) -> None:
            nonlocal done
            done += 1

        rx = UdpReceiver(udp_settings(), handler, stats, forwarder)
        await rx.start()
        try:
            started = time.perf_counter()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for _ in range(0, n, 100):  # in slices, with the loop draining in between: no kernel drops
                    send_all(rx.address, [payload] * 100, tx)
                    await asyncio.sleep(0)
            assert await wait_until(lambda: done == n, timeout=10)
            return time.perf_counter() - started
        finally:
            rx.close()

    baseline_stats = IngestStats()
    baseline = asyncio.run(run(None, baseline_stats))
    dead_stats = IngestStats()
    with Forwarder([(LOCAL, _dead_port())], dead_stats) as forwarder:
        with_dead = asyncio.run(run(forwarder, dead_stats))
        by_target = dict(forwarder.errors_by_target)
    assert baseline_stats.received == dead_stats.received == n
    assert with_dead < 3 * baseline + 0.5, f"{with_dead:.3f} s with a dead target vs {baseline:.3f} s without"
    # Loopback answers with ICMP port unreachable, which the connected socket reports as ECONNREFUSED.
    assert dead_stats.forward_errors > 0
    assert dead_stats.forward_errors + dead_stats.forwarded == n
    assert sum(by_target.values()) == dead_stats.forward_errors


def test_forward_never_raises_on_send_errors() -> None:
    stats = IngestStats()
    with Forwarder([(LOCAL, _dead_port())], stats) as forwarder:
        for _ in range(50):
            forwarder.forward(b"x")
            time.sleep(0.001)  # give the ICMP answer time to arrive between sends
        too_big = b"x" * 70_000  # larger than any UDP datagram: EMSGSIZE
        forwarder.forward(too_big)
    assert stats.forward_errors >= 2
    assert stats.forwarded + stats.forward_errors == 51


def test_reload_swaps_targets_keeps_unchanged_and_reports_unresolvable(monkeypatch: pytest.MonkeyPatch) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host: str, *args: object, **kwargs: object) -> object:
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    stats = IngestStats()
    with Collector() as a, Collector() as b, Forwarder([a.address], stats) as forwarder:
        first_socket = forwarder._sockets[0]
        forwarder.forward(b"1")
        forwarder.reload([a.address, ("no-such-host.invalid", 20777), b.address])
        assert [t.port for t in forwarder.targets] == [a.address[1], b.address[1]]
        assert forwarder._sockets[0] is first_socket  # unchanged target, same socket
        assert len(forwarder.problems) == 1
        assert "no-such-host.invalid:20777" in forwarder.problems[0]
        forwarder.forward(b"2")
        forwarder.reload([b.address])
        assert first_socket.fileno() == -1  # the removed target's socket is closed
        assert forwarder.problems == []
        forwarder.forward(b"3")
        a.wait_for(2, timeout=2)
        b.wait_for(2, timeout=2)
        time.sleep(0.05)
        assert a.data() == [b"1", b"2"]
        assert b.data() == [b"2", b"3"]
    assert stats.forwarded == 4 and stats.forward_errors == 0


def test_ipv6_target() -> None:
    try:
        receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        receiver.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with receiver:
        receiver.settimeout(2)
        stats = IngestStats()
        with Forwarder([("::1", receiver.getsockname()[1])], stats) as forwarder:
            assert forwarder.targets[0].label == f"[::1]:{receiver.getsockname()[1]}"
            forwarder.forward(b"six")
            assert receiver.recv(100) == b"six"


def test_reload_in_thread_keeps_the_loop_running_and_applies_requests_in_order() -> None:
    """A slow lookup (DNS) on SIGHUP: the loop goes on; a failed read keeps the running targets."""

    async def main() -> None:
        with Collector() as a, Collector() as b, Forwarder([a.address], IngestStats()) as forwarder:
            outcomes: list[BaseException | None] = []
            ticks = 0

            def slow(targets: list[tuple[str, int]]) -> Callable[[], list[tuple[str, int]]]:
                def read() -> list[tuple[str, int]]:
                    time.sleep(0.2)
                    return targets

                return read

            def broken() -> list[tuple[str, int]]:
                raise ValueError("not a config")

            forwarder.reload_in_thread(slow([b.address]), outcomes.append)
            forwarder.reload_in_thread(slow([a.address, b.address]), outcomes.append)
            forwarder.reload_in_thread(broken, outcomes.append)
            while len(outcomes) < 3:
                ticks += 1
                await asyncio.sleep(0.01)
            assert ticks >= 20  # the loop ran all along (0.4 s of lookups)
            assert outcomes[:2] == [None, None]
            assert isinstance(outcomes[2], ValueError)
            assert [t.port for t in forwarder.targets] == [a.address[1], b.address[1]]  # the last good one

    asyncio.run(main())
