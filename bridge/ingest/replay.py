"""`rigbridge replay`: a capture file back to UDP, with the original timing.

Each record is sent at `start + (t_ns - t_first) / speed` on `time.perf_counter_ns`. It sleeps for the bulk
of a gap and busy-waits the last `SPIN_NS`, because `time.sleep` can wake up late by a fraction of a millisecond
(timer slack, scheduler); busy-waiting the tail keeps every datagram within well under a millisecond of its
schedule. The schedule is absolute, so a late datagram (a pause, a page fault) does not shift the ones after it.
A record stamp that steps back or jumps over MAX_GAP_NS (a damaged stamp: the CRC covers only the data) is sent
without that pause, with a warning.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from bridge.ingest.capture import CaptureError, CaptureReader, CaptureRecord, is_capture
from bridge.ingest.forward import format_hostport, resolve_target
from bridge.ingest.terminal import STATUS_INTERVAL_S, human_bytes, reason
from bridge.limits import speed_problem
from bridge.net import parse_hostport

__all__ = ["DEFAULT_REPLAY_TARGET", "LATE_NS", "SPIN_NS", "parse_target", "replay_main"]

DEFAULT_REPLAY_TARGET = "127.0.0.1:20777"
SPIN_NS = 1_000_000  # busy-wait this long before each due time instead of sleeping
LATE_NS = 1_000_000  # a datagram sent later than this after its due time counts as late (and is reported)
MAX_GAP_NS = 3600 * 10**9  # a longer pause between two records is a damaged timestamp, not a real silence
_BAR_WIDTH = 24


def parse_target(text: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port), validated like `udp.forward` entries; raises ValueError."""
    return parse_hostport(text)


class _Timeline:
    """Recorded time since the first record, with damaged timestamps defused.

    Record stamps are not covered by the CRC. A stamp that steps back, or jumps more than MAX_GAP_NS ahead
    (2^64-1 ns is 584 years), is played with no pause and counted, so it can neither stall the replay nor
    overflow a sleep; the timing of the records after it is kept.
    """

    def __init__(self) -> None:
        self.offset_ns = 0
        self.jumps = 0
        self.first_jump = 0  # index of the first record with a damaged stamp
        self._previous: int | None = None
        self._index = 0

    def advance(self, t_ns: int) -> int:
        if self._previous is not None:
            step = t_ns - self._previous
            if 0 <= step <= MAX_GAP_NS:
                self.offset_ns += step
            else:
                self.jumps += 1
                self.first_jump = self.first_jump or self._index
        self._previous = t_ns
        self._index += 1
        return self.offset_ns


@dataclasses.dataclass
class _Scan:
    records: int = 0
    span_ns: int = 0  # on the defused timeline
    jumps: int = 0
    first_jump: int = 0


def _scan(path: Path) -> _Scan:
    scan = _Scan()
    timeline = _Timeline()
    for record in CaptureReader(path):
        scan.span_ns = timeline.advance(record.t_ns)
        scan.records += 1
    scan.jumps, scan.first_jump = timeline.jumps, timeline.first_jump
    return scan


class _Progress:
    def __init__(self, err: TextIO, total: int, span_s: float | None) -> None:
        self.err = err
        self.total = total
        self.span_s = span_s
        self.next_at = 0

    def draw(self, now_ns: int, pass_start_ns: int, sent_in_pass: int, sent_total: int, passes: int) -> None:
        self.next_at = now_ns + int(STATUS_INTERVAL_S * 1e9)
        fraction = min(sent_in_pass / self.total, 1.0) if self.total else 1.0
        filled = round(fraction * _BAR_WIDTH)
        elapsed = (now_ns - pass_start_ns) / 1e9
        timing = f"{elapsed:.1f}/{self.span_s:.1f} s" if self.span_s is not None else f"{elapsed:.1f} s"
        loops = f"  pass {passes}, {sent_total} sent in all" if passes > 1 else ""
        line = (
            f"\r[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {fraction * 100:5.1f}%  "
            f"{sent_in_pass}/{self.total} packets  {timing}{loops}"
        )
        self.err.write(f"{line:<80}")
        self.err.flush()


