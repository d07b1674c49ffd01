"""Race results, running order, lap records, stints and the per-car race log, as JSON-able dicts.

Pure functions over the read-only view (`bridge/state/view.py`): no I/O, nothing mutated, nothing game-specific.
MQTT (`session/results`, `session/standings`, `cars/<i>/lap_completed`, `cars/<i>/stints`) and the end-of-session
export build their documents here, so a file and the topics agree. Codes become names through the running game's
enumerations (`bridge/state/enums.py`); a value the game does not send is None. Serialise with
`bridge.jsontext.json_text` (a hostile datagram can carry NaN).

Stints follow the game's own stint history: the in-lap (the lap the car entered the pit lane on) is the last lap
of the stint that ends, and the next stint starts on the out-lap. A stint's `laps` are the laps completed on it.
"""

from __future__ import annotations

import math
from typing import Any

from bridge.state.enums import slug
from bridge.state.racelog import LapFacts, Penalty, PitStop
from bridge.state.session import Stint, laps_done, stint_laps_done

__all__ = [
    "WHEELS", "lap_message", "lap_record", "penalties", "pit_stops", "results", "standings", "stints", "warnings",
]

WHEELS = ("rl", "rr", "fl", "fr")  # the neutral wheel order (every game's values are read in it)
WARNING = "warning"  # the penalty type (by name) that is a warning, not a penalty


def _num(value: Any, digits: int) -> float | None:
    """A finite number rounded for a document; None for NaN, infinities and missing values."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _name(enum: str, packet_format: int, value: Any) -> str | None:
    return None if value is None else slug(enum, packet_format, value)


def _get(car: Any, name: str) -> Any:
    """A game value of the car; None where the running game (or every registered game) has no such value."""
    return getattr(car, name, None)


def _driver(car: Any) -> dict[str, Any]:
    """Who drives a car: its slot, name, team and number (None where the game does not say)."""
    return {
        "index": car.index,
        "name": _get(car, "name"),
        "team": _name("teamId", car.packet_format, _get(car, "team_id")),
        "race_number": _get(car, "race_number"),
    }


def _gap_ms(row: Any, winner: Any) -> int | None:
    """Time behind the winner on the same lap count, penalties included; None when lapped (see `laps_behind`)."""
    if row.laps != winner.laps:
        return None
    mine = row.total_race_time_s + row.penalties_s
    theirs = winner.total_race_time_s + winner.penalties_s
    gap = (mine - theirs) * 1000
    return round(gap) if math.isfinite(gap) else None


def results(view: Any) -> dict[str, Any] | None:
    """The game's final classification as one document (None until the game sends one), by finishing position."""
    rows = view.final_results
    if rows is None:
        return None
    fmt = view.packet_format
    winner = rows[0] if rows else None
    cars = []
    for row in rows:
        car = view.car(row.index)
        start = 1
        stint_rows = []
        for actual, visual, end in row.stints:
            last = None if end == 255 else end  # 255: the set on the car at the flag
            stop = row.laps if last is None else last
            stint_rows.append({
                "tyre": _name("visualTyreCompound", fmt, visual),
                "compound": _name("actualTyreCompound", fmt, actual),
                "start_lap": start,
                "end_lap": stop,
                "laps": max(0, stop - start + 1),
            })  # fmt: skip
            start = stop + 1
        cars.append({
            "position": row.position,
            "grid_position": row.grid_position,
            **_driver(car),
            "laps": row.laps,
            "total_race_time_s": _num(row.total_race_time_s, 3),
            "gap_to_winner_ms": None if winner is None else _gap_ms(row, winner),
            "laps_behind": None if winner is None else max(0, winner.laps - row.laps),
            "best_lap_ms": row.best_lap_ms or None,
            "pit_stops": row.pit_stops,
            "penalties_s": row.penalties_s,
            "num_penalties": row.num_penalties,
            "points": row.points,
            "result_status": _name("resultStatus", fmt, row.result_status),
            "result_reason": _name("resultReason", fmt, row.result_reason),
            "stints": stint_rows,
        })  # fmt: skip
    return {"cars": cars}


def standings(view: Any) -> list[dict[str, Any]]:
    """The running order now, read from one packet of each kind (positions never show twice here). No gaps: they
    move with every packet, and the table is meant to change only when the order, a lap or a car's tyres do."""
    fmt = view.packet_format
    rows = []
    for i in view.active:
        car = view.car(i)
        rows.append({
            "position": _get(car, "position"),
            **_driver(car),
            "lap": _get(car, "lap"),
            "last_lap_ms": _get(car, "last_lap_ms") or None,
            "best_lap_ms": car.best_lap_ms,
            "pit_stops": _get(car, "pit_stops"),
            "penalties_s": _get(car, "penalties_s"),
            "tyre": _name("visualTyreCompound", fmt, _get(car, "tyre_visual_id")),
            "tyre_age_laps": _get(car, "tyre_age_laps"),
            "pit_status": _name("pitStatus", fmt, _get(car, "pit_status")),
            "result_status": _name("resultStatus", fmt, _get(car, "result_status")),
        })  # fmt: skip
    rows.sort(key=_order)
    return rows


def _order(row: dict[str, Any]) -> tuple[int, int]:
    position = row["position"]
    return (position if isinstance(position, int) and position > 0 else 1 << 30, row["index"])  # unknown: last


