"""F1's writer, lap progress: LapData, CarStatus and SessionHistory packets into laps, pits, stints and the
active cars.

Single writer, synchronously, one packet at a time, no I/O (`writer.py` dispatches here). Whole columns are
compared, so Python work happens only for the cars whose value moved; the derivations themselves (bests, sector
colours, stints, pits) are the neutral ones of `bridge/state/derive.py`.
"""

from __future__ import annotations

from bridge.games.f1 import aids  # racer's aids
from bridge.games.f1.codec import Packet
from bridge.games.f1.layouts import PacketLayout
from bridge.games.f1.values import CAR, CAR_STATUS, CAR_TELEMETRY, HISTORY, LAP_DATA
from bridge.state import changes as groups
from bridge.state.derive import (
    process_completed_lap,
    process_pit_entry,
    process_pit_exit,
    process_recompute_bests,
    process_rewind,
    process_stint_change,
    process_tyre_wear_rate,
)
from bridge.state.racelog import process_lap_start_marks
from bridge.state.records import CompletedLap
from bridge.state.session import SessionState

ACTIVE_RESULT_STATUS = 2  # resultStatus: 0 invalid, 1 inactive (slot unused), 2+ a car that is or was racing


# ----------------------------------------------------------------------------------------------------------
# Columns: one C-level call returns a field for every car slot, so the writer compares whole columns and
# does Python work only for the cars whose value moved.


class _Columns:
    __slots__ = (
        "actual",
        "age",
        "lap",
        "last_lap",
        "pit_lane_ms",
        "pit_stop_ms",
        "pit_timer",
        "result",
        "speed",
        "visual",
    )

    def __init__(
        self,
        lap_layout: PacketLayout | None = None,
        status_layout: PacketLayout | None = None,
        telemetry_layout: PacketLayout | None = None,
    ) -> None:
        if lap_layout is not None:
            self.lap = lap_layout.column("lapData", "currentLapNum")
            self.last_lap = lap_layout.column("lapData", "lastLapTimeInMS")
            self.result = lap_layout.column("lapData", "resultStatus")
            self.pit_timer = lap_layout.column("lapData", "pitLaneTimerActive")
            self.pit_lane_ms = lap_layout.column("lapData", "pitLaneTimeInLaneInMS")
            self.pit_stop_ms = lap_layout.column("lapData", "pitStopTimerInMS")
        if telemetry_layout is not None:
            self.speed = telemetry_layout.column("carTelemetryData", "speed")
        if status_layout is not None:
            self.visual = status_layout.column("carStatusData", "visualTyreCompound")
            self.actual = status_layout.column("carStatusData", "actualTyreCompound")
            self.age = status_layout.column("carStatusData", "tyresAgeLaps")


_COLUMNS: dict[tuple[int, int], _Columns] = {}


def columns(layout: PacketLayout) -> _Columns:
    key = (layout.format, layout.packet_id)
    cols = _COLUMNS.get(key)
    if cols is None:
        if layout.packet_id == LAP_DATA:
            cols = _Columns(lap_layout=layout)
        elif layout.packet_id == CAR_TELEMETRY:
            cols = _Columns(telemetry_layout=layout)
        else:
            cols = _Columns(status_layout=layout)
        _COLUMNS[key] = cols
    return cols


# ----------------------------------------------------------------------------------------------------------
# LapData: active cars, completed laps, pit lane.


def process_lap_data(state: SessionState, packet: Packet) -> None:
    previous = state.latest.get(LAP_DATA)
    state.latest[LAP_DATA] = packet
    changed = state.changed
    changed.add(groups.CAR_LAP)
    values = packet.values
    cols = columns(packet.layout)
    result = cols.result(values)
    if result != state.result_column:
        state.result_column = result
        process_active_cars(state)
    laps = cols.lap(values)
    last_laps = cols.last_lap(values)
    if previous is not None and (laps != state.lap_column or last_laps != state.last_lap_column):
        old_laps, old_last = state.lap_column, state.last_lap_column
        for i in state.active:
            if laps[i] != old_laps[i] or last_laps[i] != old_last[i]:
                process_lap_progress(state, i, old_laps[i], laps[i], previous, packet)
    state.lap_column = laps
    state.last_lap_column = last_laps
    timers = cols.pit_timer(values)
    if previous is not None and timers != state.pit_timer_column and state.pit_timer_column:
        before = columns(previous.layout)
        pit_ms = before.pit_lane_ms(previous.values)
        stop_ms = before.pit_stop_ms(previous.values)
        for i, (was, now) in enumerate(zip(state.pit_timer_column, timers)):
            if was and not now:
                process_pit_exit(state, i, pit_ms[i], stop_ms[i])
            elif now and not was:
                process_pit_entry(state, i)
    state.pit_timer_column = timers
    aids.process_aids_lap_data(state, packet.session_time)  # racer's aids: the live delta, O(1)


