"""The derivations every game's writer shares: what the games do not send, derived from what they do.

Completed laps with sector colours, personal and overall bests, flashbacks, pit stops and the time they cost,
tyre wear per lap, tyre stints and the game's events, in game-neutral terms. Written only here, by `process_*`
functions the writers call, synchronously, with no I/O; a completed lap also feeds the race log (`racelog.py`) and
the racer's aids (`aids/hooks.py`).
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from bridge.state import changes as groups
from bridge.state.aids.hooks import process_aids_lap, process_aids_pit  # racer's aids
from bridge.state.racelog import process_lap_facts
from bridge.state.records import MAX_LOG, CompletedLap, Event, PitStop, Stint
from bridge.state.session import MAX_LAPS, MAX_STINTS, CarState, SessionState, laps_done, stint_laps_done


def process_completed_lap(state: SessionState, car: CarState, lap: CompletedLap) -> None:
    """Record a lap, update personal and overall bests, and colour its sectors."""
    if len(car.laps) >= MAX_LAPS:
        return
    colours: list[str] = []
    if lap.valid:
        if car.best_lap_ms is None or lap.time_ms < car.best_lap_ms:
            car.best_lap_ms, car.best_lap_num = lap.time_ms, lap.lap
        if state.best_lap is None or lap.time_ms < state.best_lap[0]:
            state.best_lap = (lap.time_ms, car.index, lap.lap)
            state.changed.add(groups.BESTS)
    for s, ms in enumerate(lap.sectors_ms):
        if not ms or not lap.valid:
            colours.append("")
            continue
        personal = car.best_sectors_ms[s]
        if personal is None or ms < personal:
            car.best_sectors_ms[s] = ms
        overall = state.best_sectors[s]
        if overall is None or ms <= overall[0]:
            state.best_sectors[s] = (ms, car.index)
            state.changed.add(groups.BESTS)
            colours.append("purple")
        elif ms <= (car.best_sectors_ms[s] or ms):
            colours.append("green")
        else:
            colours.append("yellow")
    first, second, third = colours  # one per sector
    done = CompletedLap(lap.lap, lap.time_ms, lap.sectors_ms, lap.valid, (first, second, third))
    car.laps[lap.lap] = done
    process_lap_facts(state, car, done)
    process_aids_lap(state, car, done)  # racer's aids
    state.changed.add_car(groups.LAPS, car.index)
    if car.stints:
        state.changed.add_car(groups.STINTS, car.index)  # the running stint is a lap longer


def process_rewind(state: SessionState, car: CarState, lap: int) -> None:
    """A flashback took the car back to `lap`: forget laps and stints from the future."""
    for n in [n for n in car.laps if n >= lap]:
        del car.laps[n]
    for n in [n for n in car.lap_facts if n >= lap]:
        del car.lap_facts[n]
    car.stints = [s for s in car.stints if s.start_lap <= lap]
    if car.stints and car.stints[-1].end_lap is not None:
        car.stints[-1] = replace(car.stints[-1], end_lap=None)
    car.pit_log = [stop for stop in car.pit_log if stop.lap < lap]
    process_recompute_bests(state)
    state.changed.add_car(groups.LAPS, car.index)
    state.changed.add_car(groups.STINTS, car.index)


def process_recompute_bests(state: SessionState) -> None:
    state.best_lap = None
    state.best_sectors = [None, None, None]
    for car in state.cars:
        best_ms: int | None = None
        best_num = 0
        sectors: list[int | None] = [None, None, None]
        for lap in car.laps.values():
            if not lap.valid:
                continue
            if best_ms is None or lap.time_ms < best_ms:
                best_ms, best_num = lap.time_ms, lap.lap
            for s, ms in enumerate(lap.sectors_ms):
                known = sectors[s]
                if ms and (known is None or ms < known):
                    sectors[s] = ms
        car.best_lap_ms, car.best_lap_num = best_ms, (None if best_ms is None else best_num)
        car.best_sectors_ms = sectors
        if best_ms is not None and (state.best_lap is None or best_ms < state.best_lap[0]):
            state.best_lap = (best_ms, car.index, best_num)
        for s, personal in enumerate(sectors):
            best = state.best_sectors[s]
            if personal is not None and (best is None or personal < best[0]):
                state.best_sectors[s] = (personal, car.index)
    state.changed.add(groups.BESTS)


def process_pit_entry(state: SessionState, i: int) -> None:
    """The car entered the pit lane: this lap is the in-lap of the stop."""
    car = state.cars[i]
    car.pit_entry_lap = car.lap
    process_aids_pit(state, i, True)  # racer's aids


def process_pit_exit(state: SessionState, i: int, pit_lane_ms: int, stop_ms: int | None = None) -> None:
    car = state.cars[i]
    car.last_pit_lane_ms = pit_lane_ms
    car.pit_time_lost_ms += pit_lane_ms
    lap = car.pit_entry_lap if car.pit_entry_lap is not None else car.lap
    if lap is not None:
        car.pit_log.append(PitStop(lap, pit_lane_ms, stop_ms or None))
        if len(car.pit_log) > MAX_LOG:
            del car.pit_log[0]
    process_aids_pit(state, i, False, pit_lane_ms)  # racer's aids
    state.changed.add_car(groups.PIT, i)


def process_tyre_wear_rate(state: SessionState, car: CarState) -> None:
    wear = car.tyre_wear_pct
    if not wear:
        return
    average = sum(wear) / len(wear)
    if car.wear_at_lap_start is not None and average >= car.wear_at_lap_start:
        car.wear_rate_pct_per_lap = average - car.wear_at_lap_start
    car.wear_at_lap_start = average


def process_stint_change(state: SessionState, car: CarState, visual: int, actual: int, age: int) -> None:
    """A set of tyres seen for the first time, or another set fitted. The in-lap (the lap the car entered the pit
    lane on, else the lap before this one) ends the old stint; the new one starts on the out-lap."""
    if not visual:
        return  # unused slot or restricted data
    lap = car.lap or 1
    if car.stints:
        last = car.stints[-1]
        if last.visual_id == visual and last.end_lap is None and age >= last.fitted_age + stint_laps_done(
            last, laps_done(car)
        ):
            return
        entry = car.pit_entry_lap
        in_lap = entry if entry is not None and 0 <= lap - entry <= 1 else lap - 1  # a recent pit entry, else
        in_lap = max(last.start_lap, min(in_lap, lap))  # tyres changed elsewhere (the garage) since the last lap
        car.stints[-1] = replace(last, end_lap=in_lap)
        stint = Stint(visual, actual, in_lap + 1, None, age, fitted_in_lap=lap == in_lap)
    else:
        start = max(1, lap - age)  # joined mid-stint: the set has been on since `age` laps ago
        stint = Stint(visual, actual, start, None, max(0, age - (lap - start)))
    car.stints.append(stint)
    if len(car.stints) > MAX_STINTS:
        del car.stints[0]
    state.changed.add_car(groups.STINTS, car.index)


def process_game_event(state: SessionState, code: str, session_time: float, details: dict[str, Any]) -> None:
    """One event the game announced (a code and its details), kept for readers in order of arrival."""
    state.event_seq += 1
    state.events.append(Event(state.event_seq, code, session_time, MappingProxyType(details)))
    state.changed.add(groups.EVENTS)


__all__ = [
    "process_completed_lap", "process_game_event", "process_pit_entry", "process_pit_exit",
    "process_recompute_bests", "process_rewind", "process_stint_change", "process_tyre_wear_rate",
]  # fmt: skip