def _facts_record(car: Any, facts: LapFacts, time_ms: int, sectors: tuple[int, ...], colours: tuple[str, ...],
                  valid: bool) -> dict[str, Any]:
    fmt = car.packet_format
    record: dict[str, Any] = {
        "lap": facts.lap,
        "time_ms": time_ms,
        "sectors_ms": [ms or None for ms in sectors],
        "sector_colours": [c or None for c in colours],
        "valid": valid,
        "position": facts.position,
        "tyre": _name("visualTyreCompound", fmt, facts.tyre_visual_id),
        "compound": _name("actualTyreCompound", fmt, facts.tyre_actual_id),
        "tyre_age_laps": facts.tyre_age_laps,
        "wear_added_pct": _num(facts.wear_added_pct, 2),
        "top_speed_kph": _num(facts.top_speed_kph, 1),
    }
    if car.is_player:
        record["fuel_used_kg"] = _num(facts.fuel_used_kg, 3)
        record["fuel_used_pct"] = _num(facts.fuel_used_pct, 2)
        wheels = facts.wheel_wear_added_pct
        record["wheel_wear_added_pct"] = None if wheels is None else {
            w: _num(v, 2) for w, v in zip(WHEELS, wheels, strict=False)
        }
    return record


def lap_record(view: Any, car: Any, lap: int) -> dict[str, Any] | None:
    """One completed lap: timing from the lap history (the game's own, where it sent one), the rest as it was
    when the car crossed the line. None for a lap the state does not hold."""
    timing = car.laps.get(lap)
    facts = car.lap_facts.get(lap)
    if timing is None and facts is None:
        return None
    if facts is None:  # a lap known only from the game's history (the bridge started later)
        facts = LapFacts(lap, timing.time_ms, timing.sectors_ms, timing.sector_colours, timing.valid,
                         None, None, None, None, None, None)
    source = timing or facts
    return _facts_record(car, facts, source.time_ms, source.sectors_ms, source.sector_colours, source.valid)


def lap_message(car: Any) -> dict[str, Any] | None:
    """The car's latest lap exactly as it was completed (what `lap_completed` publishes once per lap)."""
    facts = car.lap_facts
    if not facts:
        return None
    last = facts[max(facts)]
    record = _facts_record(car, last, last.time_ms, last.sectors_ms, last.sector_colours, last.valid)
    record["car"] = car.index
    return record


def _stint_record(car: Any, stint: Stint, done: int) -> dict[str, Any]:
    fmt = car.packet_format
    named = _get(car, "tyre_visual_id") is not None  # a game naming no compounds (one stint a race): None
    laps = stint_laps_done(stint, done)
    end = stint.end_lap if stint.end_lap is not None else (stint.start_lap + laps - 1 if laps else None)
    wear = [f.wear_added_pct for n, f in car.lap_facts.items()
            if stint.start_lap <= n <= (end or 0) and f.wear_added_pct is not None]
    return {
        "tyre": _name("visualTyreCompound", fmt, stint.visual_id) if named else None,
        "compound": _name("actualTyreCompound", fmt, stint.actual_id) if named else None,
        "start_lap": stint.start_lap,
        "end_lap": end,
        "laps": laps,
        "running": stint.end_lap is None,
        "fitted_age_laps": stint.fitted_age,
        "fitted_on_in_lap": stint.fitted_in_lap,
        "wear_per_lap_pct": _num(sum(wear) / len(wear), 2) if wear else None,
    }


def stints(car: Any) -> list[dict[str, Any]]:
    """The car's stints, oldest first: tyres, laps (start and end lap, the in-lap ending a stint), wear per lap."""
    done = laps_done(car)
    return [_stint_record(car, stint, done) for stint in car.stints]


def _penalty_record(view: Any, entry: Penalty) -> dict[str, Any]:
    fmt = view.packet_format
    other = entry.other_car
    return {
        "lap": entry.lap,
        "session_time_s": _num(entry.session_time, 3),
        "kind": entry.kind,
        "type": _name("penaltyType", fmt, entry.penalty_type),
        "infringement": _name("infringementType", fmt, entry.infringement),
        "time_s": entry.time_s,
        "other_car": other,
        "other_driver": _get(view.car(other), "name") if other is not None and other < view.num_slots else None,
        "places_gained": entry.places_gained,
    }


def penalties(view: Any, car: Any) -> list[dict[str, Any]]:
    """Penalties issued to the car and served by it, with lap numbers (warnings apart: `warnings`)."""
    records = [_penalty_record(view, p) for p in car.penalty_log]
    return [r for r in records if r["type"] != WARNING]


def warnings(view: Any, car: Any) -> list[dict[str, Any]]:
    records = [_penalty_record(view, p) for p in car.penalty_log]
    return [r for r in records if r["type"] == WARNING]


def _stop_record(car: Any, stop: PitStop) -> dict[str, Any]:
    fmt = car.packet_format
    after = next((s for s in car.stints if s.start_lap == stop.lap + 1), None)
    named = after is not None and _get(car, "tyre_visual_id") is not None
    return {
        "lap": stop.lap,
        "pit_lane_time_ms": stop.lane_ms,
        "stop_time_ms": stop.stop_ms,
        "tyre_after": _name("visualTyreCompound", fmt, after.visual_id) if named else None,  # type: ignore[union-attr]
    }


def pit_stops(view: Any, car: Any) -> list[dict[str, Any]]:
    """The car's pit stops: the in-lap, time in the pit lane, time stationary, the tyres fitted (if any)."""
    return [_stop_record(car, stop) for stop in car.pit_log]
