"""Acceptance, end to end with real sockets: game datagrams into a real `rigbridge run` (with a real mosquitto), the
LED frames out to fake WLED devices speaking each protocol; dark after the game stops and after SIGTERM."""

from __future__ import annotations

import itertools
import signal
import socket
import threading
import time
from pathlib import Path

from bridge.games.f1.codec import build, encode
from tests.broker import Mosquitto, free_port
from tests.harness import RigbridgeProcess
from tests.publish.test_led_realtime import OFF, B, FakeDevice, G, R
from tests.publish.test_mqtt_broker import wait_status

PROTOCOLS = ("ddp", "dnrgb", "drgb", "warls")
FULL = tuple([G] * 5 + [R] * 5 + [B] * 5)
DARK = (OFF,) * 15
YELLOW = ((255, 255, 0),) * 15


def bar(lit: int) -> tuple:
    return FULL[:lit] + (OFF,) * (15 - lit)


class Game:
    """Encoded F1 25 CarTelemetry and CarStatus datagrams for the player's car, sent to the bridge's port."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.target = ("127.0.0.1", port)
        self.frame = 0

    def send(self, pct: int, *, limiter: bool = False, flag: int = 0) -> None:
        self.frame += 1
        for pid, values in ((7, {"carStatusData": [{"pitLimiterStatus": int(limiter), "vehicleFIAFlags": flag}]}),
                            (6, {"carTelemetryData": [{"revLightsPercent": pct}]})):
            self.sock.sendto(encode(build(2025, pid, values, session_uid=7, frame=self.frame)), self.target)

    def stream(self, seconds: float, pct: int, **kw: object) -> None:
        """At 60 Hz, as the game sends."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.send(pct, **kw)  # type: ignore[arg-type]
            time.sleep(1 / 60)


def wait_for(device: FakeDevice, frame: tuple, since: int = 0, timeout: float = 5.0) -> int:
    """The index of the first frame equal to `frame` the device showed at or after index `since`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames = device.frames()
        for index in range(since, len(frames)):
            if frames[index] == frame:
                return index
        time.sleep(0.01)
    raise AssertionError(f"never shown; the device showed {device.frames()[since:][-5:]}")


def test_every_protocol_end_to_end_then_dark_after_silence_and_after_sigterm(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    devices = {protocol: FakeDevice(15) for protocol in PROTOCOLS}
    udp_port = free_port()
    realtime = "\n".join(f"    - {{target: '127.0.0.1:{d.port}', protocol: {p}, flags: true, timeout_s: 2}}"
                         for p, d in devices.items())
    config = tmp_path / "rigbridge.yaml"
    config.write_text(
        f"udp: {{bind: 127.0.0.1, port: {udp_port}, receive_timeout_s: 1}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, rig: proc, keepalive: 5}}\n"
        "metrics: {enabled: false}\n"
        "lights:\n  limiter_flash_hz: 4\n  realtime:\n" + realtime + "\n"
    )
    game = Game(udp_port)
    try:
        with RigbridgeProcess(config) as proc:
            wait_status(broker.port, "online", 20)
            # rev values: each frame on every device
            for pct, lit in ((33, 5), (67, 10), (100, 15), (7, 1)):
                game.send(pct)
                for protocol, device in devices.items():
                    assert wait_for(device, bar(lit)) >= 0, protocol
            # the limiter flashes the whole strip at 4 Hz while the game sends at 60 Hz
            start = {p: len(d.frames()) for p, d in devices.items()}
            game.stream(1.0, 20, limiter=True)
            for protocol, device in devices.items():
                flashing = device.frames()[start[protocol]:]
                assert set(flashing) <= {FULL, DARK, bar(3)}, protocol
                flashes = [f for f in flashing if f != bar(3)]
                assert flashes.count(FULL) >= 3 and flashes.count(DARK) >= 3, (protocol, len(flashes))
                assert all(a != b for a, b in itertools.pairwise(flashes)), protocol  # change-only
            # a yellow flag paints the strip
            game.send(20, flag=3)
            for protocol, device in devices.items():
                assert wait_for(device, YELLOW, start[protocol]) >= 0, protocol
            # the game goes silent: dark within udp.receive_timeout_s (1 s) and a tick
            game.send(100)
            marks = {p: wait_for(d, FULL, start[p]) for p, d in devices.items()}
            silent_at = time.monotonic()
            for protocol, device in devices.items():
                wait_for(device, DARK, marks[protocol] + 1, timeout=3.0)
            assert time.monotonic() - silent_at < 2.0
            # back on, then SIGTERM while the game keeps sending: the last frame every device shows is all off
            after = {p: len(d.frames()) for p, d in devices.items()}
            feeding = threading.Event()

            def feed() -> None:
                while feeding.is_set():
                    game.send(100)
                    time.sleep(1 / 60)

            feeding.set()
            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            for protocol, device in devices.items():
                wait_for(device, FULL, after[protocol])
            proc.signal(signal.SIGTERM)
            assert proc.wait(15) == 0, proc.output()
            feeding.clear()
            feeder.join(2)
            time.sleep(0.2)
            for protocol, device in devices.items():
                assert device.frames()[-1] == DARK, protocol
            assert "Traceback" not in proc.output()
    finally:
        game.sock.close()
        for device in devices.values():
            device.close()
        broker.stop()
