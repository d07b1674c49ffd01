"""Race control: the safety car phase, DRS enabled and disabled, one lap-1 touch, one warning, the player's button,
a time penalty for the touch and one retirement."""

from __future__ import annotations

import math
from random import Random

from bridge.games.f1.synth.car import Car
from bridge.games.f1.synth.config import Event, Params
from bridge.games.f1.synth.history import History


class RaceControl:
    """When things happen (drawn once from the run's random stream) and the flags they set."""

    def __init__(self, p: Params, rng: Random) -> None:
        self.p = p
        self.rng = rng
        cfg, L = p.cfg, p.L
        laps = cfg.laps
        self.sc_on = cfg.safety_car and laps >= 2
        self.sc_phase = 0  # 0 none, 1 deployed, 2 returning, 3 returned (in pits), 4 over
        self.sc_status = 0
        self.sc_periods = 0
        sc_lap = (laps + 1) // 2
        self.sc_start = (sc_lap - 1) * L + rng.uniform(0.18, 0.25) * L
        self.sc_end = math.ceil((self.sc_start + 0.75 * L) / L - 1e-9) * L
        self.green_until = -1.0
        self.drs_enabled = False
        self.drs_from_lap = 2  # DRS enabled when the leader has completed this many laps
        # One warning, one lap-1 contact, one held button (player).
        self.pena_at = L * min(laps - 0.5, 1.0 + rng.uniform(0.3, 0.8))
        self.pena_done = False
        self.coll_at = rng.uniform(0.35, 0.6) * L
        self.coll_done = False
        self.butn_t = p.t_lights_out + rng.uniform(20.0, 40.0)
        self.butn_sent = 0
        self.reaction = rng.uniform(0.18, 0.32)
        # The time penalty and the retirement draw from a stream of their own, so the rest of a seed's race (the
        # draws above and the cars') stays what it was before they existed.
        own = Random(f"{cfg.seed}:penalty-retirement")
        self.touch: tuple[Car, Car] | None = None  # (the car that hit, the car hit) on lap 1
        self.time_pen_at = L * min(laps - 0.3, 1.2 + own.uniform(0.2, 0.6)) if cfg.penalty and laps >= 2 else math.inf
        self.time_pen_done = False
        late = own.uniform(0.6, 0.75)
        self.retire_at = L * laps * late if cfg.retirement and laps >= 2 and p.n >= 3 else math.inf
        self.retired: Car | None = None

    @property
    def safety_car_out(self) -> bool:
        return self.sc_phase in (1, 2, 3)

    def update(self, t: float, order: list[Car], cars: list[Car], events: list[Event], history: History) -> None:
        """One frame of race control; `order` is the running order, `events` gets what happened."""
        p = self.p
        if t <= p.t_lights_out:
            return
        L = p.L
        leader = order[0]
        ld = leader.dist
        scar = p.fmt >= 2024
        if self.sc_on and not leader.finished:
            if self.sc_phase == 0 and ld >= self.sc_start:
                self.sc_phase = 1
                self.sc_status = 1
                self.sc_periods += 1
                if scar:
                    events.append(("SCAR", (1, 0)))
                if self.drs_enabled:
                    self.drs_enabled = False
                    events.append(("DRSD", (1,) if p.fmt >= 2025 else ()))
                for c in cars:
                    c.drs_armed = False
            elif self.sc_phase == 1 and ld >= self.sc_end - 0.45 * L:
                self.sc_phase = 2
                if scar:
                    events.append(("SCAR", (1, 1)))
            elif self.sc_phase == 2 and ld >= self.sc_end - 0.08 * L:
                self.sc_phase = 3
                if scar:
                    events.append(("SCAR", (1, 2)))
            elif self.sc_phase == 3 and ld >= self.sc_end:
                self.sc_phase = 4
                self.sc_status = 0
                self.green_until = t + 5.0
                if scar:
                    events.append(("SCAR", (1, 3)))
                self.drs_from_lap = max(self.drs_from_lap, round(self.sc_end / L) + 1)
        if (
            not self.drs_enabled
            and self.sc_phase in (0, 4)
            and self.drs_from_lap <= leader.laps_done < p.cfg.laps
            and not leader.finished
        ):
            self.drs_enabled = True
            events.append(("DRSE", ()))
        # One lap-1 touch (wing damage), one warning, the player's button.
        if not self.coll_done and ld >= self.coll_at:
            self.coll_done = True
            pos = min(len(order) - 1, 3 + self.rng.randrange(max(1, len(order) - 4)))
            a, b = order[pos - 1], order[pos]
            b.wing_damage = self.rng.randint(8, 18)
            self.touch = (a, b)
            if p.fmt == 2026:
                events.append(("COLL", (a.idx, b.idx, 0)))
            elif p.fmt >= 2024:
                events.append(("COLL", (a.idx, b.idx)))
        if not self.pena_done and ld >= self.pena_at:
            self.pena_done = True
            c = order[min(len(order) - 1, 1 + self.rng.randrange(len(order) - 1))]
            if not c.finished:
                c.warnings += 1
                c.cc_warnings += 1
                c.invalid = 1
                history.invalid(c)
                events.append(("PENA", (5, 7, c.idx, 255, 255, c.laps_done + 1, 0)))
        if not self.time_pen_done and ld >= self.time_pen_at:
            self.time_pen_done = True
            self._time_penalty(events)
        if self.retired is None and ld >= self.retire_at and not leader.finished:
            self._retire(t, order, events)
        if self.butn_sent < 3 and t >= self.butn_t + 0.4 * self.butn_sent:
            self.butn_sent += 1
            events.append(("BUTN", (0x00100000,)))

    def _time_penalty(self, events: list[Event]) -> None:
        """Five seconds for the lap-1 touch (small collision), added to the car's race time at the flag."""
        if self.touch is None:
            return
        a, b = self.touch
        if a.finished:
            return
        a.penalties_s += 5
        a.num_penalties += 1
        events.append(("PENA", (4, 4, a.idx, b.idx, 5, a.laps_done + 1, 0)))

    def _retire(self, t: float, order: list[Car], events: list[Event]) -> None:
        """The last car on track that has made its stop (not the player's, not a penalised one) parks: retired."""
        p = self.p
        for c in reversed(order):
            if c.finished or c.idx == p.player or c.num_penalties or c.pit_state not in (0, 4):
                continue
            if c.pit_lap and c.pit_state != 4:
                continue  # its stop is still to come: the stints stay simple
            self.retired = c
            c.retired = c.finished = True
            c.finish_t = t
            c.finish_laps = c.laps_done
            c.driver_status = 0
            c.drs_armed = False
            events.append(("RTMT", (c.idx, 8) if p.fmt >= 2025 else (c.idx,)))  # 8: mechanical failure
            return
