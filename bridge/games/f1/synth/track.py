"""The track model: a closed loop derived from the track id, its speed profile and zones, cached per track."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random
from typing import Any

from bridge.games.f1.synth.car import DS, INV_DS, V_TOP, G, a_acc, b_dec
from bridge.games.f1.tracks import TRACKS, TrackInfo


@dataclass(eq=False)
class TrackModel:
    info: TrackInfo
    length: float
    n: int  # samples
    x: list[float]
    y: list[float]
    z: list[float]
    rx: list[float]  # right vector (unit, horizontal)
    rz: list[float]
    fwd_i16: list[tuple[int, int, int, int, int, int]]  # forward and right direction as i16
    yaw: list[float]
    pitch: list[float]
    kappa: list[float]  # signed curvature, 1/m (positive = left)
    v: list[float]  # reference speed profile, m/s
    throttle: list[float]
    brake: list[float]
    steer: list[float]
    kerb: list[int]  # 1 on the apex kerb of slow corners
    drs_code: list[int]  # 0 none, 1 DRS detection run-up, 2 DRS zone
    drs_dist: list[int]  # metres to the next DRS zone start (detection run-up only)
    aero_code: list[int]  # 2026 straight-mode zones: 1 inside a zone
    aero_dist: list[int]  # metres to the next straight-mode zone
    drs_zones: list[tuple[float, float]]  # (start m, end m)
    aero_zones: list[tuple[float, float]]
    speed_trap_m: float
    lap_time_s: float  # reference lap at pace 1.0
    marshal_zones: list[float] = field(default_factory=list)
    samples: list[tuple[Any, ...]] = field(default_factory=list, repr=False)  # everything per sample, for the hot loop

    def __post_init__(self) -> None:
        self.samples = [
            (
                self.x[i], self.y[i], self.z[i], self.rx[i], self.rz[i], *self.fwd_i16[i], self.yaw[i], self.pitch[i],
                self.kappa[i], self.v[i], self.throttle[i], self.brake[i], self.steer[i], self.kerb[i],
                self.drs_code[i], self.drs_dist[i], self.aero_code[i], self.aero_dist[i],
            )
            for i in range(self.n)
        ]  # fmt: skip


def _polygon(track_id: int, length: float) -> tuple[Random, list[tuple[float, float]]]:
    rng = Random(7919 * (track_id + 11))
    k = max(9, min(18, round(length / 380)))
    aspect = rng.uniform(0.45, 0.85)
    rot = rng.uniform(0, 2 * math.pi)
    pts = []
    for i in range(k):
        a = 2 * math.pi * (i + rng.uniform(-0.3, 0.3)) / k
        r = rng.uniform(0.45, 1.0)
        x, y = r * math.cos(a), aspect * r * math.sin(a)
        pts.append((x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)))
    return rng, pts


def _layout_loop(track_id: int, length: float) -> list[tuple[float, float, float, float]]:
    """A closed loop of the exact length: straights between polygon corners, each corner an arc.

    Returns (x, y, heading, curvature) every 0.5 m, starting on the longest straight.
    """
    rng, pts = _polygon(track_id, length)
    k = len(pts)
    edges = []
    for i in range(k):
        (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % k]
        d = math.hypot(x1 - x0, y1 - y0)
        edges.append((d, (x1 - x0) / d, (y1 - y0) / d))
    defl = []
    for i in range(k):
        _, ax, ay = edges[i - 1]
        _, bx, by = edges[i]
        defl.append(math.atan2(ax * by - ay * bx, ax * bx + ay * by))
    radii = []
    for d in defl:
        deg = math.degrees(abs(d))
        if deg < 20:
            radii.append(rng.uniform(150, 400))
        elif deg < 50:
            radii.append(rng.uniform(40, 250))
        elif deg < 90:
            radii.append(rng.uniform(22, 110))
        else:
            radii.append(rng.uniform(13, 35))
    scale = 1.0
    tans: list[float] = []
    for _ in range(80):
        tans = [radii[i] * math.tan(abs(defl[i]) / 2) for i in range(k)]
        arcs = sum(radii[i] * abs(defl[i]) for i in range(k))
        scale = (length - arcs + 2 * sum(tans)) / sum(e[0] for e in edges)
        fits = True
        for i in range(k):
            if scale * edges[i][0] - tans[i] - tans[(i + 1) % k] < 30:
                fits = False
                radii[i] *= 0.85
                radii[(i + 1) % k] *= 0.85
        if fits:
            break
    # Pieces in driving order: straight i (corner i -> corner i+1), then the arc of corner i+1.
    pieces: list[tuple[float, float]] = []  # (length, curvature)
    for i in range(k):
        pieces.append((scale * edges[i][0] - tans[i] - tans[(i + 1) % k], 0.0))
        j = (i + 1) % k
        pieces.append((radii[j] * abs(defl[j]), math.copysign(1.0 / radii[j], defl[j])))
    # Start 40 % into the longest straight.
    longest = max(range(0, len(pieces), 2), key=lambda p: pieces[p][0])
    x = scale * pts[0][0] + edges[0][1] * tans[0]
    y = scale * pts[0][1] + edges[0][2] * tans[0]
    h = math.atan2(edges[0][2], edges[0][1])
    raw: list[tuple[float, float, float, float]] = []
    start_index = 0
    for p, (plen, kap) in enumerate(pieces):
        m = max(1, round(plen / 0.5))
        st = plen / m
        if p == longest:
            start_index = len(raw) + int(m * 0.4)
        for _ in range(m):
            raw.append((x, y, h, kap))
            x += math.cos(h + kap * st / 2) * st
            y += math.sin(h + kap * st / 2) * st
            h += kap * st
    raw = raw[start_index:] + raw[:start_index]
    return raw


def _profile(kappa: list[float], mu: float) -> list[float]:
    """Speed profile: corner limit from the curvature (grip grows with downforce), then accel/brake passes."""
    c = 5.3e-4
    gc = G * c
    cap = []
    for kap in kappa:
        ak = abs(kap)
        cap.append(V_TOP if ak <= gc else min(V_TOP, math.sqrt(G * mu / (ak - gc))))
    n = len(cap)
    start = min(range(n), key=cap.__getitem__)
    v = cap[:]
    cur = cap[start]
    for step in range(1, n + 1):
        i = (start + step) % n
        cur = min(cap[i], math.sqrt(cur * cur + 2.0 * max(0.0, a_acc(cur)) * DS))
        v[i] = cur
    cur = v[start]
    for step in range(1, n + 1):
        i = (start - step) % n
        cur = min(v[i], math.sqrt(cur * cur + 2.0 * b_dec(cur) * DS))
        v[i] = cur
    return v


def _segments(flags: list[bool]) -> list[tuple[int, int]]:
    """Runs of True in a circular list: (start, length)."""
    n = len(flags)
    if all(flags):
        return [(0, n)]
    first = next(i for i in range(n) if not flags[i])
    out = []
    run_start = -1
    for step in range(1, n + 1):
        i = (first + step) % n
        if flags[i] and run_start < 0:
            run_start = step
        elif not flags[i] and run_start >= 0:
            out.append(((first + run_start) % n, step - run_start))
            run_start = -1
    return out


def _mark_zone(code: list[int], start_m: float, end_m: float, value: int) -> int:
    """Set `value` on the samples of a zone (it may wrap past the line); returns the zone's first sample."""
    n = len(code)
    b0, b1 = int(start_m * INV_DS), int(end_m * INV_DS)
    i = b0
    while i != b1:
        code[i] = value
        i = (i + 1) % n
    return b0


