"""Codemasters' writer: the `process_*` function that folds an "extradata 3" datagram into the session state.

Single writer, synchronously, one datagram at a time, no I/O. The datagram becomes the latest record, read
through `values.py`; the lap count (a stage is one lap) and the last lap's time give completed laps, bests and
the stint through the shared single-car writer (`bridge/games/one_car/writer.py`).
"""

from __future__ import annotations

from bridge.games.codemasters.codec import Telemetry
from bridge.games.codemasters.values import CODEMASTERS_VALUES
from bridge.games.one_car.writer import previous_record, process_laps, process_record
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.session import SessionState

_SESSION_KEYS = ("track_length", "total_laps")
# Every datagram carries all of the car, its motion included.
_EVERY_DATAGRAM = (groups.CAR_TELEMETRY, groups.CAR_LAP, groups.CAR_STATUS, groups.CAR_MOTION)


def process_telemetry(state: SessionState, telemetry: Telemetry) -> Changes:
    """Fold one decoded datagram into the state; returns (and leaves in `state.changed`) the groups it changed."""
    previous: Telemetry | None = previous_record(state, CODEMASTERS_VALUES)
    changed = process_record(state, telemetry, CODEMASTERS_VALUES, _EVERY_DATAGRAM)
    if previous is None or any(previous[key] != telemetry[key] for key in _SESSION_KEYS):
        changed.add(groups.SESSION)  # a new event: the stage's length or the lap count changed
    process_laps(state)
    return changed
