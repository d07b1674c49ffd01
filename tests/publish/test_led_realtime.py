"""The realtime LED output with real sockets: a fake WLED device on a UDP port decodes what the bridge sends.

The device is written here from the protocols' public descriptions (not from the bridge's encoders): DDP stores the
data at its byte offset and shows the strip on push; WARLS, DRGB and DNRGB show each datagram as it arrives.
The state is the real writer's, fed real packets built from the game's layouts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bridge.config import RealtimeDevice, default_settings
from bridge.faults import Faults
from bridge.games.f1.codec import build
from bridge.games.f1.writer import process_packet
from bridge.publish.led_realtime import LedRealtime
from bridge.publish.leds import Lights
from bridge.state.session import SessionState
from bridge.state.view import readonly

Pixel = tuple[int, int, int]
OFF: Pixel = (0, 0, 0)
G, R, B = (0, 255, 0), (255, 0, 0), (0, 0, 255)


class FakeDevice:
    """A UDP LED device: decodes DDP and WLED realtime datagrams into the strip it would show."""

    def __init__(self, leds: int = 60) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.strip: list[Pixel] = [OFF] * leds
        self.shown: list[tuple[float, tuple[Pixel, ...]]] = []  # (monotonic time, strip) at each show
        self.datagrams: list[bytes] = []
        self.timeouts: list[int] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _put(self, first: int, data: bytes) -> None:
        for n in range(len(data) // 3):
            if 0 <= first + n < len(self.strip):
                self.strip[first + n] = tuple(data[3 * n : 3 * n + 3])  # type: ignore[assignment]

    def _decode(self, d: bytes) -> bool:
        """Apply one datagram; True when the device shows the strip now."""
        if d[0] >> 6 == 1 and len(d) >= 10:  # DDP version 1
            flags, _seq, _type, _dest, offset, length = struct.unpack(">BBBBIH", d[:10])
            assert len(d) == 10 + length and offset % 3 == 0
            self._put(offset // 3, d[10:])
            return bool(flags & 0x01)
        protocol, timeout = d[0], d[1]
        self.timeouts.append(timeout)
        if protocol == 1:  # WARLS: index, r, g, b
            for n in range(2, len(d), 4):
                self._put(d[n], d[n + 1 : n + 4])
        elif protocol == 2:  # DRGB: from LED 0
            self._put(0, d[2:])
        elif protocol == 4:  # DNRGB: 16-bit start index
            self._put((d[2] << 8) | d[3], d[4:])
        else:
            raise AssertionError(f"unknown protocol byte {protocol}")
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.datagrams.append(data)
                if self._decode(data):
                    self.shown.append((time.monotonic(), tuple(self.strip)))

    def frames(self) -> list[tuple[Pixel, ...]]:
        with self.lock:
            return [strip for _, strip in self.shown]

    def wait_shown(self, count: int, timeout: float = 5.0) -> list[tuple[Pixel, ...]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frames = self.frames()
            if len(frames) >= count:
                return frames
            time.sleep(0.005)
        raise AssertionError(f"the device showed {len(self.frames())} frames, expected {count}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def devices() -> Iterator[list[FakeDevice]]:
    made: list[FakeDevice] = []
    yield made
    for device in made:
        device.close()


class Clock:
    def __init__(self) -> None:
        self.now_ns = 1_000_000_000

    def __call__(self) -> int:
        return self.now_ns


class Rig:
    """Real state fed real packets; `LedRealtime` called as the datagram handler calls it."""

    def __init__(self, sender_devices: tuple[RealtimeDevice, ...], clock: Clock, **lights: object) -> None:
        settings = dataclasses.replace(default_settings().lights, **lights)
        self.state = SessionState()
        self.clock = clock
        self.lights = Lights(readonly(self.state), settings, lambda: clock.now_ns / 1e9)
        self.faults = Faults()
        self.leds = LedRealtime(sender_devices, self.lights, frame_leds=settings.leds, brightness=settings.brightness,
                                silence_s=2.0, origin_ns=lambda: clock.now_ns, clock_ns=clock, faults=self.faults)

    def packet(self, pid: int, values: dict) -> None:
        changed = process_packet(self.state, build(2025, pid, values, session_uid=1))
        self.leds.on_change(changed)

    def revs(self, pct: int, limiter: bool = False, flag: int = 0) -> None:
        self.packet(6, {"carTelemetryData": [{"revLightsPercent": pct}]})
        self.packet(7, {"carStatusData": [{"pitLimiterStatus": int(limiter), "vehicleFIAFlags": flag}]})


def device(port: int, protocol: str = "ddp", **kw: object) -> RealtimeDevice:
    return RealtimeDevice(("127.0.0.1", port), protocol, **kw)  # type: ignore[arg-type]


def run_sync(rig: Rig, body: Callable[[], None]) -> None:
    """on_change starts the keep-alive task, so it runs inside a loop; the test drives `tick` itself. Cancelling
    the task at the end closes the output, as the end of the bridge's loop does."""

    async def main() -> None:
        body()
        task = rig.leds._task
        if task is not None:
            task.cancel()

    asyncio.run(main())