@lru_cache(maxsize=64)
def track_model(track_id: int) -> TrackModel:
    """The synthetic model of one track (shape derived from the id, so stable across runs)."""
    info = TRACKS[track_id]
    length = float(info.length_m)
    raw = _layout_loop(track_id, length)
    n = int(length // DS)
    per = len(raw) / length  # raw samples per metre
    rng = Random(104729 * (track_id + 3))
    e1, e2 = rng.uniform(2.0, 12.0), rng.uniform(0.5, 4.0)
    p1, p2 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    ox, oz = rng.uniform(-300, 300), rng.uniform(-300, 300)
    x, y, z, rx, rz, yaw, pitch, kappa, fwd = [], [], [], [], [], [], [], [], []
    for i in range(n):
        s = (i + 0.5) * DS
        j = min(len(raw) - 1, int(s * per))
        px, py, h, kap = raw[j]
        w = 2 * math.pi * s / length
        elev = e1 * math.sin(w + p1) + e2 * math.sin(3 * w + p2)
        slope = (e1 * math.cos(w + p1) + 3 * e2 * math.cos(3 * w + p2)) * 2 * math.pi / length
        fx, fz = math.cos(h), math.sin(h)  # world X = loop x, world Z = loop y
        x.append(px + ox)
        z.append(py + oz)
        y.append(elev)
        # Right-hand vector in the horizontal plane (left turns have positive curvature).
        rx.append(fz)
        rz.append(-fx)
        pt = math.atan(slope)
        cp_ = math.cos(pt)
        fwd.append(
            (
                round(fx * cp_ * 32767),
                round(math.sin(pt) * 32767),
                round(fz * cp_ * 32767),
                round(fz * 32767),
                0,
                round(-fx * 32767),
            )
        )
        yaw.append(math.atan2(fx, fz))
        pitch.append(pt)
        kappa.append(kap)
    # Grip calibrated (secant steps) so the reference lap is close to the track's typical race lap.
    target = info.race_lap_s

    def lap_time(mu: float) -> float:
        return sum(DS / v for v in _profile(kappa, mu))

    lo, hi = 1.0, 4.0
    t_lo, t_hi = lap_time(lo), lap_time(hi)
    mu = 2.0
    if target >= t_lo:
        mu = lo
    elif target <= t_hi:
        mu = hi
    else:
        for _ in range(5):
            mu = lo + (hi - lo) * (t_lo - target) / (t_lo - t_hi)
            t = lap_time(mu)
            if abs(t - target) < 0.2:
                break
            if t > target:
                lo, t_lo = mu, t
            else:
                hi, t_hi = mu, t
    v = _profile(kappa, mu)
    lap_s = sum(DS / s for s in v)
    throttle, brake, steer, kerb = [], [], [], []
    for i in range(n):
        vi, vn = v[i], v[(i + 1) % n]
        kap = kappa[i]
        if vn < vi - 1e-6:
            decel = (vi * vi - vn * vn) / (2 * DS)
            throttle.append(0.0)
            brake.append(min(1.0, max(0.08, decel / b_dec(vi))))
        else:
            acc = (vn * vn - vi * vi) / (2 * DS)
            a_max = max(0.5, a_acc(vi))
            if abs(kap) < 2e-3 or vi >= V_TOP - 0.5:
                thr = 1.0
            elif acc > 0.05:
                thr = min(1.0, 0.45 + 0.55 * acc / a_max)
            else:
                thr = min(1.0, 0.3 + 0.5 * vi / V_TOP)
            throttle.append(thr)
            brake.append(0.0)
        steer.append(max(-1.0, min(1.0, -kap * 3.6 / 0.32)))
        kerb.append(1 if abs(kap) > 1 / 45 and v[i] <= min(v[i - 1], vn) + 0.3 else 0)
    # Straights: full throttle, nearly straight, at least 300 m.
    flat = [throttle[i] >= 1.0 and brake[i] == 0.0 and abs(kappa[i]) < 4e-3 for i in range(n)]
    runs = sorted(_segments(flat), key=lambda s: -s[1])
    straights = [s for s in runs if s[1] * DS >= 300] or runs[:1]

    def zone(s0: int, ln: int, lead: float, tail: float) -> tuple[float, float]:
        m = ln * DS
        return ((s0 * DS + min(lead, 0.3 * m)) % length, ((s0 + ln) * DS - min(tail, 0.1 * m)) % length)

    aero_zones = [zone(s0, ln, 60.0, 20.0) for s0, ln in straights[:8]]
    drs_zones = [zone(s0, ln, 120.0, 30.0) for s0, ln in straights[:2]]
    drs_code, drs_dist = [0] * n, [0] * n
    for start_m, end_m in drs_zones:
        b0 = _mark_zone(drs_code, start_m, end_m, 2)
        for back in range(1, int(250 * INV_DS)):  # detection run-up: 250 m before the zone
            i = (b0 - back) % n
            if drs_code[i] == 0:
                drs_code[i] = 1
                drs_dist[i] = int(back * DS)
    aero_code, aero_dist = [0] * n, [0] * n
    for start_m, end_m in aero_zones:
        _mark_zone(aero_code, start_m, end_m, 1)
    nxt = -1
    for step in range(2 * n):  # distance to the next zone start, walking backwards twice round
        i = (-step) % n
        if aero_code[i] and not aero_code[(i - 1) % n]:
            nxt = i
        if not aero_code[i] and nxt >= 0:
            aero_dist[i] = int(((nxt - i) % n) * DS)
    if straights:
        s0, ln = straights[0]
        best = max(range(ln), key=lambda k: v[(s0 + k) % n])
        trap = ((s0 + best) % n) * DS
    else:
        trap = float(max(range(n), key=v.__getitem__)) * DS
    zones = max(8, min(21, int(length // 280)))
    return TrackModel(
        info=info,
        length=length,
        n=n,
        x=x,
        y=y,
        z=z,
        rx=rx,
        rz=rz,
        fwd_i16=fwd,
        yaw=yaw,
        pitch=pitch,
        kappa=kappa,
        v=v,
        throttle=throttle,
        brake=brake,
        steer=steer,
        kerb=kerb,
        drs_code=drs_code,
        drs_dist=drs_dist,
        aero_code=aero_code,
        aero_dist=aero_dist,
        drs_zones=drs_zones,
        aero_zones=aero_zones,
        speed_trap_m=trap,
        lap_time_s=lap_s,
        marshal_zones=[round(k / zones, 4) for k in range(zones)],
    )

