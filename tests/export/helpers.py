"""Playing datagrams through F1's writer into an export sink, as the bridge's datagram handler does."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bridge.games.f1.codec import Packet, decode
from bridge.games.f1.writer import process_packet
from bridge.state.session import SessionState

Frames = Iterable[tuple[float, list[bytes]]]


def play(state: SessionState, on_change: Callable[[set[str]], None], frames: Frames,
         mutate: Callable[[bytes], bytes] | None = None) -> tuple[int, int]:
    """Each datagram (changed by `mutate`, if given) decoded and written; the changed groups go to `on_change`.
    A datagram the decoder refuses is skipped, one the writer fails on is given up (the bridge reports those).
    Returns (packets written, writer failures)."""
    packets = failures = 0
    for _, datagrams in frames:
        for data in datagrams:
            packet = decode(mutate(data) if mutate is not None else data)
            if not isinstance(packet, Packet):
                continue
            try:
                changed = process_packet(state, packet)
            except Exception:  # the bridge reports and skips these; the export never sees them
                failures += 1
                continue
            packets += 1
            if changed:
                on_change(changed)
    return packets, failures
