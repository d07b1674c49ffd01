"""Why a datagram was dropped: the reasons ingest counts by and the metrics label by (so the series stay bounded)."""

from __future__ import annotations

# Why a game's decoder refused a datagram: the reasons of every game's `decode()`, a fixed vocabulary so that
# counters by reason stay bounded (tests/games/test_registry.py holds each game's reasons to it).
DECODE_REASONS = (
    "too_short", "unknown_format", "unknown_packet_id", "wrong_size", "bad_event", "bad_race_flag", "bad_magic",
    "implausible",
)  # fmt: skip

# Drop reasons the ingest layer uses itself.
NOT_ALLOWED = "not_allowed"  # source address outside udp.allow_from
KERNEL_OVERFLOW = "kernel_overflow"  # the kernel dropped datagrams for our socket (receive buffer full)
HANDLER_ERROR = "handler_error"  # the datagram handler raised; the receiver kept going
OTHER_SOURCE = "other_source"  # a second sender while the bridge follows another (one source at a time)

DROP_REASONS = (*DECODE_REASONS, NOT_ALLOWED, OTHER_SOURCE, KERNEL_OVERFLOW, HANDLER_ERROR)

__all__ = ["DECODE_REASONS", "DROP_REASONS", "HANDLER_ERROR", "KERNEL_OVERFLOW", "NOT_ALLOWED", "OTHER_SOURCE"]
