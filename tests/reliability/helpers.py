"""What the fault matrix is built from: the real `rigbridge run` seen from outside, a paced UDP feeder, a reference
state computed from the same datagrams, and a TCP proxy that can make the broker slow or stall it.

Every case runs the bridge as its own process (`RigbridgeProcess`) against a real mosquitto and judges it only by
what a subscriber sees, by its log, and by its resident memory (`VmRSS` in `/proc/<pid>/status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bridge.config import default_settings
from bridge.games.f1.codec import decode
from bridge.games.f1.writer import process_packet
from bridge.publish.catalog import CATALOG, Field
from bridge.publish.fieldread import Context
from bridge.publish.leds import Lights
from bridge.state.session import SessionState
from bridge.state.view import readonly
from bridge.status import BridgeStatus
from tests.broker import free_port
from tests.harness import Received, RigbridgeProcess, retained_snapshot
from tests.publish.test_mqtt_broker import run_config, wait_status
from tools.catalogue import catalogue_payloads
from tools.processes import rss_mb

ROOT = "rigbridge/proc"  # run_config() names the rig `proc`
Frames = list[tuple[float, list[bytes]]]

# Resident memory may grow by at most this much across a fault, measured from a warm bridge (it has seen the
# session, published every topic once, and sits at ~36 MB at 60 Hz with 20 cars on this machine). By design the
# bridge holds at most one pending message per topic (~700 topics here, well under 1 MB with their payloads), at
# most 512 publishes in flight and a 256-event queue, so what a fault may legitimately add is a few MB of those
# plus allocator slack and a new client object per reconnect. What the bound exists to catch is a queue that grows
# with the input or with time: the game sends ~380 kB/s, and the bridge produces ~250 messages/s (~1 kB each
# as paho packets and Python objects), so keeping either for the 10-20 s a case lasts at full rate (the garbage
# case adds 1000 datagrams/s) would take 5-20 MB more, and keeping them at the rate the flood adds would pass
# the bound within its 5 s. 20 MB also leaves room for the allocator keeping freed arenas on a loaded machine.
RSS_BOUND_MB = 20.0


# ------------------------------------------------------------------------------------------------- the bridge


def bridge_config(
    directory: Path,
    broker_port: int,
    udp_port: int,
    *,
    keepalive: int = 5,
    udp: str = "",
    mqtt: str = "",
    extra: str = "",
) -> Path:
    """`run_config()` (rig `proc`, reconnect 0.2-1 s, metrics off) with quick rate classes and extra keys.

    `udp` and `mqtt` are flow-style entries added to those sections, e.g. `udp="receive_timeout_s: 1"`. Rates:
    fast 10, normal 5, slow 1 Hz, so `bridge/dropped` (slow) moves every second.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config = run_config(directory, broker_port, udp_port, "publish: {rates: {fast: 10, normal: 5, slow: 1}}\n" + extra)
    text = config.read_text().replace("keepalive: 5", f"keepalive: {keepalive}")
    if udp:
        text = text.replace("udp: {", f"udp: {{{udp}, ", 1)
    if mqtt:
        text = text.replace("mqtt: {", f"mqtt: {{{mqtt}, ", 1)
    config.write_text(text)
    return config


def start_bridge(config: Path, broker_port: int | None, timeout: float = 20.0) -> RigbridgeProcess:
    """`rigbridge run -c config`; with a broker port, returns once a subscriber sees `status` online."""
    proc = RigbridgeProcess(config)
    if broker_port is not None:
        try:
            wait_status(broker_port, "online", timeout)
        except TimeoutError:
            proc.close()
            raise AssertionError(f"the bridge never came online:\n{proc.output()}") from None
    return proc


class RssWatch:
    """Samples a process's RSS every `interval` s on a thread, so the peak during a fault is seen, not only the end."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (time.time(), MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):  # the process may be gone
                self.samples.append((time.time(), rss_mb(self.pid)))
            self._stop.wait(self.interval)

    def start(self) -> RssWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def baseline(self) -> float:
        """RSS now (taken by the caller when the bridge is warm)."""
        return rss_mb(self.pid)

    def peak(self, since: float = 0.0) -> float:
        values = [mb for t, mb in self.samples if t >= since]
        return max(values) if values else rss_mb(self.pid)


def log_times(text: str, needle: str) -> list[float]:
    """Wall-clock times (time.time() scale) of the bridge's log lines containing `needle`."""
    out = []
    for line in text.splitlines():
        if needle in line:
            try:
                stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            except ValueError:
                continue
            out.append(stamp.timestamp())
    return out


