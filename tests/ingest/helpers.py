"""Shared pieces of the ingest tests: settings, loopback sockets, paced senders, synthetic datagrams."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence

from bridge.config import UdpSettings
from bridge.games.f1.codec import build, encode

LOCAL = "127.0.0.1"

# Linux's SO_TIMESTAMPNS (35 on every architecture CPython's CI runs on); Python does not export it.
_SO_TIMESTAMPNS = 35


def udp_settings(**changes: object) -> UdpSettings:
    """Settings for a receiver on 127.0.0.1 with a free port; `allow_from` accepts strings."""
    allow = changes.pop("allow_from", ())
    networks = tuple(ipaddress.ip_network(n) for n in allow)  # type: ignore[union-attr]
    base = UdpSettings(bind=LOCAL, port=0)
    return dataclasses.replace(base, allow_from=networks, **changes)  # type: ignore[arg-type]


def frame_datagrams(frame: int) -> list[bytes]:
    """The five small datagrams of one synthetic 60 Hz frame, distinct per frame."""
    t = frame / 60
    return [
        encode(build(2025, pid, frame=frame, session_time=t, session_uid=0xC0FFEE)) for pid in (13, 14, 12, 3, 1)
    ]


def pace_until(due_ns: int) -> None:
    """Sleep for the bulk, busy-wait the last millisecond: lands within microseconds of `due_ns`."""
    remaining = due_ns - time.perf_counter_ns()
    if remaining > 1_000_000:
        time.sleep((remaining - 1_000_000) / 1e9)
    while time.perf_counter_ns() < due_ns:
        pass


def send_paced(address: tuple[str, int], seconds: float, hz: float = 60.0) -> list[bytes]:
    """Send `seconds` of synthetic traffic (a burst of 5 per frame at `hz`); returns what was sent, in order."""
    sent: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.perf_counter_ns()
        for frame in range(int(seconds * hz)):
            pace_until(start + int(frame * 1e9 / hz))
            for data in frame_datagrams(frame):
                sock.sendto(data, address)
                sent.append(data)
    return sent


class Collector:
    """A plain UDP socket on 127.0.0.1 that a thread reads into `items` as (data, arrival ns).

    Arrival times are the kernel's receive timestamps (SO_TIMESTAMPNS) where available, so scheduling of this
    thread does not blur them; otherwise `perf_counter_ns()` right after `recv`.
    """

    def __init__(self, rcvbuf: int = 4 << 20) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((LOCAL, 0))
        self.sock.settimeout(0.05)
        self.kernel_timestamps = False
        if sys.platform.startswith("linux"):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self.kernel_timestamps = True
            except OSError:
                pass
        self.items: list[tuple[bytes, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    @property
    def target(self) -> str:
        return f"{LOCAL}:{self.address[1]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            except OSError:
                return
            stamp = time.perf_counter_ns()
            for level, kind, raw in anc:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = struct.unpack_from("qq", raw)
                    stamp = sec * 1_000_000_000 + nsec
            self.items.append((data, stamp))

    def wait_for(self, count: int, timeout: float) -> list[tuple[bytes, int]]:
        deadline = time.monotonic() + timeout
        while len(self.items) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.items)

    def data(self) -> list[bytes]:
        return [d for d, _ in self.items]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Let the event loop run until `condition()` holds or `timeout` passes; returns the final verdict."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def send_all(address: tuple[str, int], payloads: Sequence[bytes], sock: socket.socket | None = None) -> None:
    own = sock is None
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for data in payloads:
            s.sendto(data, address)
    finally:
        if own:
            s.close()
