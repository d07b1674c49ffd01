"""The bridge's own health, shared by the pipeline (which updates it) and readers (topics, metrics, log).

This is not session state: it describes the bridge, not the race. It holds plain counters and flags, updated
by the task that owns each one (ingest by the receiver, publishing by the MQTT link, rates once a second).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from bridge import __version__

LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass
class Histogram:
    """Cumulative-bucket histogram as plain numbers (the metrics collector turns it into Prometheus form)."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total += value
        self.count += 1


@dataclass
class BridgeStatus:
    version: str = __version__
    started_monotonic: float = field(default_factory=time.monotonic)
    receiving: bool = False  # datagrams arrived within udp.receive_timeout_s
    source: str | None = None  # "host:port" of the last datagram
    packets_per_s: float = 0.0
    messages_per_s: float = 0.0
    dropped_total: int = 0
    broker_connected: bool = False
    broker_state: str = "starting"  # starting | connected | reconnecting | stopped
    reconnects: int = 0
    published: Counter[str] = field(default_factory=Counter)  # messages published, by rate class
    publish_failures: int = 0
    # Messages the broker did not take, by reason slug: a bounded set (`disconnected`, `oversize`, and one slug per
    # MQTT 5 PUBACK reason code such as `not_authorized`, `quota_exceeded`, `topic_name_invalid`).
    publish_failures_by_reason: Counter[str] = field(default_factory=Counter)
    oversize_skipped: int = 0  # messages larger than the broker's Maximum Packet Size, skipped rather than sent
    pending: int = 0  # size of the latest-wins pending map
    latency: Histogram = field(default_factory=Histogram)  # datagram received -> realtime publish handed over

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic
