"""Ingest counters: plain numbers owned by the event loop thread, read by the metrics collector.

Nothing here is thread-safe or needs to be: the receiver, the forwarder and the decode stage all run on the one
event loop thread, and a reader (Prometheus collector, status line) only takes a snapshot of plain integers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# The drop reasons (a fixed vocabulary, shared with the metrics), named here for ingest's callers.
from bridge.drops import DECODE_REASONS, HANDLER_ERROR, KERNEL_OVERFLOW, NOT_ALLOWED, OTHER_SOURCE

__all__ = ["DECODE_REASONS", "HANDLER_ERROR", "KERNEL_OVERFLOW", "NOT_ALLOWED", "OTHER_SOURCE", "IngestStats"]


@dataclass(eq=False)
class IngestStats:
    received: int = 0  # datagrams read from the socket (allowed or not)
    received_bytes: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # by reason
    decoded: Counter[str] = field(default_factory=Counter)  # by packet name
    forwarded: int = 0  # successful sends, one per datagram per target
    forward_errors: int = 0  # failed sends (target unreachable, buffer full, ...), never raised
    last_datagram_monotonic: float | None = None  # time.monotonic() seconds of the last datagram
    kernel_drops_seen: int = 0  # the socket's cumulative kernel drop counter at the last update

    def count_received(self, size: int, t_ns: int) -> None:
        self.received += 1
        self.received_bytes += size
        self.last_datagram_monotonic = t_ns / 1e9

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] += count

    def count_decoded(self, name: str) -> None:
        self.decoded[name] += 1

    def update_kernel_drops(self, total: int | None) -> int:
        """Feed the socket's cumulative kernel drop counter; adds the increase to `kernel_overflow`, returns it."""
        if total is None:
            return 0
        if total < self.kernel_drops_seen:  # a new socket (rebind): its counter starts again at zero
            self.kernel_drops_seen = 0
        new = total - self.kernel_drops_seen
        self.kernel_drops_seen = total
        if new:
            self.dropped[KERNEL_OVERFLOW] += new
        return new

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def seconds_since_last(self, now_monotonic: float) -> float | None:
        """Seconds since the last datagram, None if nothing arrived yet."""
        if self.last_datagram_monotonic is None:
            return None
        return now_monotonic - self.last_datagram_monotonic

    def snapshot(self) -> dict[str, Any]:
        """A copy of every counter, safe to keep while the loop goes on counting."""
        return {
            "received": self.received,
            "received_bytes": self.received_bytes,
            "dropped": dict(self.dropped),
            "decoded": dict(self.decoded),
            "forwarded": self.forwarded,
            "forward_errors": self.forward_errors,
            "last_datagram_monotonic": self.last_datagram_monotonic,
        }
