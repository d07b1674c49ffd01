"""The realtime LED output in a running bridge: its metrics on the real endpoint, and no reader when unused."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

from bridge.app import Bridge
from bridge.config import RealtimeDevice, default_settings
from bridge.games.f1.codec import build, encode
from tests.broker import Mosquitto
from tests.harness import BridgeThread, settings_for
from tests.publish.test_led_realtime import FakeDevice


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def test_frames_errors_and_latency_are_metrics(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    device = FakeDevice(15)
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.bind(("127.0.0.1", 0))
    gone_port = gone.getsockname()[1]
    gone.close()  # nothing listens there: sends are refused
    realtime = (RealtimeDevice(("127.0.0.1", device.port), "dnrgb"), RealtimeDevice(("127.0.0.1", gone_port), "drgb"))
    bt = BridgeThread(settings_for(broker.port, lights={"realtime": realtime})).start()
    game = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for n, pct in enumerate((10, 50, 90, 30), start=1):
            packet = build(2025, 6, {"carTelemetryData": [{"revLightsPercent": pct}]}, session_uid=3, frame=n)
            game.sendto(encode(packet), ("127.0.0.1", bt.udp_port))
            time.sleep(0.05)
        device.wait_shown(4)
        assert bt.bridge is not None
        text = scrape(bt.bridge.metrics.port)  # type: ignore[union-attr]
    finally:
        game.close()
        bt.stop()
        device.close()
        broker.stop()
    lines = text.splitlines()
    assert f'rigbridge_led_frames_sent_total{{rig="rig1",device="127.0.0.1:{device.port}"}} 4' in lines
    refused = [line for line in lines if line.startswith("rigbridge_led_send_errors_total")]
    assert refused and all(f'device="127.0.0.1:{gone_port}",reason="econnrefused"' in line for line in refused)
    count = next(line for line in lines if line.startswith('rigbridge_led_latency_seconds_count{rig="rig1"}'))
    assert count.endswith(" 4")
    assert any(line.startswith('rigbridge_refusals_total{rig="rig1",where="leds.realtime",reason="econnrefused"}')
               for line in lines)


def test_no_reader_and_no_device_series_when_no_device_is_listed() -> None:
    from bridge.publish.metrics import Sources, led_families, take_snapshot
    from bridge.status import Histogram

    bridge = Bridge(default_settings())
    assert "led_realtime" not in bridge.services
    frames, errors, latency = led_families(take_snapshot(Sources.from_deps(bridge.deps), Histogram()), "rig")
    assert frames.samples == errors.samples == []
    assert latency.samples[-2][3] == 0  # _count