def replay_main(
    path: str,
    *,
    to: str = DEFAULT_REPLAY_TARGET,
    speed: float = 1.0,
    max_speed: bool = False,
    loop: bool = False,
    err: TextIO | None = None,
) -> int:
    """Send a capture's datagrams to `to` with the recorded timing (scaled by 1/speed); returns the exit code."""
    err = sys.stderr if err is None else err
    try:
        return _replay(path, to, speed, max_speed, loop, err)
    except KeyboardInterrupt:  # Ctrl-C while still reading the capture, before anything was sent
        print("\nrigbridge replay: interrupted", file=err)
        return 130


def _replay(path: str, to: str, speed: float, max_speed: bool, loop: bool, err: TextIO) -> int:
    def fail(message: str, code: int = 2) -> int:
        print(f"rigbridge replay: {message}", file=err, flush=True)
        return code

    if not max_speed and (problem := speed_problem(speed)):
        return fail(f"--speed {problem}")
    try:
        host, port = parse_target(to)
    except ValueError as exc:
        return fail(f"--to {to!r}: {exc}")
    try:
        family, address = resolve_target(host, port)
    except OSError as exc:
        return fail(f"--to {to}: cannot resolve {host}: {reason(exc)}")
    capture = Path(path)
    try:
        if not is_capture(capture):
            return fail(
                f"{path}: not a rigbridge capture file (replay needs a file made by `rigbridge record`; "
                "`rigbridge decode` also reads raw .bin datagrams)"
            )
        scan = _scan(capture)
    except CaptureError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{path}: cannot read: {reason(exc)}")

    span_ns = scan.span_ns
    if max_speed:
        span_s = None
        pass_gap_ns = 0
    else:
        span_s = span_ns / speed / 1e9
        # Between passes of --loop: one mean inter-arrival gap, so the seam looks like any other frame.
        mean_gap = span_ns / (scan.records - 1) if scan.records > 1 else 1e9
        pass_gap_ns = int(mean_gap / speed)
    progress = _Progress(err, scan.records, span_s)
    sender = _Sender(capture, address, speed, max_speed, progress)
    target = format_hostport(host, port)
    print(
        f"rigbridge replay: {scan.records} packets over {span_ns / 1e9:.1f} s to {target}"
        + (" as fast as possible" if max_speed else f" at speed {speed:g}")
        + (", looping (Ctrl-C to stop)" if loop else ""),
        file=err,
        flush=True,
    )
    if scan.jumps and not max_speed:
        print(
            f"rigbridge replay: warning: {scan.jumps} records (the first is record {scan.first_jump}) are stamped "
            f"earlier than the one before or more than {MAX_GAP_NS // 10**9} s after it (damaged timestamps); "
            "they are sent without that pause",
            file=err,
            flush=True,
        )
    interrupted = False
    started = time.perf_counter_ns()
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sender.sock = sock
            pass_start = started
            while True:
                pass_end = sender.play_pass(pass_start)
                if not loop or scan.records == 0:
                    break
                pass_start = pass_end + pass_gap_ns
    except KeyboardInterrupt:
        interrupted = True
    except CaptureError as exc:  # the file was replaced while we were playing it
        print(file=err)
        return fail(str(exc))
    except OSError as exc:
        print(file=err)
        return fail(f"{path}: cannot read: {reason(exc)}", code=1)
    elapsed = (time.perf_counter_ns() - started) / 1e9
    print(file=err)  # end the progress line
    summary = f"sent {sender.sent} packets ({human_bytes(sender.sent_bytes)}) in {elapsed:.1f} s to {target}"
    if sender.passes > 1:
        summary += f" ({sender.passes} passes)"
    if interrupted:
        summary += ", interrupted"
    print(f"rigbridge replay: {summary}", file=err)
    if not max_speed and sender.sent:
        if sender.late:
            timing = (
                f"{sender.late} of {sender.sent + sender.send_errors} datagrams sent more than "
                f"{LATE_NS / 1e6:g} ms late (worst {sender.worst_late_ns / 1e6:.1f} ms): the system was busy"
            )
        else:
            timing = f"every datagram sent within {LATE_NS / 1e6:g} ms of its recorded time"
        print(f"rigbridge replay: timing: {timing}", file=err)
    reader = sender.last_reader
    if reader is not None and reader.corrupt:
        print(f"rigbridge replay: {reader.corrupt} records skipped (CRC mismatch)", file=err)
    if reader is not None and reader.truncated:
        print(f"rigbridge replay: capture truncated after {reader.records} records", file=err)
    if sender.send_errors:
        print(f"rigbridge replay: {sender.send_errors} datagrams could not be sent ({sender.last_error})", file=err)
    err.flush()
    if sender.send_errors:
        return 1
    if interrupted and not loop:
        return 130
    return 0


