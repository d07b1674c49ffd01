"""Shift lights at wire speed: the LED frame straight to WLED or ESPHome devices over UDP (DDP, DNRGB, DRGB, WARLS).

`LedRealtime` reads the frame `Lights` computes (profile, rev percentage, limiter flash) right after the writer, on
the datagram path, and when it changed sends it to every device at once: one datagram per device (more only for
strips longer than one datagram holds), no broker in between. While the frame is unchanged nothing is sent except
a keep-alive at a third of the device's timeout, so the device stays in realtime mode. When the game goes silent
(nothing for `udp.receive_timeout_s`) and when the bridge stops, every device gets an all-off frame; if the
process dies, the device's own timeout ends realtime mode.

Each device is a segment: `leds` LEDs from `start`, optionally reversed, with its own brightness. The frame is
stretched or shrunk to the segment (LED i shows frame LED i * frame / leds), so a 15-LED profile drives a 30- or
8-LED strip. With `flags`, a flag that is out (yellow, blue, red, safety car) paints the segment in its colour;
the pit limiter flash still comes first. Datagrams are built once per distinct frame and kept (a bounded cache:
a strip has a few dozen frames), so a changed frame costs a dict lookup and one `send` per datagram.

Sends never block and never raise: each device has its own connected, non-blocking UDP socket (its host name was
resolved once, at start, not per frame); a full send buffer drops the frame, and every failure is counted per
device and reason and reported to `Faults`. A device that resolves to the bridge's own UDP port is refused, as
`check-config` refuses it; one whose name does not resolve yet is tried again every 30 s in a worker thread.

An output service (`bridge/publish/service.py`) with explicit dependencies (the devices, `Lights`, where datagram
times come from, the silence timeout, a clock, `Faults`): `start` starts the keep-alive task (supervised; used
directly, the first frame does), and the task's end closes the output, whether `close` cancels it or the loop
ends (SIGINT, SIGTERM): its done callback sends the all-off.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.faults import Faults
from bridge.net import RETRY_S, realtime_loop_message, resolve_target, self_loop_problems
from bridge.publish.ddp import ddp_frame
from bridge.publish.fieldread import Context, FieldReader
from bridge.publish.service import Deps
from bridge.publish.wled_udp import dnrgb, drgb, warls
from bridge.settings import RealtimeDevice, Settings
from bridge.state.changes import CAR_STATUS, CAR_TELEMETRY, EVENTS, RESET, SESSION, Changes
from bridge.status import Histogram
from bridge.supervise import cancel, supervise

__all__ = ["FLAG_COLOURS", "FRAME_GROUPS", "LedRealtime", "LedStats", "device_name"]

# The state groups after which the frame or the flag can differ (telemetry: revs; status: limiter, FIA flag;
# session: safety car; events: red flag).
FRAME_GROUPS = frozenset({CAR_TELEMETRY, CAR_STATUS, SESSION, RESET, EVENTS})
FLAG_COLOURS = {
    "yellow": (255, 255, 0),
    "blue": (0, 0, 255),
    "red": (255, 0, 0),
    "safety_car": (255, 160, 0),
    "virtual_safety_car": (255, 160, 0),
}
WHERE = "leds.realtime"
FRAME = "frame"  # the field reader's key of the (frame, flag) last sent
CACHE_MAX = 256  # distinct (frame, flag) datagram sets kept per device; cleared when full
TICK_S = 0.1  # how often the keep-alive task looks at the clock
BUFFER_FULL = "buffer_full"


def device_name(device: RealtimeDevice) -> str:
    """The device's label in metrics and log lines: `host:port`, with `@start` for a segment further on."""
    host, port = device.target
    name = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{name}@{device.start}" if device.start else name


@dataclass
class LedStats:
    """What the metrics show: frames sent and send failures per device, and the datagram-in to LED-out latency."""

    frames: Counter[str] = field(default_factory=Counter)  # frames (and keep-alives) handed to the socket
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (device, reason)
    latency: Histogram = field(default_factory=Histogram)