@pytest.mark.parametrize("protocol", ["ddp", "dnrgb", "drgb", "warls"])
def test_each_protocol_shows_the_frame_for_a_set_of_rev_values(devices: list[FakeDevice], protocol: str) -> None:
    dev = FakeDevice(15)
    devices.append(dev)
    rig = Rig((device(dev.port, protocol),), Clock())
    expected = {
        0: [OFF] * 15,
        33: [G] * 5 + [OFF] * 10,
        67: [G] * 5 + [R] * 5 + [OFF] * 5,
        100: [G] * 5 + [R] * 5 + [B] * 5,
    }

    def body() -> None:
        for pct in expected:
            rig.revs(pct)

    run_sync(rig, body)
    shown = dev.wait_shown(5)  # four frames, then all off when the bridge stopped
    assert shown[:4] == [tuple(frame) for frame in expected.values()]
    assert shown[-1] == (OFF,) * 15
    assert rig.leds.stats.frames[f"127.0.0.1:{dev.port}"] == 5
    if protocol != "ddp":
        assert set(dev.timeouts) == {2}


def test_nothing_is_sent_while_the_frame_is_unchanged_except_a_keep_alive(devices: list[FakeDevice]) -> None:
    dev = FakeDevice(15)
    devices.append(dev)
    clock = Clock()
    rig = Rig((device(dev.port, "dnrgb", timeout_s=3),), clock)

    def body() -> None:
        rig.revs(50)
        for _ in range(20):  # 20 packets with the same rev percentage: no datagram
            clock.now_ns += 16_000_000
            rig.revs(50)
        rig.leds.tick()
        assert len(dev.wait_shown(1)) == 1
        clock.now_ns += 700_000_000  # 1.02 s since the frame: past a third of the 3 s timeout
        rig.revs(50)
        rig.leds.tick()
        dev.wait_shown(2)
        rig.leds.tick()  # just sent: nothing more
        time.sleep(0.1)
        assert len(dev.frames()) == 2

    run_sync(rig, body)


def test_the_strip_goes_dark_when_the_game_goes_silent(devices: list[FakeDevice]) -> None:
    dev = FakeDevice(15)
    devices.append(dev)
    clock = Clock()
    rig = Rig((device(dev.port, "ddp"),), clock)

    def body() -> None:
        rig.revs(100)
        clock.now_ns += 1_900_000_000
        rig.leds.tick()  # keep-alive, still within the 2 s silence window
        clock.now_ns += 200_000_000
        rig.leds.tick()  # 2.1 s without a packet: all off, once
        rig.leds.tick()
        frames = dev.wait_shown(3)
        time.sleep(0.1)
        assert len(dev.frames()) == 3
        assert frames[0] == frames[1] == tuple([G] * 5 + [R] * 5 + [B] * 5)
        assert frames[2] == (OFF,) * 15
        clock.now_ns += 5_000_000_000
        rig.revs(33)  # the game is back
        assert dev.wait_shown(4)[3] == tuple([G] * 5 + [OFF] * 10)

    run_sync(rig, body)


def test_limiter_flash_and_flag(devices: list[FakeDevice]) -> None:
    dev = FakeDevice(15)
    devices.append(dev)
    clock = Clock()
    rig = Rig((device(dev.port, "drgb", flags=True),), clock, limiter_flash_hz=4.0)

    def body() -> None:
        rig.revs(20)  # t = 1.0 s
        rig.revs(20, limiter=True)  # 4 Hz: on for 1/8 s from t = 1.0 s
        clock.now_ns += 125_000_000
        rig.revs(20, limiter=True)  # off
        clock.now_ns += 125_000_000
        rig.revs(20, limiter=True)  # on again
        rig.revs(20, flag=3)  # limiter off, yellow flag out
        rig.revs(20)  # flag gone: the rev bar again

    run_sync(rig, body)
    bar = tuple([G] * 3 + [OFF] * 12)
    assert dev.wait_shown(7) == [bar, tuple([G] * 5 + [R] * 5 + [B] * 5), (OFF,) * 15,
                                 tuple([G] * 5 + [R] * 5 + [B] * 5), ((255, 255, 0),) * 15, bar, (OFF,) * 15]


def test_several_devices_with_their_own_length_segment_order_and_brightness(devices: list[FakeDevice]) -> None:
    long, short, seg = FakeDevice(30), FakeDevice(5), FakeDevice(40)
    devices.extend((long, short, seg))
    rig = Rig(
        (
            device(long.port, "ddp", leds=30),  # each frame LED on two strip LEDs
            device(short.port, "warls", leds=5, reversed=True),  # every third frame LED, first at the far end
            device(seg.port, "dnrgb", leds=15, start=20, brightness=128),  # LEDs 20-34, half as bright
        ),
        Clock(),
    )
    run_sync(rig, lambda: rig.revs(67))
    frame = [G] * 5 + [R] * 5 + [OFF] * 5
    assert long.wait_shown(1)[0] == tuple(p for p in frame for _ in range(2))
    assert short.wait_shown(1)[0] == tuple(reversed([frame[i] for i in (0, 3, 6, 9, 12)]))
    half = [tuple(round(c * 128 / 255) for c in p) for p in frame]
    assert seg.wait_shown(1)[0] == (OFF,) * 20 + tuple(half) + (OFF,) * 5


