"""IngestStats: plain counters and the kernel drop bookkeeping."""

from __future__ import annotations

from bridge.ingest.stats import IngestStats


def test_counters_and_snapshot() -> None:
    stats = IngestStats()
    assert stats.seconds_since_last(10.0) is None
    stats.count_received(100, 2_000_000_000)
    stats.count_received(50, 3_000_000_000)
    stats.drop("too_short")
    stats.drop("not_allowed", 2)
    stats.count_decoded("car_telemetry")
    snap = stats.snapshot()
    stats.drop("too_short")  # the snapshot is a copy
    assert snap == {
        "received": 2,
        "received_bytes": 150,
        "dropped": {"too_short": 1, "not_allowed": 2},
        "decoded": {"car_telemetry": 1},
        "forwarded": 0,
        "forward_errors": 0,
        "last_datagram_monotonic": 3.0,
    }
    assert stats.dropped_total == 4
    assert stats.seconds_since_last(3.5) == 0.5


def test_kernel_drops_add_only_increases_and_survive_a_new_socket() -> None:
    stats = IngestStats()
    assert stats.update_kernel_drops(None) == 0
    assert stats.update_kernel_drops(5) == 5
    assert stats.update_kernel_drops(5) == 0
    assert stats.update_kernel_drops(8) == 3
    assert stats.update_kernel_drops(2) == 2  # counter restarted (socket rebound): its value is all new
    assert stats.dropped["kernel_overflow"] == 10
