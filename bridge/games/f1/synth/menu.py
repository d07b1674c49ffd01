"""The menu-rate burst: Motion, LapData, CarTelemetry, CarStatus, MotionEx (and CarTelemetry2 in 2026).

Every frame, one record per car from where the car is on the track model (the reference lap's pedals where the
car is on it, else from what it is doing), its drivetrain, DRS, temperatures, energy and fuel.
"""

from __future__ import annotations

from bridge.games.f1.synth.car import (
    ACTIVE,
    FINISHED,
    GEAR_OF_KPH,
    GEAR_TOP_KPH,
    IDLE_RPM,
    INV_DS,
    MAX_RPM,
    RETIRED,
    REV_LIGHTS,
    SHIFT_RPM,
    TYRE_BASE_TEMP,
    Car,
    G,
    a_acc,
    b_dec,
)
from bridge.games.f1.synth.config import Params
from bridge.games.f1.synth.fields import (
    CAR_STATUS,
    CAR_TELEMETRY,
    CAR_TELEMETRY_2,
    LAP_DATA,
    MOTION,
    MOTION_EX,
    MOTION_WIDTH,
    STATUS_WIDTH,
    TELEMETRY2_WIDTH,
    TELEMETRY_WIDTH,
)
from bridge.games.f1.synth.race import Race
from bridge.games.f1.synth.templates import Templates


def i16(x: float) -> int:
    n = round(x)
    return -32768 if n < -32768 else 32767 if n > 32767 else n


