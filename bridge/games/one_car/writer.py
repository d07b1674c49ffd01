"""The writer shared by the games that send one record per frame for the player's car only (Forza, GT7,
Codemasters, OutGauge): each game's `process_*` calls these, synchronously, no I/O.

The state has one car slot, the player's. The record becomes the latest of its kind, read through the game's
`ValueTable`; a game that sends the lap being driven and the last lap's time gets completed laps, personal and
session bests and the stint from the neutral derivations of `bridge/state/derive.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from bridge.games.flat_values import TELEMETRY
from bridge.state.changes import ACTIVE, Changes
from bridge.state.derive import process_completed_lap, process_rewind, process_stint_change, process_tyre_wear_rate
from bridge.state.records import CompletedLap
from bridge.state.session import SessionState, process_reset
from bridge.state.values import ValueTable

PLAYER = 0  # the one car slot
STINT_TYRES = 1  # these games name no compound: one stint per race, from its first lap


class _Layout(Protocol):
    @property
    def size(self) -> int: ...


class Record(Protocol):
    """What this writer needs of a game's record: its layout (whose size is the game's "format") and values."""

    @property
    def layout(self) -> _Layout: ...

    @property
    def values(self) -> tuple[Any, ...]: ...


def previous_record(state: SessionState, tables: ValueTable) -> Any:
    """The game's latest record before this one (the game's own type), or None when another game ran."""
    return state.latest.get(TELEMETRY) if state.tables is tables else None


def process_record(state: SessionState, record: Record, tables: ValueTable, groups: Iterable[str]) -> Changes:
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
        process_tyre_wear_rate(state, car)  # nothing for a game that sends no tyre wear