@dataclasses.dataclass(eq=False)
class _Sender:
    """Plays a capture to `address`, pass by pass, and counts what it sent."""

    path: Path
    address: tuple[Any, ...]
    speed: float
    max_speed: bool
    progress: _Progress
    sock: socket.socket | None = None
    sent: int = 0
    sent_bytes: int = 0
    send_errors: int = 0
    last_error: str = ""
    late: int = 0  # datagrams that left more than LATE_NS after their due time
    worst_late_ns: int = 0
    passes: int = 0
    last_reader: CaptureReader | None = None

    def _records(self) -> Iterator[CaptureRecord]:
        reader = self.last_reader = CaptureReader(self.path)
        return iter(reader)

    def play_pass(self, start_ns: int) -> int:
        """Send every record once, record i at `start_ns + (t_i - t_first) / speed`; returns the last due time."""
        sock = self.sock
        assert sock is not None
        self.passes += 1
        clock = time.perf_counter_ns
        sleep = time.sleep
        address = self.address
        timeline = _Timeline()
        speed = self.speed
        unit_speed = speed == 1.0
        max_speed = self.max_speed
        progress = self.progress
        sent_in_pass = 0
        due = start_ns
        for record in self._records():
            now = clock()
            if max_speed:
                if now >= progress.next_at:
                    progress.draw(now, start_ns, sent_in_pass, self.sent, self.passes)
            else:
                offset = timeline.advance(record.t_ns)
                due = start_ns + (offset if unit_speed else int(offset / speed))
                # Draw while there is time to spare before the next send (or anyway once a second is overdue).
                overdue = now >= progress.next_at + 1_000_000_000
                if now >= progress.next_at and (due - now > 2 * SPIN_NS or overdue):
                    progress.draw(now, start_ns, sent_in_pass, self.sent, self.passes)
                    now = clock()
                if due - now > SPIN_NS:
                    sleep((due - now - SPIN_NS) / 1e9)
                while clock() < due:
                    pass
            try:
                sock.sendto(record.data, address)
            except OSError as exc:
                self.send_errors += 1
                self.last_error = reason(exc)
            else:
                self.sent += 1
                self.sent_bytes += len(record.data)
            sent_in_pass += 1
            if not max_speed:
                # Measured after the send: an upper bound on how late the datagram left. Late means the OS did
                # not run us in time (a busy machine); it is reported so a user knows the timing was not faithful.
                late = clock() - due
                if late > LATE_NS:
                    self.late += 1
                    if late > self.worst_late_ns:
                        self.worst_late_ns = late
        now = clock()
        progress.draw(now, start_ns, sent_in_pass, self.sent, self.passes)
        return due if not max_speed else now
