"""CarDamage (tyre wear, brakes, wings, engine wear) and TyreSets (the fitted car's 20 sets, one car per packet)."""

from __future__ import annotations

from random import Random
from typing import Any

from bridge.games.f1.synth.car import SOFT, Car, tyre_wear
from bridge.games.f1.synth.config import Params
from bridge.games.f1.synth.fields import CAR_DAMAGE, TYRE_SET_FIELDS, TYRE_SETS
from bridge.games.f1.synth.templates import Templates


class WearPackets:
    def __init__(self, p: Params, templates: Templates, cars: list[Car]) -> None:
        self.p, self.templates, self.cars = p, templates, cars
        rng = Random(p.cfg.seed * 17 + 5)  # its own stream: the race's is not touched
        self.engine_wear = {c.idx: [rng.randint(3, 22) for _ in range(6)] for c in cars}
        self.gearbox_wear = {c.idx: rng.randint(2, 15) for c in cars}
        ts = p.layouts[TYRE_SETS]
        self.ts_base = [ts.index("tyreSetData", k) for k in range(20)]
        self.ts_fitted = ts.index("fittedIdx")
        self.ts_car = ts.index("carIdx")

    def damage(self) -> bytes:
        v = self.templates.tpl[CAR_DAMAGE]
        base = self.templates.base[CAR_DAMAGE]
        blisters = self.p.fmt >= 2025
        width = self.templates.damage_width
        L = self.p.L
        for c in self.cars:
            w = tyre_wear(c, L)
            laps = c.dist / L if c.dist > 0.0 else 0.0
            ew = self.engine_wear[c.idx]
            rl, rr, fl, fr = w * 1.08, w * 1.12, w * 0.95, w
            br, bf = int(1 + laps * 0.4), int(2 + laps * 0.5)
            head: tuple[Any, ...]
            if blisters:
                blis = int(max(0.0, w - 8.0) * 0.6) if c.visual == SOFT else 0
                head = (rl, rr, fl, fr, int(rl), int(rr), int(fl), int(fr), br, br, bf, bf, blis, blis, 0, 0)
            else:
                head = (rl, rr, fl, fr, int(rl), int(rr), int(fl), int(fr), br, br, bf, bf)
            b = base[c.idx]
            v[b : b + width] = (
                *head, c.wing_damage, 0, 0, 0, 0, 0, 0, 0, self.gearbox_wear[c.idx], 0,
                ew[0], ew[1], ew[2], ew[3] + int(laps * 0.2), ew[4], ew[5], 0, 0,
            )  # fmt: skip
        return self.templates.pack(CAR_DAMAGE)

    def tyre_sets(self, c: Car) -> bytes:
        v = self.templates.tpl[TYRE_SETS]
        v[self.ts_car] = c.idx
        flat = c.ts_flat
        k = c.fitted_set * len(TYRE_SET_FIELDS)
        flat[k + 2] = min(100, int(tyre_wear(c, self.p.L)))
        flat[k + 5] = max(0, flat[k + 6] - c.age_laps)
        b = self.ts_base[0]
        v[b : b + len(flat)] = flat
        v[self.ts_fitted] = c.fitted_set
        return self.templates.pack(TYRE_SETS)
