"""Faults on the bridge's other outputs: forwarding targets that go nowhere, and a full disk while recording.
Neither may reach the pipeline: the subscriber gets the same latest values as without them."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.broker import Mosquitto, free_port
from tests.harness import ProcessSubscriber, Received, RigbridgeProcess
from tests.reliability.helpers import (
    ROOT,
    RSS_BOUND_MB,
    Feeder,
    Frames,
    RssWatch,
    bridge_config,
    disagreements,
    reference,
    retained,
    start_bridge,
    window,
)

pytestmark = pytest.mark.broker


class Listener(threading.Thread):
    """A forwarding target that works: keeps every datagram it gets."""

    def __init__(self) -> None:
        super().__init__(name="forward-listener", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            with contextlib.suppress(TimeoutError):
                self.received.append(self.sock.recv(65536))

    def stop(self) -> None:
        self._done.set()
        self.join(5)
        self.sock.close()


def drain(sock: socket.socket) -> int:
    """Datagrams waiting in a socket's receive buffer."""
    sock.setblocking(False)
    count = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            sock.recv(65536)
            count += 1
    return count


@dataclass
class Run:
    """A bridge fed six seconds of race with one extra `udp:` option, and what came out of it."""

    proc: RigbridgeProcess
    sub: ProcessSubscriber
    sent: list[bytes]
    after: dict[str, Received]  # retained at the end
    want: dict[str, str]  # what the catalogue says the topics should carry
    rss_growth_mb: float


def run_with(udp_option: str, tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto,
             race: Frames) -> Run:  # fmt: skip
    sub = ProcessSubscriber(mosquitto.port, f"{ROOT}/#", directory=tmp_path).start()
    closing.callback(sub.stop)
    udp = free_port(socket.SOCK_DGRAM)
    config = bridge_config(tmp_path, mosquitto.port, udp, udp=udp_option)
    proc = closing.enter_context(start_bridge(config, mosquitto.port))
    watch = RssWatch(proc.process.pid).start()
    closing.callback(watch.stop)
    rss_before = watch.baseline()
    feeder = Feeder(udp, window(race, 10.0, 16.0)).start()
    closing.callback(feeder.stop)
    feeder.join()
    time.sleep(2.5)
    after = retained(mosquitto.port)
    return Run(proc, sub, feeder.sent, after, reference(feeder.sent), watch.peak() - rss_before)


def test_forwarding_targets_that_blackhole(
    tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto, race: Frames
) -> None:
    """Three targets: a socket that never reads (its receive buffer fills at once), a closed port, a listener."""
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    blackhole.bind(("127.0.0.1", 0))
    closing.callback(blackhole.close)
    listener = Listener()
    listener.start()
    closing.callback(listener.stop)
    targets = [blackhole.getsockname()[1], free_port(socket.SOCK_DGRAM), listener.port]  # the middle one: closed
    forward = ", ".join(f'"127.0.0.1:{port}"' for port in targets)
    run = run_with(f"forward: [{forward}]", tmp_path, closing, mosquitto, race)

    assert "0 forward targets" not in run.proc.output() and "3 forward targets" in run.proc.output()
    assert listener.received == run.sent  # the working target got every datagram, byte for byte, in order
    assert drain(blackhole) < len(run.sent) / 10  # the blackhole's buffer was full: it took a few, then nothing
    assert disagreements(run.sub.last(), run.want) == {}
    assert disagreements(run.after, run.want, retained_only=True) == {}
    assert run.after[f"{ROOT}/bridge/dropped"].payload == "0"  # forwarding errors are not drops of the game's data
    assert run.after[f"{ROOT}/status"].payload == "online"
    assert run.rss_growth_mb <= RSS_BOUND_MB


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_disk_full_while_recording(
    tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto, race: Frames
) -> None:
    run = run_with("record: /dev/full", tmp_path, closing, mosquitto, race)
    log = run.proc.output()

    assert "recording stopped, the pipeline carries on: /dev/full: No space left on device" in log, log
    assert log.count("recording stopped") == 1  # said once, not per datagram
    assert disagreements(run.sub.last(), run.want) == {}
    assert disagreements(run.after, run.want, retained_only=True) == {}
    assert run.after[f"{ROOT}/bridge/dropped"].payload == "0"
    assert run.after[f"{ROOT}/status"].payload == "online"
    assert run.rss_growth_mb <= RSS_BOUND_MB  # nothing queued for a recording that stopped
    run.proc.signal(signal.SIGTERM)
    assert run.proc.wait(15) == 0, run.proc.output()
