"""The writer shared by the games that send one record per frame for the player's car only (GT7, Codemasters,
OutGauge): each game's `process_*` calls these, synchronously, no I/O.

The state has one car slot, the player's. The record becomes the latest of its kind, read through the game's
`ValueTable`; a game that sends the lap being driven and the last lap's time gets completed laps, personal and
session bests and the stint from the neutral derivations of `bridge/state/session.py`.
"""

from __future__ import annotations

from typing import Any

from bridge.games.flat_values import TELEMETRY
from bridge.state.changes import ACTIVE, Changes
from bridge.state.session import (
    CompletedLap,
    SessionState,
    process_completed_lap,
    process_reset,
    process_rewind,
    process_stint_change,
)
from bridge.state.values import ValueTable

PLAYER = 0  # the one car slot
STINT_TYRES = 1  # these games name no compound: one stint per race, from its first lap


def process_record(state: SessionState, record: Any, tables: ValueTable, groups: tuple[str, ...]) -> Changes:
    """Keep `record` as the latest; a new game or a new layout (another size) starts a fresh session. Returns
    (and leaves in `state.changed`) `groups`, the groups every record changes, plus the reset's."""
    changed = state.changed
    changed.clear()
    size = record.layout.size  # the layout is the game's "format": another one is another stream
    if state.tables is not tables or state.packet_format != size:
        process_reset(state, 0, size, 1, tables)
        process_player(state)
    state.latest[TELEMETRY] = record
    state.packets_applied += 1
    changed.update(groups)
    return changed


def process_player(state: SessionState) -> None:
    state.player_index = PLAYER
    state.active = (PLAYER,)
    state.active_set = frozenset(state.active)
    state.num_active_cars = 1
    state.changed.add(ACTIVE)


def process_laps(state: SessionState) -> None:
    """Laps and the stint, from the lap being driven (`car.lap`): a lap completed when it moves on (its time is
    the game's last lap, `car.last_lap_ms`), a restart or a flashback when it goes back."""
    car = state.cars[PLAYER]
    lap = car.lap
    if lap is None:
        return  # before the start, or a game that sends no laps
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