def test_a_long_strip_takes_several_datagrams_and_shows_once(devices: list[FakeDevice]) -> None:
    ddp_dev, dnrgb_dev = FakeDevice(1024), FakeDevice(1024)
    devices.extend((ddp_dev, dnrgb_dev))
    rig = Rig((device(ddp_dev.port, "ddp", leds=1000), device(dnrgb_dev.port, "dnrgb", leds=1000)), Clock())
    run_sync(rig, lambda: rig.revs(100))
    want = tuple(([G] * 5 + [R] * 5 + [B] * 5)[i * 15 // 1000] for i in range(1000)) + (OFF,) * 24
    assert ddp_dev.wait_shown(2)[0] == want  # 3000 bytes in 3 datagrams, one push; then all off
    assert len(ddp_dev.datagrams) == 6
    assert dnrgb_dev.wait_shown(6)[2] == want  # 3 datagrams of at most 489 LEDs


def test_send_errors_are_counted_and_reported_never_raised(devices: list[FakeDevice]) -> None:
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.bind(("127.0.0.1", 0))
    port = gone.getsockname()[1]
    gone.close()  # nothing listens: the kernel answers with port unreachable
    clock = Clock()
    rig = Rig((device(port, "drgb"),), clock)

    def body() -> None:
        for pct in (10, 50, 90, 20):
            rig.revs(pct)
            time.sleep(0.02)

    run_sync(rig, body)
    name = f"127.0.0.1:{port}"
    errors = rig.leds.stats.errors
    assert errors[(name, "econnrefused")] >= 1
    assert rig.faults.count("leds.realtime", "econnrefused") == errors[(name, "econnrefused")]
    assert rig.leds.stats.frames[name] + errors[(name, "econnrefused")] == 5


def test_a_device_on_the_bridges_own_port_is_left_out_and_reported() -> None:
    faults = Faults()
    leds = LedRealtime((device(20777), device(4048)), None, frame_leds=15, silence_s=2.0,
                       origin_ns=lambda: 0, own_udp=("0.0.0.0", 20777), faults=faults)
    assert leds.devices == ["127.0.0.1:4048"]
    assert faults.count("leds.realtime", "self_loop") == 1
    leds.shutdown()


def test_an_unresolvable_device_is_reported_and_tried_again_off_the_loop(devices: list[FakeDevice]) -> None:
    dev = FakeDevice(15)
    devices.append(dev)
    faults = Faults()
    state = SessionState()
    lights = Lights(readonly(state), default_settings().lights)
    leds = LedRealtime((RealtimeDevice(("no-such-host.invalid", 4048)), device(dev.port, "drgb")), lights,
                       frame_leds=15, silence_s=5.0, origin_ns=time.monotonic_ns, faults=faults, retry_s=0.2)
    assert leds.devices == [f"127.0.0.1:{dev.port}"]  # the resolvable one is driven at once
    assert faults.count("leds.realtime", "unresolved") == 1

    async def main() -> None:
        for n in range(1, 16):  # 0.75 s of frames: the keep-alive task runs, and retries every 0.2 s
            leds.on_change(process_packet(state, build(2025, 6, {"carTelemetryData": [{"revLightsPercent": n}]},
                                                       session_uid=1, frame=n)))
            await asyncio.sleep(0.05)
        assert leds._task is not None
        leds._task.cancel()

    asyncio.run(main())
    assert faults.count("leds.realtime", "unresolved") >= 3
    assert leds.devices == [f"127.0.0.1:{dev.port}"]
    assert dev.wait_shown(2)


def test_a_full_send_buffer_drops_the_frame_counted_and_the_datagram_path_never_waits() -> None:
    # A datagram socket pair nobody reads: its queue fills and a non-blocking send fails with EAGAIN, as a UDP
    # socket does when the network cannot take frames as fast as they come.
    clock = Clock()
    rig = Rig((device(9, "ddp"),), clock)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    (led_device,) = rig.leds._devices
    assert led_device.sock is not None
    led_device.sock.close()
    led_device.sock = ours
    name = led_device.name

    def body() -> None:
        started = time.perf_counter()
        for n in range(3000):
            clock.now_ns += 1_000_000
            rig.revs(n % 100)
        assert time.perf_counter() - started < 5  # never blocked on the full queue

    try:
        run_sync(rig, body)
    finally:
        theirs.close()
    full = rig.leds.stats.errors[(name, "buffer_full")]
    assert full > 0 and rig.leds.stats.frames[name] > 0
    assert rig.faults.count("leds.realtime", "buffer_full") == full