class _Device:
    """One segment: its socket, its pixel mapping and protocol, and the datagrams of the frames seen so far."""

    def __init__(self, settings: RealtimeDevice, frame_leds: int, frame_brightness: int) -> None:
        self.settings = settings
        self.name = device_name(settings)
        leds = settings.leds or frame_leds
        order = [i * frame_leds // leds for i in range(leds)]
        self.order = order[::-1] if settings.reversed else order
        self.scale = settings.brightness / 255
        self.frame_brightness = frame_brightness  # lights.brightness, in the frame already but not in flags
        self.sock: socket.socket | None = None
        self.sequence = 0
        self.cache: dict[tuple[str, str], list[bytes]] = {}

    def open(self, address: tuple[Any, ...], family: int) -> None:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def pixels(self, frame: str, flag: str) -> bytes:
        colour = FLAG_COLOURS.get(flag) if self.settings.flags else None
        if colour is not None:
            scale = self.frame_brightness / 255 * self.scale
            return bytes(round(c * scale) for c in colour) * len(self.order)
        rgb = bytes.fromhex(frame)
        if self.scale != 1.0:
            rgb = bytes(round(c * self.scale) for c in rgb)
        return b"".join(rgb[3 * i : 3 * i + 3] for i in self.order)

    def datagrams(self, frame: str, flag: str) -> list[bytes]:
        """The datagrams of this frame; DDP's are built per send, for the sequence number."""
        key = (frame, flag)
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) >= CACHE_MAX:
                self.cache.clear()
            s = self.settings
            pixels = self.pixels(frame, flag)
            if s.protocol == "ddp":
                hit = [pixels]
            elif s.protocol == "dnrgb":
                hit = dnrgb(pixels, s.start, s.timeout_s)
            elif s.protocol == "drgb":
                hit = drgb(pixels, s.timeout_s)
            else:
                hit = warls(pixels, s.start, s.timeout_s)
            self.cache[key] = hit
        if self.settings.protocol == "ddp":
            self.sequence = self.sequence % 15 + 1
            return ddp_frame(hit[0], self.settings.start, self.sequence)
        return hit


