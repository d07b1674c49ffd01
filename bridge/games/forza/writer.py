"""Forza's writer: the `process_*` function that folds a Data Out datagram into the session state.

Single writer, synchronously, one datagram at a time, no I/O. The datagram becomes the latest record, read
through `values.py`; what the game does not send is derived by the neutral code of `bridge/state/session.py`:
a completed lap when the lap count moves (its time is the game's last lap), personal and session bests, the
stint. Forza sends only the player's car: the state has one car slot, the player's. In the menus (`IsRaceOn`
0) the game sends zeros: they change nothing that was derived, so leaving a race keeps its laps.
"""

from __future__ import annotations

from bridge.games.forza.codec import IS_RACE_ON, Telemetry
from bridge.games.forza.values import FORZA_VALUES, TELEMETRY
from bridge.state import changes as groups
from bridge.state.changes import Changes
from bridge.state.racelog import process_lap_start_marks, process_speed_sample
from bridge.state.session import (
    CompletedLap,
    SessionState,
    process_completed_lap,
    process_reset,
    process_rewind,
    process_stint_change,
    process_tyre_wear_rate,
)

PLAYER = 0  # the one car slot
STINT_TYRES = 1  # Forza names no compound: one stint per race, from its first lap

# Every datagram carries all of the car: these groups change with each one.
_EVERY_DATAGRAM = (groups.CAR_TELEMETRY, groups.CAR_LAP, groups.CAR_STATUS, groups.CAR_DAMAGE)


def process_telemetry(state: SessionState, telemetry: Telemetry) -> Changes:
    """Fold one decoded datagram into the state; returns (and leaves in `state.changed`) the groups it changed."""
    changed = state.changed
    changed.clear()
    size = telemetry.variant.size  # the variant is Forza's "format": another one is another game
    if state.tables is not FORZA_VALUES or state.packet_format != size:
        process_reset(state, 0, size, 1, FORZA_VALUES)
        process_player(state)
    previous = state.latest.get(TELEMETRY)
    state.latest[TELEMETRY] = telemetry
    state.packets_applied += 1
    changed.update(_EVERY_DATAGRAM)
    racing = telemetry.values[IS_RACE_ON]
    if previous is None or previous.values[IS_RACE_ON] != racing:
        changed.add(groups.SESSION)
    if racing:
        car = state.cars[PLAYER]
        process_speed_sample(state, (car.speed_kph,))  # the lap's top speed: one compare per datagram
        if car.lap_start_fuel is None:
            process_lap_start_marks(state, car)  # once: the laps after this begin at the line
        process_laps(state, telemetry)
    return changed


def process_player(state: SessionState) -> None:
    state.player_index = PLAYER
    state.active = (PLAYER,)
    state.active_set = frozenset(state.active)
    state.num_active_cars = 1
    state.changed.add(groups.ACTIVE)


def process_laps(state: SessionState, telemetry: Telemetry) -> None:
    """Laps and the stint, from the lap count: a lap completed when it moves on, a restart when it goes back."""
    car = state.cars[PLAYER]
    lap = car.lap
    if lap is None:
        return  # the Sled variant sends no lap data
    known = state.lap_column[0] if state.lap_column else None
    if known == lap:
        return
    state.lap_column = (lap,)
    if not car.stints:
        process_stint_change(state, car, STINT_TYRES, STINT_TYRES, 0)
    if known is None:
        return
    if lap < known:
        process_rewind(state, car, lap)
        return
    time_ms = car.last_lap_ms
    if time_ms is not None and known not in car.laps:
        process_completed_lap(state, car, CompletedLap(known, time_ms, (0, 0, 0), True))
        process_tyre_wear_rate(state, car)
