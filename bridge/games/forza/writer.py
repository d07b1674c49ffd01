"""Forza's writer: the `process_*` function that folds a Data Out datagram into the session state.

Single writer, synchronously, one datagram at a time, no I/O. The datagram becomes the latest record, read
through `values.py`, by the shared single-car writer (`bridge/games/one_car/writer.py`): a completed lap when the
lap count moves (its time is the game's last lap), personal and session bests, the stint. Forza sends only the
player's car: the state has one car slot, the player's. In the menus (`IsRaceOn` 0) the game sends zeros: they
change nothing that was derived, so leaving a race keeps its laps.
"""

from __future__ import annotations

from bridge.games.forza.codec import IS_RACE_ON, Telemetry
from bridge.games.forza.values import FORZA_VALUES
from bridge.games.one_car.writer import PLAYER, previous_record, process_laps, process_record
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.racelog import process_lap_start_marks, process_speed_sample
from bridge.state.session import SessionState

# Every datagram carries all of the car: these groups change with each one.
_EVERY_DATAGRAM = (groups.CAR_TELEMETRY, groups.CAR_LAP, groups.CAR_STATUS, groups.CAR_DAMAGE)


def process_telemetry(state: SessionState, telemetry: Telemetry) -> Changes:
    """Fold one decoded datagram into the state; returns (and leaves in `state.changed`) the groups it changed."""
    # The variant is Forza's "format": another one is another stream, with no previous datagram.
    same_variant = state.packet_format == telemetry.layout.size
    previous: Telemetry | None = previous_record(state, FORZA_VALUES) if same_variant else None
    changed = process_record(state, telemetry, FORZA_VALUES, _EVERY_DATAGRAM)
    racing = telemetry.values[IS_RACE_ON]
    if previous is None or previous.values[IS_RACE_ON] != racing:
        changed.add(groups.SESSION)
    if racing:
        car = state.cars[PLAYER]
        process_speed_sample(state, (car.speed_kph,))  # the lap's top speed: one compare per datagram
        if car.lap_start_fuel is None:
            process_lap_start_marks(state, car)  # once: the laps after this begin at the line
        process_laps(state)  # the Sled variant sends no lap data: nothing then
    return changed
