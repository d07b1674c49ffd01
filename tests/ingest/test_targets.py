"""Forward targets against the bridge itself, on real sockets: loops refused in every spelling, a cap, names that
do not resolve yet, sockets that cannot be opened, dead targets logged once."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from bridge.faults import Faults
from bridge.ingest import forward
from bridge.ingest.forward import Forwarder
from bridge.ingest.stats import IngestStats
from bridge.ingest.targets import MAX_FORWARD_TARGETS, local_addresses, self_loop_problems
from bridge.ingest.udp import UdpReceiver
from tests.ingest.helpers import LOCAL, Collector, udp_settings, wait_until
from tools.net import free_port

# Every way to write "this machine" that the resolver understands.
LOOPING = ("127.1", "0", "0x7f000001", "2130706433", "localhost", "::ffff:127.0.0.1", "127.0.0.1")


def test_every_spelling_of_this_machine_on_the_own_port_is_a_loop() -> None:
    port = 20777
    interfaces = sorted(str(a) for a in local_addresses() if not a.is_loopback and not a.is_link_local)
    harmless = [("127.0.0.1", port + 1), ("198.51.100.7", port), ("no-such-host.invalid", port)]
    targets = [(host, port) for host in (*LOOPING, *interfaces)] + harmless

    found = self_loop_problems(targets, "0.0.0.0", port)
    looping_v4 = [i for i, (host, _) in enumerate(targets) if i < len(LOOPING) or ":" not in host]
    assert sorted(found) == [i for i in looping_v4 if targets[i] not in harmless]
    assert found[0] == "forwards to the bridge's own port (127.1 resolves to 127.0.0.1): every datagram would loop"
    assert "2130706433 resolves to 127.0.0.1" in found[3]

    # A socket bound to one address receives only there: another interface's address does not reach it.
    on_loopback = self_loop_problems(targets, "127.0.0.1", port)
    assert sorted(on_loopback) == list(range(len(LOOPING)))
    assert self_loop_problems(targets, "0.0.0.0", 0) == {}  # any free port: nothing to compare before binding


def test_a_looping_target_is_refused_at_start_and_the_datagram_is_seen_once(caplog: pytest.LogCaptureFixture) -> None:
    faults = Faults()
    port = free_port(socket.SOCK_DGRAM)

    async def main() -> tuple[list[bytes], IngestStats, Forwarder, list[bytes]]:
        got: list[bytes] = []
        stats = IngestStats()
        with Collector() as tool:
            forwarder = Forwarder([*((host, port) for host in LOOPING), tool.address], stats, faults)
            # Not known to be a loop before the receiver binds (config validation catches it when udp.port is set).
            assert len(forwarder.targets) == len(LOOPING) + 1
            rx = UdpReceiver(
                udp_settings(bind="0.0.0.0", port=port), lambda d, a, t: got.append(d), stats, forwarder, faults
            )
            await rx.start()
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as game:
                    game.sendto(b"frame", (LOCAL, port))
                assert await wait_until(lambda: stats.received >= 1)
                await asyncio.sleep(0.3)  # time for a loop to show: it would run ~50,000 times a second
                tool.wait_for(1, timeout=2)
            finally:
                rx.close()
                forwarder.close()
            return got, stats, forwarder, tool.data()

    got, stats, _forwarder, at_tool = asyncio.run(main())
    assert stats.received == 1 and got == [b"frame"]
    assert at_tool == [b"frame"]  # the good target beside them keeps working
    assert faults.count("forward", "self_loop") == len(LOOPING)
    with caplog.at_level(logging.WARNING, logger="rigbridge"):
        faults.flush()
    assert f"forward target 127.1:{port} refused: forwards to the bridge's own port (127.1 resolves to 127.0.0.1)" in (
        caplog.text
    )


def test_the_number_of_targets_is_capped() -> None:
    faults = Faults()
    stats = IngestStats()
    many = [(LOCAL, 40000 + i) for i in range(MAX_FORWARD_TARGETS + 8)]
    with Forwarder(many, stats, faults) as forwarder:
        assert len(forwarder.targets) == MAX_FORWARD_TARGETS
        assert forwarder.problems[0].startswith(f"{len(many)} forward targets given, at most {MAX_FORWARD_TARGETS}")
        forwarder.reload(many * 2)
        assert len(forwarder.targets) == MAX_FORWARD_TARGETS
    assert faults.count("forward", "too_many") == 2


def test_an_unresolvable_target_is_logged_and_joins_once_it_resolves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A name the resolver does not know yet (DNS not up at boot): the others work, and it is tried again."""
    real_getaddrinfo = socket.getaddrinfo
    known = {"late.invalid": False}

    def getaddrinfo(host: str, *args: object, **kwargs: object) -> object:
        if host == "late.invalid":
            if not known[host]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            host = LOCAL
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(forward, "RETRY_S", 0.05)
    faults = Faults()

    async def main() -> tuple[list[bytes], list[bytes]]:
        stats = IngestStats()
        with Collector() as good, Collector() as late:
            forwarder = Forwarder([good.address, ("late.invalid", late.address[1])], stats, faults)
            rx = UdpReceiver(udp_settings(), lambda d, a, t: None, stats, forwarder, faults)
            await rx.start()
            try:
                assert [t.port for t in forwarder.targets] == [good.address[1]]
                assert "late.invalid" in forwarder.problems[0]
                await asyncio.sleep(0.2)  # a few retries that still fail: counted, not logged again
                known["late.invalid"] = True
                assert await wait_until(lambda: len(forwarder.targets) == 2, timeout=3)
                assert forwarder.problems == []
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as game:
                    game.sendto(b"both", rx.address)
                assert await wait_until(lambda: len(good.items) == len(late.items) == 1, timeout=3)
            finally:
                rx.close()
                forwarder.close()
            return good.data(), late.data()

    at_good, at_late = asyncio.run(main())
    assert at_good == at_late == [b"both"]
    with caplog.at_level(logging.WARNING, logger="rigbridge"):
        faults.flush()
    assert caplog.text.count("forward target late.invalid") == 1
    assert "cannot resolve host: Name or service not known; trying again every" in caplog.text


def test_running_out_of_file_descriptors_is_a_clear_problem_not_a_traceback() -> None:
    script = textwrap.dedent(
        """
        import os, resource
        from bridge.faults import Faults
        from bridge.ingest.forward import Forwarder
        from bridge.ingest.stats import IngestStats
        open_now = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 3, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        faults = Faults()
        forwarder = Forwarder([("127.0.0.1", 40000 + i) for i in range(10)], IngestStats(), faults)
        print(len(forwarder.targets), faults.count("forward", "EMFILE"))
        print(forwarder.problems[-1])
        """
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("counts open descriptors in /proc")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    counts, last = done.stdout.splitlines()
    opened, refused = map(int, counts.split())
    assert opened < 10 and opened + refused == 10
    assert last.endswith("cannot send there: Too many open files (EMFILE)")


def test_a_dead_target_is_reported_by_errno_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    faults = Faults()
    stats = IngestStats()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOCAL, 0))
        dead = probe.getsockname()[1]
    with Forwarder([(LOCAL, dead)], stats, faults) as forwarder:
        for _ in range(50):
            forwarder.forward(b"x")
            time.sleep(0.001)  # let the ICMP port unreachable arrive between sends
    refused = faults.count("forward", "ECONNREFUSED")
    assert refused == stats.forward_errors > 0
    with caplog.at_level(logging.WARNING, logger="rigbridge"):
        assert faults.flush() == 1
    assert f"forwarding to 127.0.0.1:{dead} failed: Connection refused (ECONNREFUSED)" in caplog.text