# ------------------------------------------------------------------------------------------------- input


def window(frames: Frames, start: float, end: float) -> Frames:
    """The frames sent in [start, end) seconds of the session."""
    return [(t, ds) for t, ds in frames if start <= t < end]


class Feeder:
    """Sends frames to the bridge from a thread, paced by their timestamps / `speed`; keeps what it sent.

    `stop()` ends it early; `join()` waits for the last frame. The datagrams sent, in order, are in `sent`.
    """

    def __init__(self, port: int, frames: Frames, speed: float = 1.0) -> None:
        self.port = port
        self.frames = frames
        self.speed = speed
        self.sent: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def _run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        target = ("127.0.0.1", self.port)
        start = time.monotonic()
        first = self.frames[0][0] if self.frames else 0.0
        try:
            for t, datagrams in self.frames:
                delay = start + (t - first) / self.speed - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                if self._stop.is_set():
                    return
                for data in datagrams:
                    sock.sendto(data, target)
                    self.sent.append(data)
        finally:
            sock.close()

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> Feeder:
        if timeout is None:
            span = (self.frames[-1][0] - self.frames[0][0]) / self.speed if self.frames else 0.0
            timeout = span * 2 + 10  # a loaded machine may pace it late, never this late
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the feeder did not finish"
        return self

    def stop(self) -> Feeder:
        self._stop.set()
        return self.join(10)


def feed(port: int, frames: Frames, speed: float = 1.0) -> list[bytes]:
    """Send frames now, paced; returns the datagrams sent."""
    return Feeder(port, frames, speed).start().join().sent


# ------------------------------------------------------------------------------------------------- expectations

_FIELDS = {f.path: f for f in CATALOG}


def field_of(topic: str) -> Field | None:
    """The catalogue field behind a topic under ROOT (None for the bridge's own topics outside it)."""
    rel = topic[len(ROOT) + 1 :]
    parts = rel.split("/")
    if parts[0] == "cars" and len(parts) > 2:
        rel = "/".join(["cars", "{car}", *parts[2:]])
    return _FIELDS.get(rel)


def reference(datagrams: Iterable[bytes]) -> dict[str, str]:
    """What every game-derived topic should carry after these datagrams: the same decoder and writer, in this
    process, read through the catalogue. Bridge health (`bridge/*`, `game/*`) and the LED frame (it flashes on a
    clock) are left out: they depend on when, not on what, the bridge received."""
    state = SessionState()
    view = readonly(state)
    context = Context(view, BridgeStatus(), Lights(view, default_settings().lights))
    for data in datagrams:
        packet = decode(data)
        if packet:
            process_packet(state, packet)
    return catalogue_payloads(
        view, context, ROOT, lambda f: f.scope not in ("game", "bridge") and f.path != "lights/leds"
    )


def agrees(topic: str, got: str | None, want: str) -> bool:
    """`got` is what the reference says, or within the field's deadband of it (a smaller move is not sent)."""
    if got == want:
        return True
    f = field_of(topic)
    if got is None or f is None or not f.deadband:
        return False
    rounding = 0.5 * 10**-f.precision if f.kind == "float" else 0  # both sides were rounded for display
    try:
        return abs(float(got) - float(want)) <= f.deadband + 2 * rounding + 1e-9
    except ValueError:
        return False


def disagreements(got: dict[str, Received], want: dict[str, str], *, retained_only: bool = False) -> dict[str, Any]:
    """Topics of the reference whose latest payload at the subscriber is missing or differs from it."""
    out = {}
    for topic, payload in want.items():
        f = field_of(topic)
        if retained_only and (f is None or not f.retain):
            continue
        message = got.get(topic)
        have = message.payload if message is not None else None
        if not agrees(topic, have, payload):
            out[topic] = (have, payload)
    return out


