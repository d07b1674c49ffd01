"""OutGauge's writer: the `process_*` function that folds a datagram into the session state.

Single writer, synchronously, one datagram at a time, no I/O. The datagram becomes the latest record, read
through `values.py`, by the shared single-car writer (`bridge/games/one_car/writer.py`). OutGauge sends no lap
data: there are no laps, bests or stints to derive.
"""

from __future__ import annotations

from bridge.games.one_car.writer import process_record
from bridge.games.outgauge.codec import Gauge
from bridge.games.outgauge.values import OUTGAUGE_VALUES
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.session import SessionState

_EVERY_DATAGRAM = (groups.CAR_TELEMETRY, groups.CAR_STATUS)  # every datagram carries all of the car


def process_gauge(state: SessionState, gauge: Gauge) -> Changes:
    """Fold one decoded datagram into the state; returns (and leaves in `state.changed`) the groups it changed."""
    return process_record(state, gauge, OUTGAUGE_VALUES, _EVERY_DATAGRAM)
