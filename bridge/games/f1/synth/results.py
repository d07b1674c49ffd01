"""LapPositions (2025+: each car's position at the start of every lap) and FinalClassification (the results)."""

from __future__ import annotations

from typing import Any

from bridge.games.f1.synth.car import FINISHED, MECHANICAL_FAILURE, REASON_FINISHED, RETIRED, Car
from bridge.games.f1.synth.config import Params
from bridge.games.f1.synth.fields import FINAL_CLASSIFICATION, LAP_POSITIONS
from bridge.games.f1.synth.race import Race
from bridge.games.f1.synth.templates import Templates

POINTS = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)


def lap_positions(p: Params, templates: Templates, rows_per_car: list[list[int]]) -> list[bytes]:
    """LapPositions (2025+): positions at the start of each lap, 50 laps per packet (a second packet beyond)."""
    lay = p.layouts[LAP_POSITIONS]
    v = templates.tpl[LAP_POSITIONS]
    slots = p.slots
    i_num, i_start = lay.index("numLaps"), lay.index("lapStart")
    base = lay.index("positionForVehicleIdx")
    rows = max(len(r) for r in rows_per_car)
    out = []
    packets = 2 if p.cfg.laps > 50 else 1
    for k in range(packets):
        start = 50 * k
        n_rows = max(0, min(50, rows - start))
        v[base : base + 50 * slots] = [0] * (50 * slots)
        for car, r in enumerate(rows_per_car):
            for lap in range(start, min(len(r), start + 50)):
                v[base + (lap - start) * slots + car] = r[lap]
        v[i_num] = n_rows
        v[i_start] = start
        out.append(templates.pack(LAP_POSITIONS))
    return out


def classified(race: Race) -> list[Car]:
    """The final order: the cars that took the flag by laps, then race time with penalties; retired cars last."""
    running = [c for c in race.cars if not c.retired]
    running.sort(key=lambda c: (-c.finish_laps, c.finish_t + c.penalties_s, c.finish_seq))
    return running + sorted((c for c in race.cars if c.retired), key=lambda c: -c.laps_done)


def final_classification(p: Params, templates: Templates, race: Race) -> bytes:
    lay = p.layouts[FINAL_CLASSIFICATION]
    v = templates.tpl[FINAL_CLASSIFICATION]
    ix = lay.index
    v[ix("numCars")] = p.n
    fl_car = race.session_best_car
    for position, c in enumerate(classified(race), 1):
        pts = POINTS[position - 1] if position <= 10 and not c.retired else 0
        if p.fmt <= 2024 and c.idx == fl_car and position <= 10 and not c.retired:
            pts += 1
        fields: dict[str, Any] = {
            "position": position,
            "numLaps": c.laps_done if c.retired else c.finish_laps,
            "gridPosition": c.grid,
            "points": pts,
            "numPitStops": c.num_pit_stops,
            "resultStatus": RETIRED if c.retired else FINISHED,
            "bestLapTimeInMS": c.best_lap_ms,
            "totalRaceTime": c.finish_t - p.t_lights_out,
            "penaltiesTime": c.penalties_s,
            "numPenalties": c.num_penalties,
            "numTyreStints": len(c.stints),
        }
        if p.fmt >= 2025:
            fields["resultReason"] = MECHANICAL_FAILURE if c.retired else REASON_FINISHED
        for key, value in fields.items():
            v[ix("classificationData", c.idx, key)] = value
        for k, (end, actual, visual) in enumerate(c.stints[:8]):
            v[ix("classificationData", c.idx, "tyreStintsActual") + k] = actual
            v[ix("classificationData", c.idx, "tyreStintsVisual") + k] = visual
            v[ix("classificationData", c.idx, "tyreStintsEndLaps") + k] = end
    return templates.pack(FINAL_CLASSIFICATION)
