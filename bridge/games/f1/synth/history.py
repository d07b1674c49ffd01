"""SessionHistory: each car's laps, sector times, validity and tyre stints, kept as that car's packet values."""

from __future__ import annotations

from typing import Any

from bridge.games.f1.synth.car import Car
from bridge.games.f1.synth.fields import SESSION_HISTORY
from bridge.games.f1.synth.templates import Templates

MAX_LAPS = 100  # laps the packet holds


class History:
    """One SessionHistory value list per car, written as the race goes (the game sends one car per packet)."""

    def __init__(self, templates: Templates, cars: list[Car]) -> None:
        self.templates = templates
        lay = templates.layouts[SESSION_HISTORY]
        self.h_ix = {
            name: lay.index(name)
            for name in (
                "carIdx", "numLaps", "numTyreStints", "bestLapTimeLapNum", "bestSector1LapNum",
                "bestSector2LapNum", "bestSector3LapNum",
            )
        }  # fmt: skip
        self.h_lap = [lay.index("lapHistoryData", k) for k in range(MAX_LAPS)]
        self.h_stint = [lay.index("tyreStintsHistoryData", k) for k in range(8)]
        self.history: list[list[Any]] = []
        for c in cars:
            h = templates.template(SESSION_HISTORY)
            h[self.h_ix["carIdx"]] = c.idx
            h[self.h_ix["numLaps"]] = 1
            h[self.h_lap[0] + 7] = 15
            self.history.append(h)
            self.write_stints(c)

    def write_stints(self, c: Car) -> None:
        h = self.history[c.idx]
        h[self.h_ix["numTyreStints"]] = len(c.stints)
        for k, (end, actual, visual) in enumerate(c.stints[:8]):
            s = self.h_stint[k]
            h[s : s + 3] = (end, actual, visual)

    def sector(self, c: Car, sector: int, ms: int) -> None:
        lap = c.laps_done
        if lap >= MAX_LAPS:
            return
        h = self.history[c.idx]
        b = self.h_lap[lap] + (1 if sector == 1 else 3)
        h[b] = ms % 60000
        h[b + 1] = ms // 60000

    def invalid(self, c: Car) -> None:
        lap = c.laps_done
        if lap < MAX_LAPS:
            h = self.history[c.idx]
            h[self.h_lap[lap] + 7] = 15 & ~1 & ~(2 << c.sector)

    def lap(self, c: Car, lap_num: int, lap_ms: int, s3: int, valid: bool) -> None:
        h = self.history[c.idx]
        k = lap_num - 1
        if k < MAX_LAPS:
            b = self.h_lap[k]
            h[b] = lap_ms
            h[b + 5] = s3 % 60000
            h[b + 6] = s3 // 60000
            if valid:
                h[b + 7] = 15
        if k + 1 < MAX_LAPS:
            h[self.h_lap[k + 1] + 7] = 15
        h[self.h_ix["numLaps"]] = min(MAX_LAPS, lap_num + 1)
        h[self.h_ix["bestLapTimeLapNum"]] = c.best_lap_num
        h[self.h_ix["bestSector1LapNum"]] = c.best_s_lap[0]
        h[self.h_ix["bestSector2LapNum"]] = c.best_s_lap[1]
        h[self.h_ix["bestSector3LapNum"]] = c.best_s_lap[2]

    def no_lap_after(self, c: Car, lap_num: int) -> None:
        """The car took the flag on `lap_num`: no lap follows."""
        if lap_num < MAX_LAPS:
            self.history[c.idx][self.h_lap[lap_num] + 7] = 0

    def packet(self, c: Car) -> bytes:
        h = self.history[c.idx]
        if c.finished:
            h[self.h_ix["numLaps"]] = min(MAX_LAPS, c.finish_laps)
        return self.templates.pack(SESSION_HISTORY, h)
