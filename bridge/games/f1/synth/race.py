"""The race: cars moved on each frame (pace, dirty air, DRS, the safety-car queue, the pit stop), timing
(checkpoints, sectors, speed trap, the line, gaps), the running order, overtakes and the flag.

The model: each car follows the track's speed profile scaled by its pace (team, driver, tyre compound and age,
fuel, a little noise per lap); within about half a second of the car ahead it loses time (dirty air), so
overtakes come from DRS, a much quicker car, the start or the pit stops.
"""

from __future__ import annotations

import math
from random import Random

from bridge.games.f1.synth.car import (
    CP,
    CP_OFFSET,
    DRS_GAIN,
    GRIP,
    INV_DS,
    SC_CATCH_V,
    SC_SPACING,
    SC_V,
    START_RUN_M,
    WEAR_PER_LAP,
    Car,
    a_acc,
    b_dec,
    tyre_set_values,
    tyre_wear,
)
from bridge.games.f1.synth.config import Event, Params
from bridge.games.f1.synth.control import RaceControl
from bridge.games.f1.synth.grids import make_cars
from bridge.games.f1.synth.history import History
from bridge.games.f1.synth.templates import Templates


class Race:
    """All mutable state of the race; `physics` and `race_control` move it on by one frame."""

    def __init__(self, p: Params, rng: Random, templates: Templates) -> None:
        self.p = p
        self.events: list[Event] = []
        self.control = RaceControl(p, rng)  # draws from `rng` before the cars do: the order is the seed's
        self.leader_done = False
        self.finish_count = 0
        self.t_results: float | None = None
        self.t_leader_finish = 0.0
        self.session_best_ms = 0
        self.session_best_car = 255
        self.st_best = 0.0
        self.st_best_car = 255
        self.cars = make_cars(p, rng)
        self.order = sorted(self.cars, key=lambda c: c.grid)
        self.history = History(templates, self.cars)

    def race_control(self, t: float) -> None:
        self.control.update(t, self.order, self.cars, self.events, self.history)

    def physics(self, t: float) -> None:
        """Move every car on by one frame: pace, dirty air, DRS, the safety-car queue, the pit lane."""
        p = self.p
        tm, L, dt = p.tm, p.L, p.dt
        prof, drs_code, n_bins = tm.v, tm.drs_code, tm.n
        sc = self.control.safety_car_out
        pit_v = p.pit_v
        pin, pout = tm.info.pit_entry_m, tm.info.pit_exit_m
        order = self.order
        # Safety-car queue (previous frame): slot and gap to the nearest car ahead on track.
        ahead = None
        slot = 0
        head_dist = 0.0
        for c in order:
            c.ahead_gap_m = 1e9
            c.queue_slot = -1
            if c.finished or c.pit_state in (1, 2, 3):
                continue
            if ahead is None:
                head_dist = c.dist
            else:
                c.ahead_gap_m = ahead.dist - c.dist
                c.front_v = ahead.v
                c.front_pace = ahead.eff_pace
                c.front_natural = ahead.lap_pace
            c.queue_slot = slot
            slot += 1
            ahead = c
        for c in self.cars:
            d = c.dist
            lapd = d % L
            b = int(lapd * INV_DS)
            if b >= n_bins:
                b = n_bins - 1
            pace = c.lap_pace
            if not sc and not c.finished:
                # Dirty air: within about half a second of the car ahead a car loses time (unless it is much
                # quicker), so it drops back; the way past is DRS.
                if c.ahead_gap_m < 0.5 * (c.v + 20.0) and pace < c.front_natural * 1.012:
                    pace = min(pace, c.front_pace * 0.995)
                if c.drs_armed and drs_code[b] == 2:
                    pace *= DRS_GAIN
            c.eff_pace = pace
            target = prof[b] * pace
            if c.retired:
                target = 0.0  # parks
            elif c.finished:
                target = min(target, 45.0 + 10.0 * c.lap_pace)
            elif sc and c.queue_slot >= 0:
                # Queue behind the safety car: the leader holds the safety car's pace, the cars behind close
                # up to their slot in the queue (never dropping back to it), keeping clear of the car ahead.
                err = head_dist - SC_SPACING * c.queue_slot - d  # > 0: behind its slot
                sc_t = SC_V + 0.5 * err if err > 0.0 else SC_V
                target = min(target, SC_CATCH_V if sc_t > SC_CATCH_V else sc_t)
                if c.ahead_gap_m < 15.0:
                    target = min(target, c.front_v)
            # Pit lane.
            ps = c.pit_state
            if c.pit_lap and ps < 4 and not c.finished:
                lap_now = c.laps_done + 1
                entry = c.pit_lap * L - pin
                if ps == 0 and lap_now == c.pit_lap and d >= entry - 220.0:
                    target = min(target, max(pit_v, math.sqrt(pit_v * pit_v + 2 * 30.0 * max(0.0, entry - d))))
                    if d >= entry:
                        ps = c.pit_state = 1
                        c.pit_status = 1
                        c.pit_enter_t = t
                        c.pit_timer = 1
                        c.driver_status = 2
                        if p.player != 255 and c.idx == self.cars[p.player].teammate:
                            self.events.append(("TMPT", (c.idx,)))
                if ps == 1:
                    box = c.pit_lap * L - pin + 0.5 * (pin + pout) + c.box_offset
                    target = min(pit_v, math.sqrt(2 * 7.0 * max(0.0, box - d)))
                    if d >= box - 0.05 or (box - d < 1.5 and c.v < 1.0):
                        c.pit_state = 2
                        c.pit_status = 2
                        c.stop_t = t
                        c.v = c.v_prev = 0.0
                        continue
                elif ps == 2:
                    c.pit_stop_ms = min(65535, int((t - c.stop_t) * 1000))
                    c.pit_lane_ms = min(65535, int((t - c.pit_enter_t) * 1000))
                    if t - c.stop_t >= c.stop_time:
                        self._change_tyres(c, t)
                        c.pit_state = 3
                        c.pit_status = 1
                    else:
                        c.v = c.v_prev = 0.0
                        continue
                elif ps == 3:
                    target = min(target, pit_v)
                    if d >= c.pit_lap * L + pout:
                        c.pit_state = 4
                        c.pit_status = 0
                        c.pit_timer = 0
                        c.out_lap = True
                        c.driver_status = 3
                if c.pit_state in (1, 3):
                    c.pit_lane_ms = min(65535, int((t - c.pit_enter_t) * 1000))
            v0 = c.v
            if target > v0:
                a = a_acc(v0) * (3.0 * pace - 2.0)  # the quicker car also accelerates better
                if d < START_RUN_M and c.laps_done == 0:
                    a *= c.launch  # a good or a bad getaway
                v1 = v0 + (a if a > 1.0 else 1.0) * dt
                if v1 > target:
                    v1 = target
            else:
                v1 = v0 - b_dec(v0) * dt
                if v1 < target:
                    v1 = target
            c.v_prev = v0
            c.v = v1
            c.dist = d + (v0 + v1) * 0.5 * dt
            if not c.finished:
                self._timing(c, d, t)
        self._reorder(t)

    def _timing(self, c: Car, d0: float, t: float) -> None:
        """Checkpoints, sectors, speed trap and line crossings between d0 and c.dist."""
        d1 = c.dist
        if d1 <= d0:
            return
        dt = self.p.dt
        t0 = t - dt
        inv = dt / (d1 - d0)
        cp = c.cp
        k = c.cp_next
        ncp = len(cp)
        while k < ncp and k * CP - CP_OFFSET <= d1:
            cp[k] = t0 + (k * CP - CP_OFFSET - d0) * inv
            k += 1
        c.cp_next = k
        L = self.p.L
        info = self.p.tm.info
        base = c.laps_done * L
        # Sectors.
        if c.sector == 0 and d1 >= base + info.sector2_start_m:
            ts = t0 + (base + info.sector2_start_m - d0) * inv
            c.s1_ms = round((ts - c.lap_start_t) * 1000)
            c.sector_t = ts
            c.sector = 1
            self.history.sector(c, 1, c.s1_ms)
        if c.sector == 1 and d1 >= base + info.sector3_start_m:
            ts = t0 + (base + info.sector3_start_m - d0) * inv
            c.s2_ms = round((ts - c.sector_t) * 1000)
            c.sector_t = ts
            c.sector = 2
            self.history.sector(c, 2, c.s2_ms)
        # Speed trap.
        trap = base + self.p.tm.speed_trap_m
        if d0 < trap <= d1 and c.pit_state in (0, 4) and d0 > 0:
            self._speed_trap(c)
        # The line.
        line = base + L
        if d1 >= line:
            tl = t0 + (line - d0) * inv
            self._lap_complete(c, tl)

    def _speed_trap(self, c: Car) -> None:
        kph = c.v * 3.6
        lap = c.laps_done + 1
        personal = kph > c.st_best
        overall = kph > self.st_best
        if personal:
            c.st_best = kph
            c.st_lap = lap
        if overall:
            self.st_best = kph
            self.st_best_car = c.idx
        if personal or overall:
            self.events.append(
                ("SPTP", (c.idx, kph, 1 if overall else 0, 1 if personal else 0, self.st_best_car, self.st_best))
            )

    def _lap_complete(self, c: Car, tl: float) -> None:
        lap_ms = round((tl - c.lap_start_t) * 1000)
        lap_num = c.laps_done + 1
        s3 = lap_ms - c.s1_ms - c.s2_ms
        valid = not c.invalid
        c.last_lap_ms = lap_ms
        if valid and (c.best_lap_ms == 0 or lap_ms < c.best_lap_ms):
            c.best_lap_ms = lap_ms
            c.best_lap_num = lap_num
        for k, s in enumerate((c.s1_ms, c.s2_ms, s3)):
            if c.best_s[k] == 0 or s < c.best_s[k]:
                c.best_s[k] = s
                c.best_s_lap[k] = lap_num
        self.history.lap(c, lap_num, lap_ms, s3, valid)
        if valid and (self.session_best_ms == 0 or lap_ms < self.session_best_ms):
            self.session_best_ms = lap_ms
            self.session_best_car = c.idx
            self.events.append(("FTLP", (c.idx, lap_ms / 1000.0)))
        c.laps_done = lap_num
        c.lap_start_t = tl
        c.sector_t = tl
        c.sector = 0
        c.s1_ms = c.s2_ms = 0
        c.invalid = 0
        c.harv_k = c.harv_h = c.deployed = 0.0
        c.age_laps += 1
        if c.out_lap:
            c.out_lap = False
            c.driver_status = 4
        noise = self.p.noise[(lap_num * 131 + c.idx * 17) & 4095]
        c.lap_pace = c.pace * GRIP[c.visual] * (1.0 - 0.0006 * c.age_laps + 0.00025 * lap_num) * (1 + 0.0015 * noise)
        c.lap_positions.append(c.position)
        # The flag.
        laps = self.p.cfg.laps
        if not self.leader_done and lap_num >= laps:
            self.leader_done = True
            self.events.append(("CHQF", ()))
            self.events.append(("RCWN", (c.idx,)))
        if self.leader_done:
            c.finished = True
            self.finish_count += 1
            c.finish_seq = self.finish_count
            c.finish_t = tl
            c.finish_laps = lap_num
            c.driver_status = 2
            c.drs_armed = False
            self.history.no_lap_after(c, lap_num)
            if self.finish_count == 1:
                self.t_leader_finish = tl
            if self.finish_count == self.p.n - (self.control.retired is not None):
                self.t_results = tl + 3.0

    def _change_tyres(self, c: Car, t: float) -> None:
        c.num_pit_stops += 1
        old = c.sets[c.fitted_set]
        old[2] = min(100, int(tyre_wear(c, self.p.L)))
        old[8] = 0
        c.stints[-1][0] = c.pit_lap  # the in-lap is the stint's last lap
        c.visual = c.second_visual
        c.actual = self.p.compound_actual[c.visual]
        c.age_laps = 0
        c.wear_base = 0.0
        c.fit_dist = c.dist
        c.wear_rate = WEAR_PER_LAP[c.visual] * (0.9 + 0.2 * (c.idx % 5) / 4)
        c.fitted_set = c.second_set
        c.sets[c.fitted_set][8] = 1
        tyre_set_values(c)
        c.stints.append([255, c.actual, c.visual])
        c.lap_pace = c.pace * GRIP[c.visual]
        self.history.write_stints(c)

    def _reorder(self, t: float) -> None:
        L = self.p.L

        def key(c: Car) -> float:
            if c.retired:  # behind every car still running
                return -1e12 + c.laps_done
            if c.finished:  # classified: laps first, then the order they took the flag
                return c.finish_laps * L + 1.0 - c.finish_seq * 1e-3
            return c.dist

        new = sorted(self.cars, key=key, reverse=True)
        old = self.order
        if new != old:
            if t > self.p.t_lights_out and self.control.sc_phase in (0, 4):
                # Overtakes on track; places changed by a pit stop (a car in the pit lane, braking for it or
                # just rejoining) are not overtakes.
                old_pos = {c.idx: p for p, c in enumerate(old)}
                for p, c in enumerate(new):
                    if old_pos[c.idx] > p and self._on_track(c):
                        for o in new[p + 1 :]:
                            if old_pos[o.idx] < old_pos[c.idx] and self._on_track(o):
                                self.events.append(("OVTK", (c.idx, o.idx)))
            self.order = new
        for p, c in enumerate(self.order, 1):
            c.position = p
        # Gaps (ms) by the timing checkpoints.
        leader = self.order[0]
        front = None
        for c in self.order:
            if c.finished:
                front = c
                continue
            if front is None:
                c.gap_front = c.gap_leader = 0
            else:
                c.gap_front = self._gap_ms(front, c, t)
                c.gap_leader = self._gap_ms(leader, c, t)
            front = c

    def _on_track(self, c: Car) -> bool:
        """Racing on track: not finished, not in (or braking for, or just out of) the pit lane."""
        if c.finished or 0 < c.pit_state < 4:
            return False
        if c.pit_lap:
            d, L, info = c.dist, self.p.L, self.p.tm.info
            if c.pit_state == 0 and c.laps_done + 1 == c.pit_lap and d >= c.pit_lap * L - info.pit_entry_m - 250.0:
                return False
            if c.pit_state == 4 and d < c.pit_lap * L + info.pit_exit_m + 500.0:
                return False
        return True

    def _gap_ms(self, ahead: Car, c: Car, t: float) -> int:
        """How long ago `ahead` was where `c` is now."""
        d = c.dist
        x = (d + CP_OFFSET) / CP
        k = int(x)
        cp = ahead.cp
        if k + 1 < ahead.cp_next:
            t_at = cp[k] + (x - k) * (cp[k + 1] - cp[k])
        else:
            last = ahead.cp_next - 1
            d_last = last * CP - CP_OFFSET
            if ahead.dist > d_last + 1e-6 and d > d_last:
                t_at = cp[last] + (d - d_last) / (ahead.dist - d_last) * (t - cp[last])
            else:
                t_at = cp[min(k, last)]
        gap = int((t - t_at) * 1000)
        return gap if gap > 0 else 0

    # -- race control --------------------------------------------------------------------------------------