class LedRealtime:
    """The LED frame to realtime UDP devices: change-only, kept alive, dark when the game or the bridge stops."""

    name = "led_realtime"

    @classmethod
    def from_deps(cls, deps: Deps) -> LedRealtime | None:
        """On when `lights.realtime` lists devices; fed on the datagram path (origin: the datagram's time)."""
        if not deps.settings.lights.realtime:
            return None
        return cls.from_settings(deps.settings, deps.lights, deps.datagram_time, deps.faults)

    def __init__(
        self,
        devices: tuple[RealtimeDevice, ...],
        lights: Any,
        *,
        frame_leds: int,
        brightness: int = 255,
        silence_s: float,
        origin_ns: Callable[[], int],
        own_udp: tuple[str, int] | None = None,
        faults: Faults | None = None,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        retry_s: float = RETRY_S,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self.stats = LedStats()
        self._lights = lights
        self._silence_ns = int(silence_s * 1e9)
        self._origin_ns = origin_ns
        self._clock_ns = clock_ns
        self._flags = any(d.flags for d in devices)
        self._devices = [_Device(d, frame_leds, brightness) for d in devices]
        self._dark = "00" * frame_leds * 3
        self._frame: tuple[str, str] | None = None  # (frame, flag) the devices show; None: nothing yet, or dark
        self._reader = FieldReader(None, Context(None, None, lights))  # change detection of the frame
        self._last_packet_ns = 0
        self._last_sent_ns = 0
        self._task: asyncio.Task[None] | None = None
        self._own_udp = own_udp
        self._retry_s = retry_s
        self._unresolved: list[_Device] = []  # tried again every `retry_s` by the keep-alive task
        self._resolve(own_udp)
        self._keepalive_ns = int(min((d.timeout_s for d in devices), default=1) / 3 * 1e9)

    @classmethod
    def from_settings(cls, settings: Settings, lights: Any, origin_ns: Callable[[], int], faults: Faults
                      ) -> LedRealtime:
        """The devices of `lights.realtime`, silent after `udp.receive_timeout_s`, never on the bridge's own port."""
        return cls(
            settings.lights.realtime,
            lights,
            frame_leds=settings.lights.leds,
            brightness=settings.lights.brightness,
            silence_s=settings.udp.receive_timeout_s,
            origin_ns=origin_ns,
            own_udp=(settings.udp.bind, settings.udp.port),
            faults=faults,
        )

    # ------------------------------------------------------------------------------------------ start

    def _resolve(self, own_udp: tuple[str, int] | None) -> None:
        """Host names resolved once, here, not per frame. A device on the bridge's own port is left out; one whose
        name does not resolve (an mDNS name before the network is up) is tried again every `retry_s`."""
        devices, self._devices = self._devices, []
        for device in devices:
            self._place(device, self._connect(device, own_udp))

    def _connect(self, device: _Device, own_udp: tuple[str, int] | None) -> tuple[str, str] | None:
        """Resolve and connect one device; (reason, message) when it cannot be driven. Blocking (the resolver may
        ask DNS) and free of `Faults`, so a worker thread may run it."""
        loops = self_loop_problems([device.settings.target], *own_udp) if own_udp else {}
        if loops:
            return "self_loop", f"LED device {device.name} left out: {realtime_loop_message(loops[0])}"
        try:
            family, address = resolve_target(*device.settings.target)
            device.open(address, family)
        except OSError as exc:
            return "unresolved", f"LED device {device.name} not driven: {exc}; trying again every {self._retry_s:g} s"
        return None

    def _place(self, device: _Device, problem: tuple[str, str] | None) -> None:
        if problem is None:
            self._devices.append(device)
            return
        reason, message = problem
        self.faults.warn(WHERE, reason, message)
        if reason == "unresolved":
            self._unresolved.append(device)

    async def _retry_unresolved(self) -> None:
        """The devices whose names did not resolve, tried again in a worker thread (the loop never waits on DNS)."""
        loop = asyncio.get_running_loop()
        waiting, self._unresolved = self._unresolved, []
        for device in waiting:
            self._place(device, await loop.run_in_executor(None, self._connect, device, self._own_udp))

    @property
    def devices(self) -> list[str]:
        """The devices being driven, by name."""
        return [d.name for d in self._devices]

    # ------------------------------------------------------------------------------------------ the datagram path

    def on_change(self, changed: Changes) -> None:
        self._last_packet_ns = self._origin_ns()
        if FRAME_GROUPS.isdisjoint(changed.groups):
            return
        lights = self._lights
        frame = lights.leds or self._dark
        flag = lights.flag if self._flags and not lights.pit_limiter else "none"
        current = (frame, flag)
        if not self._reader.changed(FRAME, current):
            return
        self._frame = current
        self._send(current)
        self.stats.latency.observe((self._clock_ns() - self._last_packet_ns) / 1e9)
        if self._task is None:
            self._start_task()

    def _send(self, current: tuple[str, str]) -> None:
        frame, flag = current
        self._last_sent_ns = self._clock_ns()
        stats = self.stats
        for device in self._devices:
            sock = device.sock
            if sock is None:
                continue
            for datagram in device.datagrams(frame, flag):
                try:
                    sock.send(datagram)
                except BlockingIOError:
                    self._failed(device, BUFFER_FULL, "the socket's send buffer is full: frame dropped")
                    break
                except OSError as exc:
                    reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__).lower()
                    self._failed(device, reason, f"send failed: {exc.strerror or exc}")
                    break
            else:
                stats.frames[device.name] += 1

    def _failed(self, device: _Device, reason: str, message: str) -> None:
        self.stats.errors[(device.name, reason)] += 1
        self.faults.warn(WHERE, reason, f"LED device {device.name}: {message}")

    # ------------------------------------------------------------------------------------------ keep-alive, stop

    def tick(self) -> None:
        """Dark once the game is silent; else the current frame again when a device's timeout comes near."""
        if self._frame is None:
            return
        now = self._clock_ns()
        if now - self._last_packet_ns >= self._silence_ns:
            self.all_off()
        elif now - self._last_sent_ns >= self._keepalive_ns:
            self._send(self._frame)

    def all_off(self) -> None:
        """Every device dark, once; nothing more is sent until the next frame."""
        if self._frame is not None:
            self._send((self._dark, "none"))
            self._frame = None
            self._reader.discard(FRAME)

    async def _keep_alive(self) -> None:
        """Keep-alives, the all-off after silence, and names that did not resolve; restarted if it fails."""
        loop = asyncio.get_running_loop()
        retry_at = loop.time() + self._retry_s
        while True:
            await asyncio.sleep(TICK_S)
            self.tick()
            if self._unresolved and loop.time() >= retry_at:
                retry_at = loop.time() + self._retry_s
                await self._retry_unresolved()

    async def start(self) -> None:
        """The keep-alive task (supervised); without `start` (direct use) the first frame starts it."""
        self._start_task()

    async def close(self) -> None:
        """The keep-alive task stopped, every device dark, the sockets closed."""
        await cancel(self._task)
        self.shutdown()

    def _start_task(self) -> None:
        if self._task is None:
            keep_alive = supervise(WHERE, self._keep_alive, self.faults)
            self._task = asyncio.get_running_loop().create_task(keep_alive, name="rigbridge-leds")
            # A done callback, not a `finally`: it runs even when the task is cancelled before it ever started.
            self._task.add_done_callback(lambda _: self.shutdown())

    def shutdown(self) -> None:
        """All off, then the sockets closed: the bridge is stopping."""
        self.all_off()
        for device in self._devices:
            if device.sock is not None:
                device.sock.close()
                device.sock = None
