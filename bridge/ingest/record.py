"""`rigbridge record`: UDP to a capture file (`rigbridge replay`, which sends one back with the original timing,
is `replay.py`; its entry point is importable from here too).

The same `UdpReceiver` the daemon uses (no allow-list, no forwarding) appends every datagram with its
receive timestamp to a capture; a status line shows packets, bytes, rate and duration. SIGINT/SIGTERM or
`--duration` stop it; the file is flushed four times a second, so a crash loses at most a fraction of a second.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from bridge.ingest.capture import CaptureError, CaptureWriter
from bridge.ingest.forward import format_hostport
from bridge.ingest.replay import DEFAULT_REPLAY_TARGET, LATE_NS, SPIN_NS, parse_target, replay_main
from bridge.ingest.stats import IngestStats
from bridge.ingest.terminal import STATUS_INTERVAL_S, clock, human_bytes, reason
from bridge.ingest.udp import PortInUseError, UdpReceiver
from bridge.limits import duration_problem
from bridge.settings import UdpSettings

__all__ = [
    "DEFAULT_REPLAY_TARGET",
    "LATE_NS",
    "SPIN_NS",
    "STATUS_INTERVAL_S",
    "parse_target",
    "record_main",
    "replay_main",
]


def record_main(
    path: str,
    *,
    port: int = 20777,
    bind: str = "0.0.0.0",
    duration: float | None = None,
    err: TextIO | None = None,
) -> int:
    """Record UDP datagrams to a capture until SIGINT/SIGTERM or `duration` seconds; returns the exit code."""
    err = sys.stderr if err is None else err
    problem = _option_problem(port, bind, duration)
    if problem:
        print(f"rigbridge record: {problem}", file=err)
        return 2
    udp = UdpSettings(bind=bind, port=port, allow_from=(), forward=())
    try:
        return asyncio.run(_Recorder(Path(path), udp, duration, err).run())
    except KeyboardInterrupt:  # Ctrl-C before the recorder's own handler was in place: nothing recorded yet
        print("rigbridge record: interrupted", file=err)
        return 130


def _option_problem(port: int, bind: str, duration: float | None) -> str | None:
    """What is wrong with the command's options, in words naming the option; None when nothing is."""
    if not 0 <= port <= 65535:
        return f"--port must be from 0 to 65535 (got {port})"
    if duration is not None and (problem := duration_problem(duration)):
        return f"--duration {problem}"
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        return f"--bind must be an IP address, e.g. 0.0.0.0, 127.0.0.1 or :: (got {bind})"
    return None


class _Recorder:
    def __init__(self, path: Path, udp: UdpSettings, duration: float | None, err: TextIO) -> None:
        self.path = path
        self.udp = udp
        self.duration = duration
        self.err = err
        self.failure: OSError | None = None
        self.stop = asyncio.Event()
        self.writer: CaptureWriter | None = None
        self._origin = 0
        self._rate_window: collections.deque[tuple[float, int]] = collections.deque()

    def _say(self, text: str) -> None:
        print(f"rigbridge record: {text}", file=self.err, flush=True)

    async def run(self) -> int:
        appending = self.path.is_file() and self.path.stat().st_size > 0
        stats = IngestStats()
        receiver = UdpReceiver(self.udp, self._on_datagram, stats)
        try:
            await receiver.start()
        except PortInUseError as exc:
            self._say(str(exc))
            return 1
        except OSError as exc:
            self._say(f"cannot listen on UDP {format_hostport(self.udp.bind, self.udp.port)}: {reason(exc)}")
            return 1
        # No await between binding and opening the file: no datagram can arrive before the writer exists.
        try:
            writer = self.writer = CaptureWriter(self.path)
        except CaptureError as exc:
            receiver.close()
            self._say(f"{exc}; refusing to append to it (choose another file name)")
            return 2
        except OSError as exc:
            receiver.close()
            self._say(f"{self.path}: cannot open for writing: {reason(exc)}")
            return 1
        self._origin = writer.origin_ns

        loop = asyncio.get_running_loop()
        installed = self._install_signals(loop)
        host, bound_port = receiver.address
        verb = "appending to" if appending else "writing"
        self._say(f"recording UDP on {format_hostport(host, bound_port)}, {verb} {self.path} (Ctrl-C to stop)")
        started = time.monotonic()
        deadline = None if self.duration is None else started + self.duration
        try:
            while not self.stop.is_set():
                timeout = STATUS_INTERVAL_S
                if deadline is not None:
                    timeout = min(timeout, deadline - time.monotonic())
                if timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), timeout)
                try:
                    writer.flush()
                except OSError as exc:
                    self.failure = self.failure or exc
                    break
                self._status(time.monotonic() - started, receiver)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            drops = receiver.kernel_drops()
            receiver.close()
            for sig in installed:
                loop.remove_signal_handler(sig)
        elapsed = time.monotonic() - started
        print(file=self.err)  # end the status line
        if not self._close_writer():
            return 1
        summary = (
            f"recorded {writer.records} packets ({human_bytes(writer.bytes)}) in {elapsed:.1f} s, "
            f"{writer.records / elapsed if elapsed > 0 else 0:.0f} packets/s, to {self.path}"
        )
        if drops:
            summary += f"; {drops} datagrams dropped by the kernel (receive buffer full)"
        self._say(summary)
        return 0

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        installed: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
                continue
            installed.append(sig)
        return installed

    def _status(self, elapsed: float, receiver: UdpReceiver) -> None:
        writer = self.writer
        assert writer is not None
        now = time.monotonic()
        window = self._rate_window
        window.append((now, writer.records))
        while len(window) > 1 and now - window[0][0] > 1.0:
            window.popleft()
        t0, n0 = window[0]
        rate = (writer.records - n0) / (now - t0) if now > t0 else 0.0
        drops = receiver.kernel_drops()
        extra = f"  {drops} dropped by kernel" if drops else ""
        line = (
            f"\r{writer.records} packets  {human_bytes(writer.bytes)}  {rate:.0f} packets/s  "
            f"{clock(elapsed)}{extra}"
        )
        self.err.write(f"{line:<72}")
        self.err.flush()

    def _on_datagram(self, data: bytes, addr: tuple[Any, ...], t_ns: int) -> None:
        writer = self.writer
        if writer is None or self.failure is not None:
            return
        try:
            writer.write(data, max(t_ns - self._origin, 0))
        except OSError as exc:  # ENOSPC, EIO, ...: stop and report, never a traceback
            self.failure = exc
            self.stop.set()

    def _close_writer(self) -> bool:
        """Close (and so flush) the capture; False, after saying why, if writing failed now or earlier."""
        writer = self.writer
        if writer is not None:
            try:
                writer.close()
            except OSError as exc:
                self.failure = self.failure or exc
        if self.failure is not None:
            self._say(f"{self.path}: cannot write: {reason(self.failure)}; the capture is incomplete")
            return False
        return True