def process_active_cars(state: SessionState) -> None:
    """Active cars: resultStatus says the slot holds a car (LapData), else the first numActiveCars slots."""
    if state.result_column:
        active = tuple(i for i, status in enumerate(state.result_column) if status >= ACTIVE_RESULT_STATUS)
    else:
        active = tuple(range(min(state.num_active_cars, len(state.cars))))
    if active != state.active:
        state.active = active
        state.active_set = frozenset(active)
        state.changed.add(groups.ACTIVE)


def process_lap_progress(
    state: SessionState, i: int, old_lap: int, new_lap: int, before: Packet, after: Packet
) -> None:
    car = state.cars[i]
    if new_lap < old_lap:
        process_rewind(state, car, new_lap)
        return
    completed = old_lap if new_lap > old_lap else new_lap  # at the flag the lap number does not move
    acc_after = CAR.for_layout(after.layout)
    time_ms = acc_after["last_lap_ms"](after.values, i)
    if completed < 1 or time_ms <= 0 or completed in car.laps:
        return
    acc_before = CAR.for_layout(before.layout)
    s1 = acc_before["sector1_ms"](before.values, i)
    s2 = acc_before["sector2_ms"](before.values, i)
    s3 = time_ms - s1 - s2 if s1 and s2 and time_ms > s1 + s2 else 0
    valid = not acc_before["lap_invalid"](before.values, i)
    process_completed_lap(state, car, CompletedLap(completed, time_ms, (s1, s2, s3), valid))
    process_tyre_wear_rate(state, car)


def process_car_status(state: SessionState, packet: Packet) -> None:
    state.latest[CAR_STATUS] = packet
    state.changed.add(groups.CAR_STATUS)
    aids.process_aids_flag(state)  # racer's aids
    player = state.player
    if player is not None and player.lap_start_fuel is None:
        process_lap_start_marks(state, player)  # once: the laps after this begin at the line
    cols = columns(packet.layout)
    values = packet.values
    visual = cols.visual(values)
    age = cols.age(values)
    if visual != state.visual_column or age != state.age_column:
        old_visual, old_age = state.visual_column or visual, state.age_column or age
        first = not state.visual_column
        actual = cols.actual(values)
        cars = state.cars
        for i in state.active:
            if first or visual[i] != old_visual[i] or age[i] < old_age[i] or not cars[i].stints:
                process_stint_change(state, state.cars[i], visual[i], actual[i], age[i])
        state.visual_column = visual
        state.age_column = age


def process_session_history(state: SessionState, packet: Packet) -> None:
    """One car's lap history: the game's own record of completed laps, authoritative over what we inferred."""
    i = packet.values[12]
    if i >= len(state.cars):
        return
    car = state.cars[i]
    car.history = packet
    state.changed.add_car(groups.HISTORY, i)
    rows = HISTORY.for_layout(packet.layout)
    time_ms, sector1, sector2, sector3, flags = (
        rows["time_ms"], rows["sector1_ms"], rows["sector2_ms"], rows["sector3_ms"], rows["valid_flags"]
    )
    values = packet.values
    changed_laps = False
    for n in range(packet.count("numLaps")):
        lap_ms = time_ms(values, n)
        if lap_ms <= 0:
            continue  # the current, unfinished lap
        sectors = (sector1(values, n), sector2(values, n), sector3(values, n))
        valid = bool(flags(values, n) & 0x01)
        known = car.laps.get(n + 1)
        if known is None or (known.time_ms, known.sectors_ms, known.valid) != (lap_ms, sectors, valid):
            colours = known.sector_colours if known else ("", "", "")
            car.laps[n + 1] = CompletedLap(n + 1, lap_ms, sectors, valid, colours)
            changed_laps = True
    if changed_laps:
        process_recompute_bests(state)
        state.changed.add_car(groups.LAPS, i)