class MenuBurst:
    """Writes the burst from the race's state; it also keeps the per-car state only the burst needs (DRS armed
    at the detection point, brake, tyre and engine temperatures, energy harvested and deployed)."""

    def __init__(self, p: Params, templates: Templates, race: Race) -> None:
        self.p, self.templates, self.race = p, templates, race

    def packets(self, t: float) -> list[bytes]:
        """Motion, LapData, CarTelemetry, CarStatus, MotionEx (and CarTelemetry2): one burst, one frame id."""
        p, templates, control = self.p, self.templates, self.race.control
        fmt, tm, L, dt, f = p.fmt, p.tm, p.L, p.dt, templates.frame
        noise, samples, rev = p.noise, tm.samples, REV_LIGHTS
        started = t > p.t_lights_out
        lights_on = t >= p.t_first_light
        tpl, base = templates.tpl, templates.base
        mot, lap, tel, sta = tpl[MOTION], tpl[LAP_DATA], tpl[CAR_TELEMETRY], tpl[CAR_STATUS]
        t2 = tpl.get(CAR_TELEMETRY_2)
        bm, bl, bt, bs = base[MOTION], base[LAP_DATA], base[CAR_TELEMETRY], base[CAR_STATUS]
        bt2 = base.get(CAR_TELEMETRY_2, bm)
        lw = templates.lap_width
        last = tm.n - 1
        sc = control.safety_car_out
        flag = 3 if sc else (1 if t < control.green_until else 0)
        is2023, is2026 = fmt == 2023, fmt == 2026
        ice_max = 400000.0 if is2026 else 575000.0
        k_max = 350000.0 if is2026 else 120000.0
        harvest_cap = 8.5e6 if is2026 else 2.0e6
        pin, pout = tm.info.pit_entry_m, tm.info.pit_exit_m
        laps_total_m = p.cfg.laps * L
        drs_enabled = control.drs_enabled
        for c in self.race.cars:
            i = c.idx
            d = c.dist
            lapd = d % L
            b = int(lapd * INV_DS)
            if b > last:
                b = last
            (x, y, z, rx, rz, fdx, fdy, fdz, rdx, rdy, rdz, yaw, pitch, kap, v_ref, thr_ref, brk_ref, steer_ref,
             kerb, drs_code, drs_dist, aero_code, aero_dist) = samples[b]  # fmt: skip
            v = c.v
            kph = v * 3.6
            acc = (v - c.v_prev) / dt
            nz = noise[(f * 7 + i * 131) & 4095]
            ps = c.pit_state
            in_lane = 0 < ps < 4
            racing = started and not c.finished
            # Pedals: the reference lap's where the car is on it, else from what the car is doing.
            if not started:
                thr = 0.55 + 0.05 * nz if lights_on else 0.0
                brk = 0.0
            elif racing and not sc and not in_lane and -1.5 < v - v_ref * c.lap_pace < 1.5:
                thr, brk = thr_ref, brk_ref
                if 0.0 < thr < 1.0:
                    thr = min(1.0, max(0.05, thr + 0.03 * nz))
            elif acc > 0.3:
                thr = min(1.0, 0.4 + 0.6 * acc / max(1.0, a_acc(v)))
                brk = 0.0
            elif acc < -1.0:
                thr = 0.0
                brk = min(1.0, -acc / b_dec(v))
            else:
                thr = 0.2 + 0.02 * nz if v > 1.0 else 0.0
                brk = 0.0
            # Motion (the pit lane runs 16 m to the right of the track, ramped in and out).
            off = c.lateral
            if in_lane:
                into = d - (c.pit_lap * L - pin)
                left = c.pit_lap * L + pout - d
                off += 16.0 * min(1.0, into / 60.0, max(0.0, left) / 60.0)
            glat = -v * v * kap / G
            glong = acc / G
            gvert = 1.0 + 0.00028 * v * v + 0.05 * nz
            vs = v / 32767.0
            mb = bm[i]
            if is2026:
                mot[mb : mb + MOTION_WIDTH] = (
                    x + rx * off, y, z + rz * off, fdx * vs, fdy * vs, fdz * vs, fdx, fdy, fdz, rdx, rdy, rdz,
                    i16(glat * 1000), i16(glong * 1000), i16(gvert * 1000), yaw, pitch, glat * 0.004,
                )  # fmt: skip
            else:
                mot[mb : mb + MOTION_WIDTH] = (
                    x + rx * off, y, z + rz * off, fdx * vs, fdy * vs, fdz * vs, fdx, fdy, fdz, rdx, rdy, rdz,
                    glat, glong, gvert, yaw, pitch, glat * 0.004,
                )  # fmt: skip
            # Drivetrain: gear from speed, revs up to the shift point, lights from the revs.
            clutch = 0
            if not started:
                gear = 1 if lights_on else 0
                rpm = (10400.0 + 300.0 * nz) if lights_on else IDLE_RPM + 40.0 * nz
                clutch = 100 if lights_on else 0
            elif v < 0.3:
                gear = 0 if ps == 2 else 1
                rpm = IDLE_RPM + 30.0 * nz
            else:
                # Racing, the revs stay high; cruising (safety car, pit lane, in-lap) a gear or two higher.
                ik = int(kph * 1.25) if thr < 0.25 and brk == 0.0 else int(kph)
                gear = GEAR_OF_KPH[ik if ik < 500 else 500]
                rpm = SHIFT_RPM * kph / GEAR_TOP_KPH[gear]
                if gear == 1 and kph < 45.0 and thr > 0.5:  # launch: slipping the clutch
                    rpm = max(rpm, 9200.0 + 40.0 * kph)
                    clutch = int(max(0.0, 60.0 - kph * 1.4))
                if rpm > MAX_RPM:
                    rpm = MAX_RPM
                elif rpm < IDLE_RPM:
                    rpm = IDLE_RPM + 20.0 * nz
            pct, bits = rev[int(rpm)]
            # DRS (overtake mode in 2026): armed within 1 s at the detection run-up, open in the zone.
            if drs_code == 1:
                c.drs_armed = drs_enabled and c.position > 1 and c.gap_front < 1000 and not in_lane and racing
            elif drs_code == 0:
                c.drs_armed = False
            armed = c.drs_armed
            drs_open = 1 if (armed and drs_code == 2 and brk == 0.0 and not is2026) else 0
            act_dist = drs_dist if (armed and drs_code == 1) else 0
            # Temperatures: brakes heat under braking, tyres with the cornering load.
            load = glat if glat > 0.0 else -glat
            if started:
                c.btemp += ((250.0 + brk * (250.0 + 2.0 * kph)) - c.btemp) * (0.9 if brk > 0.0 else 0.25) * dt
                base_t = TYRE_BASE_TEMP[c.visual]
                c.tcore += ((base_t + 4.0 + 1.5 * load) - c.tcore) * 0.02 * dt
                surf = base_t + 1.6 * load + 4.0 * brk + 1.5 * nz
                c.etemp += ((100.0 + 10.0 * thr) - c.etemp) * 0.05 * dt
            else:
                surf = 86.0
            hot_l = 1.5 * load if kap < 0.0 else 0.0  # a right-hand corner loads the left tyres
            hot_r = 1.5 * load if kap > 0.0 else 0.0
            s_rl, s_rr, s_fl, s_fr = surf + hot_l - 1.0, surf + hot_r - 1.0, surf + hot_l + 1.5, surf + hot_r + 1.5
            core, bt_f = c.tcore, c.btemp
            bt_r = bt_f * 0.82
            kerb_l = 1 if kerb and started and not in_lane and kap > 0.0 else 0
            kerb_r = 1 if kerb and started and not in_lane and kap < 0.0 else 0
            tb = bt[i]
            tel[tb : tb + TELEMETRY_WIDTH] = (
                int(kph + 0.5), thr, steer_ref if started else 0.0, brk, clutch, gear, int(rpm), drs_open, pct, bits,
                int(bt_r), int(bt_r + 6.0), int(bt_f), int(bt_f + 9.0),
                int(s_rl), int(s_rr), int(s_fl), int(s_fr),
                int(core - 1.0), int(core - 0.5), int(core + 1.0), int(core + 1.5),
                int(c.etemp),
                21.0 + (s_rl - 88.0) * 0.035, 21.0 + (s_rr - 88.0) * 0.035,
                23.2 + (s_fl - 88.0) * 0.04, 23.2 + (s_fr - 88.0) * 0.04,
                kerb_l, kerb_r, kerb_l, kerb_r,
            )  # fmt: skip
            # Energy: harvest under braking (and MGU-H at full throttle before 2026), deploy on the straights.
            deploying = False
            if racing:
                if brk > 0.05 and c.harv_k < harvest_cap:
                    e = brk * k_max * dt
                    c.harv_k += e
                    c.ers = min(4.0e6, c.ers + e)
                if thr >= 1.0:
                    if v > 50.0 and not is2026:
                        e = 40000.0 * dt
                        c.harv_h += e
                        c.ers = min(4.0e6, c.ers + e)
                    if v > 28.0 and c.ers > 1e5 and c.deployed < 4.0e6:
                        deploying = True
                        e = k_max * dt
                        c.deployed += e
                        c.ers -= e
            fuel = c.fuel_start - (d if d > 0.0 else 0.0) * c.burn_m
            remaining = laps_total_m - d
            fuel_laps = fuel / (c.burn_m * L) - (remaining / L if remaining > 0.0 else 0.0)
            sb = bs[i]
            status = (
                0, 0, 1, c.setup[15], 1 if in_lane and ps != 2 else 0, fuel, 110.0, fuel_laps,
                MAX_RPM, IDLE_RPM, 9, 1 if armed and not is2026 else 0, 0 if is2026 else act_dist,
                c.actual, c.visual, c.age_laps, flag, ice_max * (thr if thr > 0.12 else 0.12),
                k_max if deploying else 0.0, c.ers, 1, c.harv_k, c.harv_h,
            )  # fmt: skip
            if is2026:
                sta[sb : sb + STATUS_WIDTH + 1] = (*status, 8.5e6, c.deployed, 0)
                aero_ok = racing and not sc
                in_aero = aero_ok and aero_code == 1 and brk == 0.0
                tb2 = bt2[i]
                t2[tb2 : tb2 + TELEMETRY2_WIDTH] = (  # type: ignore[index]
                    1 if in_aero else 0, 1 if aero_ok else 0, 0 if in_aero or not aero_ok else aero_dist,
                    1 if armed else 0, 1 if (armed and drs_code == 2) else 0, act_dist, 1, 0,
                )  # fmt: skip
            else:
                sta[sb : sb + STATUS_WIDTH] = (*status, c.deployed, 0)
            # Lap data.
            if c.finished:
                lap_dist = lapd
                cur_ms = int((t - c.finish_t) * 1000)
                lap_num = c.laps_done + 1 if c.retired else c.finish_laps  # a retired car stays on its lap
            else:
                lap_dist = d - c.laps_done * L
                cur_ms = int((t - c.lap_start_t) * 1000) if started else 0
                lap_num = c.laps_done + 1
            s1, s2, gf, gl = c.s1_ms, c.s2_ms, c.gap_front, c.gap_leader
            result = RETIRED if c.retired else FINISHED if c.finished else ACTIVE
            sc_delta = 0.35 * noise[(i * 53 + f) & 4095] if sc else 0.0
            lb = bl[i]
            if is2023:
                lap[lb : lb + lw] = (
                    c.last_lap_ms, cur_ms, s1 % 60000, s1 // 60000, s2 % 60000, s2 // 60000,
                    gf if gf < 65535 else 65535, gl if gl < 65535 else 65535, lap_dist, d, sc_delta,
                    c.position, lap_num, c.pit_status, c.num_pit_stops, c.sector, c.invalid, c.penalties_s, c.warnings,
                    c.cc_warnings, 0, 0, c.grid, c.driver_status, result, c.pit_timer,
                    c.pit_lane_ms, c.pit_stop_ms, 0,
                )  # fmt: skip
            else:
                lap[lb : lb + lw] = (
                    c.last_lap_ms, cur_ms, s1 % 60000, s1 // 60000, s2 % 60000, s2 // 60000,
                    gf % 60000, min(255, gf // 60000), gl % 60000, min(255, gl // 60000), lap_dist, d, sc_delta,
                    c.position, lap_num, c.pit_status, c.num_pit_stops, c.sector, c.invalid, c.penalties_s, c.warnings,
                    c.cc_warnings, 0, 0, c.grid, c.driver_status, result, c.pit_timer,
                    c.pit_lane_ms, c.pit_stop_ms, 0, c.st_best, c.st_lap,
                )  # fmt: skip
        out = [templates.pack(pid) for pid in (MOTION, LAP_DATA, CAR_TELEMETRY, CAR_STATUS)]
        out.append(self._motion_ex(self.race.cars[p.focus]))
        if t2 is not None:
            out.append(templates.pack(CAR_TELEMETRY_2))
        return out

    def _motion_ex(self, c: Car) -> bytes:
        p, templates = self.p, self.templates
        tm, L = p.tm, p.L
        v = templates.tpl[MOTION_EX]
        d = c.dist
        b = min(tm.n - 1, int((d % L) * INV_DS))
        speed = c.v
        acc = (c.v - c.v_prev) / p.dt
        kap = tm.kappa[b]
        nz = p.noise[(templates.frame * 3 + 11) & 4095]
        lat = speed * speed * kap
        down = 0.55 * speed * speed
        vert = [2050.0 + down * 0.27 - lat * 40.0, 2050.0 + down * 0.27 + lat * 40.0,
                1900.0 + down * 0.23 - lat * 35.0, 1900.0 + down * 0.23 + lat * 35.0]  # fmt: skip
        susp = [round(8.0 + w / 180.0, 3) for w in vert]
        slip = 0.02 * min(1.0, abs(acc) / 12.0) + 0.002 * nz
        steer_rad = tm.steer[b] * 0.32 if templates.t > p.t_lights_out else 0.0
        body: list[float] = [
            *susp,
            *(2.0 * nz, -2.0 * nz, 1.5 * nz, -1.5 * nz),
            *(40.0 * nz, -40.0 * nz, 30.0 * nz, -30.0 * nz),
            *(speed * (1 + slip), speed * (1 + slip), speed, speed),
            *(slip, slip, slip * 0.5, slip * 0.5),
            *(kap * 2.0, kap * 2.0, kap * 2.6, kap * 2.6),
            *(lat * 180.0, lat * 180.0, lat * 160.0, lat * 160.0),
            *(acc * 190.0, acc * 190.0, acc * 60.0, acc * 60.0),
            0.27 - 0.000004 * speed * speed,
            0.02 * nz,
            0.0,
            speed,
            0.002 * nz,
            speed * kap,
            0.001 * nz,
            0.01 * nz,
            0.0,
            0.02 * nz,
            steer_rad,
            *vert,
        ]
        if p.fmt >= 2024:
            body += [0.035 - 0.0000015 * speed * speed, 0.07 - 0.000002 * speed * speed, lat * 0.0004, lat * 0.0003,
                     0.004 * nz]  # fmt: skip
        if p.fmt >= 2025:
            body += [0.002 * acc / 10.0, -0.05, -0.05, -0.035, -0.035, 0.002 * nz, 0.002 * nz, 0.001, 0.001]
        v[12 : 12 + len(body)] = body
        return templates.pack(MOTION_EX)