def retained(port: int, settle: float = 1.0) -> dict[str, Received]:
    """The retained messages under ROOT a new subscriber gets."""
    return retained_snapshot(port, f"{ROOT}/#", settle=settle)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Seconds until `predicate()` holds; AssertionError after `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(interval)


def payloads_between(
    messages: Sequence[Received], topic: str, start: float = 0.0, end: float = float("inf")
) -> list[str]:
    """Payloads of `topic` received in [start, end] (ProcessSubscriber stamps: time.time() scale)."""
    return [m.payload for m in messages if m.topic == topic and start <= m.t <= end]


def republished_unchanged(messages: Sequence[Received], skip: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(topic, payload) sent twice in a row with the same payload: the change-only rule broken."""
    previous: dict[str, str] = {}
    out = []
    for m in messages:
        if skip(m.topic):
            continue
        if previous.get(m.topic) == m.payload:
            out.append((m.topic, m.payload))
        previous[m.topic] = m.payload
    return out


# ------------------------------------------------------------------------------------------------- slow broker


class SlowProxy:
    """A TCP proxy (127.0.0.1:`port` -> 127.0.0.1:`target_port`) that delays every chunk and can stall completely.

    Each direction reads as data comes and writes each chunk `delay` s after it was read, in order. `stall()` stops
    reading and writing in both directions (new connections wait too), as a broker that stopped answering would:
    once the proxy's small receive window is full, what the bridge sends piles up in its own socket's send
    buffer. `resume()` lets data flow again; `resume(drop=True)` first aborts every connection it holds, as a NAT
    or a restarted proxy would. Runs its own event loop on a thread.
    """

    def __init__(self, target_port: int, delay: float = 0.0) -> None:
        self.target_port = target_port
        self.delay = delay
        self.port = free_port()
        self.connections = 0  # accepted so far
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="slow-proxy", daemon=True)
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._transports: set[asyncio.BaseTransport] = set()

    def _call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            result = fn()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def start(self) -> SlowProxy:
        self._thread.start()

        async def serve() -> None:
            self._flowing = asyncio.Event()
            self._flowing.set()
            # A small receive window toward the bridge: a stall pushes back on it after a few kB, not a few MB.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            sock.bind(("127.0.0.1", self.port))
            sock.listen(16)
            sock.setblocking(False)
            self._server = await asyncio.start_server(self._handle, sock=sock, limit=16384)

        self._call(serve)
        return self

    def stall(self) -> None:
        self._call(lambda: self._flowing.clear())  # type: ignore[union-attr]

    def resume(self, drop: bool = False) -> None:
        def go() -> None:
            if drop:
                for transport in list(self._transports):
                    transport.abort()  # type: ignore[attr-defined]
                self._transports.clear()
            self._flowing.set()  # type: ignore[union-attr]

        self._call(go)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for transport in list(self._transports):
                transport.abort()  # type: ignore[attr-defined]
            self._flowing.set()  # type: ignore[union-attr]  # waiting connections see they were dropped
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=2.0)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._call(close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # stop() may cancel it; asyncio would log that
            await self._relay(client_reader, client_writer)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        assert self._flowing is not None
        self._transports.add(client_writer.transport)
        try:
            await self._flowing.wait()  # a stalled broker does not answer a new connection either
            if client_writer.transport.is_closing():
                return  # dropped by resume(drop=True): what it had sent must not reach the broker late
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                return
            self._transports.add(upstream_writer.transport)
            pumps = [
                asyncio.ensure_future(self._pump(client_reader, upstream_writer)),
                asyncio.ensure_future(self._pump(upstream_reader, client_writer)),
            ]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
                upstream_writer.transport.abort()
                self._transports.discard(upstream_writer.transport)
        finally:
            client_writer.transport.abort()
            self._transports.discard(client_writer.transport)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One direction: a reader stamping chunks, a writer sending each one `delay` s after it was read."""
        assert self._flowing is not None
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while True:
                await self._flowing.wait()  # type: ignore[union-attr]
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                await chunks.put((loop.time() + self.delay, data))
                if not data:
                    return

        reading = asyncio.ensure_future(read())
        try:
            while True:
                due, data = await chunks.get()
                if not data:
                    return
                pause = due - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                await self._flowing.wait()
                writer.write(data)
                try:
                    await writer.drain()
                except OSError:
                    return
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
