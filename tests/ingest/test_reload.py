"""SIGHUP to a real `rigbridge run`: forwarding targets added when it started with none, an invalid file keeps the
running targets, a target that would loop to the bridge itself is refused."""

from __future__ import annotations

import logging
import signal
import socket
import time
from pathlib import Path

import pytest

from bridge.app import Bridge
from bridge.config import default_settings
from tests.harness import RigbridgeProcess
from tests.ingest.helpers import LOCAL, Collector
from tools.net import free_port


def _write(path: Path, udp_port: int, broker_port: int, forward: str = "") -> None:
    extra = f", forward: [{forward}]" if forward else ""
    path.write_text(
        f"udp: {{bind: 127.0.0.1, port: {udp_port}{extra}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker_port}, rig: reload, reconnect_min_s: 0.5, reconnect_max_s: 2}}\n"
        "metrics: {enabled: false}\n"
    )


def _wait_log(proc: RigbridgeProcess, needle: str, count: int = 1, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = proc.output()
        if text.count(needle) >= count:
            return text
        assert proc.poll() is None, f"rigbridge exited:\n{text}"
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not logged {count} time(s):\n{proc.output()}")


def test_sighup_adds_targets_to_a_bridge_started_without_any_and_keeps_them_on_a_bad_file(tmp_path: Path) -> None:
    udp_port = free_port(socket.SOCK_DGRAM)
    config = tmp_path / "rigbridge.yaml"
    _write(config, udp_port, free_port())  # no broker there: receiving and forwarding do not need one
    game = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with game, Collector() as tool, RigbridgeProcess(config) as proc:
        _wait_log(proc, "listening for F1 telemetry")

        _write(config, udp_port, free_port(), forward=f"'{tool.target}'")
        proc.signal(signal.SIGHUP)
        _wait_log(proc, "reload: forwarding to 1 target(s)")
        game.sendto(b"first", (LOCAL, udp_port))
        assert [d for d, _ in tool.wait_for(1, timeout=5)] == [b"first"]

        config.write_text("udp: {port: [not, a, port]\n")  # not even YAML
        proc.signal(signal.SIGHUP)
        _wait_log(proc, "reload ignored, forwarding targets unchanged: invalid configuration")
        game.sendto(b"second", (LOCAL, udp_port))
        assert [d for d, _ in tool.wait_for(2, timeout=5)] == [b"first", b"second"]

        # The bridge's own port in another spelling: refused (by the config check, or by the forwarder), the
        # good target stays, and the datagram is not seen again and again.
        _write(config, udp_port, free_port(), forward=f"'127.1:{udp_port}', '{tool.target}'")
        proc.signal(signal.SIGHUP)
        text = _wait_log(proc, "every datagram would loop")
        assert f"127.1:{udp_port}" in text and "127.1 resolves to 127.0.0.1" in text
        game.sendto(b"third", (LOCAL, udp_port))
        time.sleep(0.5)
        assert [d for d, _ in tool.wait_for(3, timeout=5)] == [b"first", b"second", b"third"]
        assert proc.poll() is None
        assert "Traceback" not in proc.output()


def test_reload_without_a_config_file_says_so(caplog: pytest.LogCaptureFixture) -> None:
    bridge = Bridge(default_settings())
    try:
        with caplog.at_level(logging.WARNING, logger="rigbridge"):
            bridge.reload()
    finally:
        bridge.forwarder.close()
    assert "reload ignored: the bridge was started without a config file" in caplog.text
