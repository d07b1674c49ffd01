"""A synthetic F1 race: real datagrams, encoded with the decoder's own layouts, for any supported format.

`SyntheticRace(SynthConfig(...))` plays a whole race session (grid, start lights, laps, one safety car phase,
one pit stop per car, overtakes, chequered flag, results) and yields the datagrams the game would send, in send
order, each with its send time. The same seed gives the same bytes.

The race: each car follows the track's speed profile scaled by its pace (team, driver, tyre compound and age,
fuel, a little noise per lap); within about half a second of the car ahead it loses time (dirty air), so
overtakes come from DRS, a much quicker car, the start or the pit stops. The safety car queues the field up
(gaps shrink); every car stops once in the middle third of the race (pitStatus 1 -> 2 -> 1 -> 0, new compound,
tyre age reset, a second stint). F1 26 cars (format 2026) have active aero and overtake mode
(CarTelemetry2) instead of DRS.

How it stays cheap enough for 60 Hz in real time:

* the track is modelled once per track id (cached): a closed loop of straights and arcs sampled every 2 m, with
  a speed profile (corner speeds from the radius, acceleration and braking limits) and everything the telemetry
  needs per sample precomputed (position, direction vectors, throttle, brake, steering, DRS zones...);
* each packet type has one template: the flat value list of `blank_values()`; per frame only the values that
  change are written, per car record by one slice assignment at a precomputed `layout.index(...)`, and the
  datagram is `layout.struct.pack(*values)`. Record field orders are checked against the layouts at start.

Timing follows the game (spec section 3): the menu-rate packets (Motion, LapData, CarTelemetry, CarStatus,
MotionEx, and CarTelemetry2 in format 2026) go out together on every frame with one `frameIdentifier`; Session
and CarSetups 2/s, Participants every 5 s, CarDamage 10/s, SessionHistory and TyreSets 20/s (one car per
packet, cycling), LapPositions 1/s (2025+; two packets from 51 laps). CarTelemetry2 (2026) is sent with the
menu-rate burst (its real rate is not documented). The first frame carries every initialising packet. After
the last car takes the flag: FinalClassification (once; the game repeats it on the results screen), a
SessionHistory burst for every car, then SEND (sent, as the game does, with `frameIdentifier` 0).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random
from typing import Any

from bridge.games.f1 import enums
from bridge.games.f1.codec import blank_values, header_values
from bridge.games.f1.layouts import (
    EVENT_DETAILS_SIZE,
    EVENT_PACKET_ID,
    LAYOUTS,
    SUPPORTED_FORMATS,
    PacketLayout,
    Record,
)
from bridge.games.f1.tracks import TRACKS, TrackInfo, tracks_for

__all__ = ["Datagram", "SynthConfig", "SyntheticRace", "race", "RATES"]

RATES = (10, 20, 30, 60)

MOTION, SESSION, LAP_DATA, EVENT, PARTICIPANTS, CAR_SETUPS, CAR_TELEMETRY, CAR_STATUS = 0, 1, 2, 3, 4, 5, 6, 7
FINAL_CLASSIFICATION, CAR_DAMAGE, SESSION_HISTORY, TYRE_SETS, MOTION_EX = 8, 10, 11, 12, 13
LAP_POSITIONS, CAR_TELEMETRY_2 = 15, 16

# Packets not tied to the menu rate: (id, packets per 10 s, phase). Phase 1.0 = sent on the very first frame.
PERIODIC = (
    (SESSION, 20, 1.0),
    (PARTICIPANTS, 2, 1.0),
    (CAR_SETUPS, 20, 1.0),
    (CAR_DAMAGE, 100, 1.0),
    (SESSION_HISTORY, 200, 0.5),
    (TYRE_SETS, 200, 0.25),
    (LAP_POSITIONS, 10, 0.5),
)

GAME_VERSION = {2023: (1, 21), 2024: (1, 17), 2025: (1, 20), 2026: (1, 20)}

# ---------------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class SynthConfig:
    packet_format: int = 2025
    cars: int = 22  # 2..22 (2..24 for format 2026)
    rate_hz: int = 60  # menu send rate: 10, 20, 30 or 60
    laps: int = 5
    track_id: int | None = None  # None: pick a real track for the format (seeded)
    seed: int = 1
    player_index: int = 0  # 255 = spectating (no player car)
    safety_car: bool = True  # one safety car phase mid-race (2024+ sends SCAR events; 2023 just safetyCarStatus)
    pit_stops: bool = True  # every car pits once (tyre change, pitStatus 1->2->1->0, numPitStops, stint history)
    session_uid: int | None = None  # None: derived from the seed (non-zero)

    def __post_init__(self) -> None:
        if self.packet_format not in SUPPORTED_FORMATS:
            raise ValueError(f"packet_format {self.packet_format} not supported (one of {SUPPORTED_FORMATS})")
        slots = LAYOUTS.num_cars[self.packet_format]
        if not 2 <= self.cars <= slots:
            raise ValueError(f"cars must be 2..{slots} in format {self.packet_format} (got {self.cars})")
        if self.rate_hz not in RATES:
            raise ValueError(f"rate_hz must be one of {RATES} (got {self.rate_hz})")
        if not 1 <= self.laps <= 100:
            raise ValueError(f"laps must be 1..100 (got {self.laps})")
        if self.track_id is not None:
            if self.track_id not in TRACKS or self.track_id not in enums.table("trackId", self.packet_format):
                raise ValueError(f"track_id {self.track_id} is not a track of format {self.packet_format}")
        if self.player_index != 255 and not 0 <= self.player_index < self.cars:
            raise ValueError(f"player_index must be 0..{self.cars - 1} or 255 (got {self.player_index})")
        if self.session_uid is not None and not 0 < self.session_uid < 2**64:
            raise ValueError("session_uid must be a non-zero u64")


@dataclass(frozen=True, slots=True)
class Datagram:
    t: float  # seconds since the start of the session (the send time)
    data: bytes


# ---------------------------------------------------------------------------------------------------------
# Entry lists: (driverId, teamId, raceNumber, nationality label, name), strongest team first.

_GRID_2023 = (
    (9, 2, 1, "Dutch", "VERSTAPPEN"), (14, 2, 11, "Mexican", "PÉREZ"),
    (7, 0, 44, "British", "HAMILTON"), (50, 0, 63, "British", "RUSSELL"),
    (58, 1, 16, "Monegasque", "LECLERC"), (0, 1, 55, "Spanish", "SAINZ"),
    (3, 4, 14, "Spanish", "ALONSO"), (19, 4, 18, "Canadian", "STROLL"),
    (54, 8, 4, "British", "NORRIS"), (112, 8, 81, "Australian", "PIASTRI"),
    (17, 5, 31, "French", "OCON"), (59, 5, 10, "French", "GASLY"),
    (62, 3, 23, "Thai", "ALBON"), (132, 3, 2, "American", "SARGEANT"),
    (94, 6, 22, "Japanese", "TSUNODA"), (48, 6, 21, "Dutch", "DE VRIES"),
    (15, 9, 77, "Finnish", "BOTTAS"), (80, 9, 24, "Chinese", "ZHOU"),
    (10, 7, 27, "German", "HÜLKENBERG"), (11, 7, 20, "Danish", "MAGNUSSEN"),
    (20, 104, 7, "British", "BARNES"), (21, 104, 9, "British", "GILES"),
)  # fmt: skip
_GRID_2024 = (
    (9, 2, 1, "Dutch", "VERSTAPPEN"), (14, 2, 11, "Mexican", "PÉREZ"),
    (54, 8, 4, "British", "NORRIS"), (112, 8, 81, "Australian", "PIASTRI"),
    (58, 1, 16, "Monegasque", "LECLERC"), (0, 1, 55, "Spanish", "SAINZ"),
    (7, 0, 44, "British", "HAMILTON"), (50, 0, 63, "British", "RUSSELL"),
    (3, 4, 14, "Spanish", "ALONSO"), (19, 4, 18, "Canadian", "STROLL"),
    (94, 6, 22, "Japanese", "TSUNODA"), (2, 6, 3, "Australian", "RICCIARDO"),
    (10, 7, 27, "German", "HÜLKENBERG"), (11, 7, 20, "Danish", "MAGNUSSEN"),
    (59, 5, 10, "French", "GASLY"), (17, 5, 31, "French", "OCON"),
    (62, 3, 23, "Thai", "ALBON"), (132, 3, 2, "American", "SARGEANT"),
    (15, 9, 77, "Finnish", "BOTTAS"), (80, 9, 24, "Chinese", "ZHOU"),
    (20, 104, 7, "British", "BARNES"), (21, 104, 9, "British", "GILES"),
)  # fmt: skip
_GRID_2025 = (
    (54, 8, 4, "British", "NORRIS"), (112, 8, 81, "Australian", "PIASTRI"),
    (58, 1, 16, "Monegasque", "LECLERC"), (7, 1, 44, "British", "HAMILTON"),
    (9, 2, 1, "Dutch", "VERSTAPPEN"), (94, 2, 22, "Japanese", "TSUNODA"),
    (50, 0, 63, "British", "RUSSELL"), (165, 0, 12, "Italian", "ANTONELLI"),
    (62, 3, 23, "Thai", "ALBON"), (0, 3, 55, "Spanish", "SAINZ"),
    (149, 6, 6, "French", "HADJAR"), (113, 6, 30, "New Zealander", "LAWSON"),
    (3, 4, 14, "Spanish", "ALONSO"), (19, 4, 18, "Canadian", "STROLL"),
    (17, 7, 31, "French", "OCON"), (147, 7, 87, "British", "BEARMAN"),
    (10, 9, 27, "German", "HÜLKENBERG"), (161, 9, 5, "Brazilian", "BORTOLETO"),
    (59, 5, 10, "French", "GASLY"), (162, 5, 43, "Argentinean", "COLAPINTO"),
    (170, 154, 7, "American", "HAYES"), (171, 154, 9, "British", "PEARCE"),
)  # fmt: skip
_GRID_2026 = (
    (54, 484, 1, "British", "NORRIS"), (112, 484, 81, "Australian", "PIASTRI"),
    (50, 476, 63, "British", "RUSSELL"), (165, 476, 12, "Italian", "ANTONELLI"),
    (58, 477, 16, "Monegasque", "LECLERC"), (7, 477, 44, "British", "HAMILTON"),
    (9, 478, 3, "Dutch", "VERSTAPPEN"), (149, 478, 6, "French", "HADJAR"),
    (62, 479, 23, "Thai", "ALBON"), (0, 479, 55, "Spanish", "SAINZ"),
    (113, 482, 30, "New Zealander", "LAWSON"), (188, 482, 41, "British", "LINDBLAD"),
    (3, 480, 14, "Spanish", "ALONSO"), (19, 480, 18, "Canadian", "STROLL"),
    (17, 483, 31, "French", "OCON"), (147, 483, 87, "British", "BEARMAN"),
    (10, 485, 27, "German", "HÜLKENBERG"), (161, 485, 5, "Brazilian", "BORTOLETO"),
    (59, 481, 10, "French", "GASLY"), (162, 481, 43, "Argentinean", "COLAPINTO"),
    (14, 486, 11, "Mexican", "PÉREZ"), (15, 486, 77, "Finnish", "BOTTAS"),
    (170, 154, 7, "American", "HAYES"), (171, 154, 9, "British", "PEARCE"),
)  # fmt: skip
GRIDS = {2023: _GRID_2023, 2024: _GRID_2024, 2025: _GRID_2025, 2026: _GRID_2026}

_COLOURS = {
    "mercedes": ((0, 210, 190), (20, 20, 20)),
    "ferrari": ((220, 0, 0), (255, 235, 0)),
    "red bull": ((30, 65, 255), (255, 30, 40)),
    "williams": ((0, 90, 255), (255, 255, 255)),
    "aston martin": ((0, 111, 98), (206, 220, 0)),
    "alpine": ((255, 135, 188), (0, 147, 204)),
    "rb": ((102, 146, 255), (255, 255, 255)),
    "haas": ((182, 186, 189), (220, 0, 0)),
    "mclaren": ((255, 128, 0), (20, 20, 20)),
    "sauber": ((82, 226, 82), (20, 20, 20)),
    "audi": ((187, 187, 187), (200, 0, 0)),
    "cadillac": ((30, 30, 30), (255, 215, 0)),
    "apxgp": ((10, 10, 10), (255, 215, 0)),
}


def _team_colours(label: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    low = label.lower()
    for key in sorted(_COLOURS, key=len, reverse=True):
        if low.startswith(key):
            return _COLOURS[key]
    return ((255, 255, 255), (40, 40, 40))


def _race_session_type(fmt: int) -> int:
    return 10 if fmt == 2023 else 15


# ---------------------------------------------------------------------------------------------------------
# Car model constants

G = 9.81
DS = 2.0  # track sample spacing, m
INV_DS = 1.0 / DS
V_TOP = 93.0  # m/s, drag-limited top speed (~335 km/h)
GEAR_TOP_KPH = (0, 100, 140, 172, 203, 234, 265, 296, 330)  # speed at the shift point in each gear
SHIFT_RPM = 11900
MAX_RPM = 13000
IDLE_RPM = 4000
REV_START_RPM = 10000  # first rev light
GRID_SPACING = 8.0
SC_V = 55.0  # safety car pace on the straights, m/s
SC_CATCH_V = 70.0  # cars closing up to the queue
SC_SPACING = 25.0  # m between cars in the safety-car queue
START_RUN_M = 250.0  # the launch matters until here
DRS_GAIN = 1.025  # top speed with the flap open
CP = 20.0  # timing checkpoint spacing for gaps, m
CP_OFFSET = 400.0  # checkpoints start this far behind the line (the grid)


def _a_acc(v: float) -> float:
    """Acceleration limit (traction, power, drag), m/s²."""
    return min(13.5, 950.0 / (v + 1.0)) - 1.15e-3 * v * v


def _b_dec(v: float) -> float:
    """Braking limit (grows with downforce), m/s²."""
    return G * (2.2 + 3.0 * (v / 90.0) ** 2) + 1.15e-3 * v * v


def _rev_lights(rpm: float) -> tuple[int, int]:
    """(revLightsPercent, revLightsBitValue): 15 LEDs lit from the left (bit 0), full at the shift point."""
    pct = int((rpm - REV_START_RPM) * 100.0 / (SHIFT_RPM - REV_START_RPM) + 0.5)
    pct = 0 if pct < 0 else 100 if pct > 100 else pct
    leds = (pct * 15 + 50) // 100
    return pct, (1 << leds) - 1


REV_LIGHTS = [_rev_lights(rpm) for rpm in range(MAX_RPM + 1)]


def _gear_table() -> list[int]:
    """Gear for each whole km/h."""
    out = []
    for kph in range(0, 501):
        g = 1
        while g < 8 and kph > GEAR_TOP_KPH[g]:
            g += 1
        out.append(g)
    return out


GEAR_OF_KPH = _gear_table()

# ---------------------------------------------------------------------------------------------------------
# Track model: geometry, speed profile, zones (cached per track id)


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
    samples: list[tuple] = field(default_factory=list, repr=False)  # everything per sample, for the hot loop

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
        m = max(1, int(round(plen / 0.5)))
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
        cur = min(cap[i], math.sqrt(cur * cur + 2.0 * max(0.0, _a_acc(cur)) * DS))
        v[i] = cur
    cur = v[start]
    for step in range(1, n + 1):
        i = (start - step) % n
        cur = min(v[i], math.sqrt(cur * cur + 2.0 * _b_dec(cur) * DS))
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
                int(round(fx * cp_ * 32767)),
                int(round(math.sin(pt) * 32767)),
                int(round(fz * cp_ * 32767)),
                int(round(fz * 32767)),
                0,
                int(round(-fx * 32767)),
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
            brake.append(min(1.0, max(0.08, decel / _b_dec(vi))))
        else:
            acc = (vn * vn - vi * vi) / (2 * DS)
            a_max = max(0.5, _a_acc(vi))
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
        b0, b1 = int(start_m * INV_DS), int(end_m * INV_DS)
        i = b0
        while i != b1:
            drs_code[i] = 2
            i = (i + 1) % n
        for back in range(1, int(250 * INV_DS)):  # detection run-up: 250 m before the zone
            i = (b0 - back) % n
            if drs_code[i] == 0:
                drs_code[i] = 1
                drs_dist[i] = int(back * DS)
    aero_code, aero_dist = [0] * n, [0] * n
    for start_m, end_m in aero_zones:
        b0, b1 = int(start_m * INV_DS), int(end_m * INV_DS)
        i = b0
        while i != b1:
            aero_code[i] = 1
            i = (i + 1) % n
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


# ---------------------------------------------------------------------------------------------------------
# Layout helpers


def _names(record: Record) -> list[str]:
    """Field names of a record, one per flat value (arrays repeat their name)."""
    out: list[str] = []
    for f in record.fields:
        if f.record is not None:
            for _ in range(f.count):
                out.extend(_names(f.record))
        else:
            out.extend([f.name] * (1 if f.type == "s" else f.count))
    return out


def _expect(layout: PacketLayout, array_name: str | None, names: tuple[str, ...]) -> None:
    """The per-car record (or the body) must have exactly these flat fields, in this order."""
    if array_name is None:
        got = _names(layout.record)[12:]
    else:
        rec = layout.record[array_name].record
        assert rec is not None
        got = _names(rec)
    if tuple(got) != names:
        raise AssertionError(f"{layout.format}/{layout.name}: record order {got} is not {names}")


def _w(name: str, n: int = 4) -> tuple[str, ...]:
    return (name,) * n


MOTION_FIELDS = (
    "worldPositionX", "worldPositionY", "worldPositionZ", "worldVelocityX", "worldVelocityY", "worldVelocityZ",
    "worldForwardDirX", "worldForwardDirY", "worldForwardDirZ", "worldRightDirX", "worldRightDirY",
    "worldRightDirZ", "gForceLateral", "gForceLongitudinal", "gForceVertical", "yaw", "pitch", "roll",
)  # fmt: skip
LAP_FIELDS_2023 = (
    "lastLapTimeInMS", "currentLapTimeInMS", "sector1TimeInMS", "sector1TimeMinutes", "sector2TimeInMS",
    "sector2TimeMinutes", "deltaToCarInFrontInMS", "deltaToRaceLeaderInMS", "lapDistance", "totalDistance",
    "safetyCarDelta", "carPosition", "currentLapNum", "pitStatus", "numPitStops", "sector", "currentLapInvalid",
    "penalties", "totalWarnings", "cornerCuttingWarnings", "numUnservedDriveThroughPens", "numUnservedStopGoPens",
    "gridPosition", "driverStatus", "resultStatus", "pitLaneTimerActive", "pitLaneTimeInLaneInMS",
    "pitStopTimerInMS", "pitStopShouldServePen",
)  # fmt: skip
LAP_FIELDS_2024 = (
    "lastLapTimeInMS", "currentLapTimeInMS", "sector1TimeMSPart", "sector1TimeMinutesPart", "sector2TimeMSPart",
    "sector2TimeMinutesPart", "deltaToCarInFrontMSPart", "deltaToCarInFrontMinutesPart", "deltaToRaceLeaderMSPart",
    "deltaToRaceLeaderMinutesPart", "lapDistance", "totalDistance", "safetyCarDelta", "carPosition",
    "currentLapNum", "pitStatus", "numPitStops", "sector", "currentLapInvalid", "penalties", "totalWarnings",
    "cornerCuttingWarnings", "numUnservedDriveThroughPens", "numUnservedStopGoPens", "gridPosition",
    "driverStatus", "resultStatus", "pitLaneTimerActive", "pitLaneTimeInLaneInMS", "pitStopTimerInMS",
    "pitStopShouldServePen", "speedTrapFastestSpeed", "speedTrapFastestLap",
)  # fmt: skip
TELEMETRY_FIELDS = (
    "speed", "throttle", "steer", "brake", "clutch", "gear", "engineRPM", "drs", "revLightsPercent",
    "revLightsBitValue", *_w("brakesTemperature"), *_w("tyresSurfaceTemperature"), *_w("tyresInnerTemperature"),
    "engineTemperature", *_w("tyresPressure"), *_w("surfaceType"),
)  # fmt: skip
_STATUS_HEAD = (
    "tractionControl", "antiLockBrakes", "fuelMix", "frontBrakeBias", "pitLimiterStatus", "fuelInTank",
    "fuelCapacity", "fuelRemainingLaps", "maxRPM", "idleRPM", "maxGears", "drsAllowed", "drsActivationDistance",
    "actualTyreCompound", "visualTyreCompound", "tyresAgeLaps", "vehicleFIAFlags", "enginePowerICE",
    "enginePowerMGUK", "ersStoreEnergy", "ersDeployMode", "ersHarvestedThisLapMGUK", "ersHarvestedThisLapMGUH",
)  # fmt: skip
STATUS_FIELDS = (*_STATUS_HEAD, "ersDeployedThisLap", "networkPaused")
STATUS_FIELDS_2026 = (*_STATUS_HEAD, "ersHarvestedLimitPerLap", "ersDeployedThisLap", "networkPaused")
TELEMETRY2_FIELDS = (
    "activeAeroMode", "activeAeroAvailable", "activeAeroActivationDistance", "overtakeAvailable", "overtakeActive",
    "overtakeActivationDistance", "2026Regulations", "drivingWrongWay",
)  # fmt: skip
_MOTION_EX_2023 = (
    *_w("suspensionPosition"), *_w("suspensionVelocity"), *_w("suspensionAcceleration"), *_w("wheelSpeed"),
    *_w("wheelSlipRatio"), *_w("wheelSlipAngle"), *_w("wheelLatForce"), *_w("wheelLongForce"),
    "heightOfCOGAboveGround", "localVelocityX", "localVelocityY", "localVelocityZ", "angularVelocityX",
    "angularVelocityY", "angularVelocityZ", "angularAccelerationX", "angularAccelerationY", "angularAccelerationZ",
    "frontWheelsAngle", *_w("wheelVertForce"),
)  # fmt: skip
_MOTION_EX_2024 = (
    *_MOTION_EX_2023, "frontAeroHeight", "rearAeroHeight", "frontRollAngle", "rearRollAngle", "chassisYaw",
)  # fmt: skip
_MOTION_EX_2025 = (*_MOTION_EX_2024, "chassisPitch", *_w("wheelCamber"), *_w("wheelCamberGain"))
MOTION_EX_FIELDS = {2023: _MOTION_EX_2023, 2024: _MOTION_EX_2024, 2025: _MOTION_EX_2025, 2026: _MOTION_EX_2025}
_DAMAGE_TAIL = (
    "frontLeftWingDamage", "frontRightWingDamage", "rearWingDamage", "floorDamage", "diffuserDamage",
    "sidepodDamage", "drsFault", "ersFault", "gearBoxDamage", "engineDamage", "engineMGUHWear", "engineESWear",
    "engineCEWear", "engineICEWear", "engineMGUKWear", "engineTCWear", "engineBlown", "engineSeized",
)  # fmt: skip
DAMAGE_FIELDS = (*_w("tyresWear"), *_w("tyresDamage"), *_w("brakesDamage"), *_DAMAGE_TAIL)
DAMAGE_FIELDS_2025 = (*_w("tyresWear"), *_w("tyresDamage"), *_w("brakesDamage"), *_w("tyreBlisters"), *_DAMAGE_TAIL)
LAP_HISTORY_WIDTH = 8
MOTION_WIDTH, TELEMETRY_WIDTH, STATUS_WIDTH = len(MOTION_FIELDS), len(TELEMETRY_FIELDS), len(STATUS_FIELDS)
TELEMETRY2_WIDTH = len(TELEMETRY2_FIELDS)
TYRE_SET_FIELDS = (
    "actualTyreCompound", "visualTyreCompound", "wear", "available", "recommendedSession", "lifeSpan",
    "usableLife", "lapDeltaTime", "fitted",
)  # fmt: skip

# Compounds: C<n> actual id (C0..C5 = 21..16, C6 = 22); visual soft/medium/hard = 16/17/18.
SOFT, MEDIUM, HARD = 16, 17, 18
USABLE_LIFE = {SOFT: 16, MEDIUM: 24, HARD: 34}
LAP_DELTA_MS = {SOFT: 0, MEDIUM: 650, HARD: 1550}
WEAR_PER_LAP = {SOFT: 3.2, MEDIUM: 2.2, HARD: 1.6}
GRIP = {SOFT: 1.004, MEDIUM: 1.0, HARD: 0.9965}
TYRE_BASE_TEMP = {SOFT: 90.0, MEDIUM: 87.0, HARD: 84.0}


def _actual_compound(c_number: int) -> int:
    return 22 if c_number == 6 else 21 - c_number


# ---------------------------------------------------------------------------------------------------------
# Cars


class _Car:
    __slots__ = (
        "idx", "driver_id", "team_id", "number", "nationality", "name", "teammate", "pace", "lap_pace", "grid",
        "lateral", "box_offset", "pit_lap", "stop_time", "first_visual", "second_visual", "first_set",
        "second_set", "v", "v_prev", "dist", "laps_done", "lap_start_t", "sector", "s1_ms", "s2_ms",
        "sector_t", "last_lap_ms", "best_lap_ms", "best_lap_num", "best_s", "best_s_lap", "invalid",
        "warnings", "cc_warnings", "pit_state", "pit_status", "pit_enter_t", "stop_t", "pit_lane_ms",
        "pit_stop_ms", "num_pit_stops", "pit_timer", "visual", "actual", "age_laps", "fit_dist", "wear_base",
        "stints", "finished", "finish_t", "finish_laps", "finish_seq", "fuel_start", "burn_m", "ers", "harv_k",
        "harv_h", "deployed", "btemp", "tcore", "etemp", "st_best", "st_lap", "gap_front", "gap_leader",
        "position", "cp", "cp_next", "drs_armed", "driver_status", "lap_positions", "wing_damage",
        "setup", "ahead_gap_m", "front_v", "queue_slot", "ts_flat", "launch", "front_pace", "front_natural", "eff_pace", "out_lap", "wear_rate", "fitted_set", "sets",
    )  # fmt: skip

    def __init__(self, idx: int) -> None:
        self.idx = idx


# ---------------------------------------------------------------------------------------------------------
# The race


class SyntheticRace:
    """A whole race session as datagrams. Iterate (or call `frames()`) as often as you like: same bytes."""

    def __init__(self, config: SynthConfig = SynthConfig()) -> None:
        self.config = config
        fmt = config.packet_format
        rng = Random(config.seed * 1_000_003 + fmt)
        if config.track_id is None:
            choices = tracks_for(fmt, full_only=True)
            self.track_id = choices[rng.randrange(len(choices))].track_id
        else:
            self.track_id = config.track_id
        self.track = track_model(self.track_id)
        uid = config.session_uid if config.session_uid is not None else (rng.getrandbits(64) | 1)
        self.session_uid = uid
        self.rng_seed = rng.getrandbits(63)
        # Start procedure and race control times (seconds).
        self.t_first_light = 3.0
        self.t_lights_out = self.t_first_light + 4.0 + rng.uniform(0.3, 2.5)
        est_lap = self.track.lap_time_s / 0.985
        self.est_lap_s = est_lap
        sc_loss = 0.45 * est_lap if (config.safety_car and config.laps >= 2) else 0.0
        pit_loss = 22.0 if (config.pit_stops and config.laps >= 2) else 0.0
        race_s = config.laps * est_lap * 1.01
        spread = min(est_lap, 0.04 * race_s)  # the last car takes the flag after the winner
        self._duration = self.t_lights_out + race_s + sc_loss + pit_loss + spread + 3.0

    @property
    def duration_s(self) -> float:
        """Approximate length of the session, s (from the first datagram to SEND)."""
        return self._duration

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        """The session grouped per game frame: (send time, datagrams of that frame), in send order."""
        return _Run(self).frames()

    def __iter__(self) -> Iterator[Datagram]:
        for t, datagrams in self.frames():
            for data in datagrams:
                yield Datagram(t, data)


def race(fmt: int = 2025, cars: int = 22, seed: int = 1, **kw: Any) -> SyntheticRace:
    """`race(2024, cars=20, laps=3, rate_hz=20)`: a SyntheticRace with these settings."""
    return SyntheticRace(SynthConfig(packet_format=fmt, cars=cars, seed=seed, **kw))


class _Run:
    """One play-through: all mutable state lives here, so a SyntheticRace can be iterated again."""

    def __init__(self, race_: SyntheticRace) -> None:
        cfg = race_.config
        self.cfg = cfg
        self.fmt = fmt = cfg.packet_format
        self.tm = tm = race_.track
        self.L = tm.length
        self.rate = cfg.rate_hz
        self.dt = 1.0 / cfg.rate_hz
        self.rng = rng = Random(race_.rng_seed)
        self.slots = LAYOUTS.num_cars[fmt]
        self.n = cfg.cars
        self.player = cfg.player_index
        self.focus = self.player if self.player != 255 else 0  # car MotionEx describes (spectated car)
        self.uid = race_.session_uid
        self.t_first_light = race_.t_first_light
        self.t_lights_out = race_.t_lights_out
        self.est_lap_s = race_.est_lap_s
        self.noise = [rng.uniform(-1.0, 1.0) for _ in range(4096)]
        self.layouts = LAYOUTS.formats[fmt]
        self.pit_v = tm.info.pit_speed_kph / 3.6
        self.frame = 0
        self.t = 0.0
        self.events: list[tuple[str, tuple]] = []
        hard = tm.info.hardest_compound if fmt >= 2025 else min(tm.info.hardest_compound, 3)
        self.compound_actual = {
            HARD: _actual_compound(hard),
            MEDIUM: _actual_compound(hard + 1),
            SOFT: _actual_compound(hard + 2),
        }
        self._init_race_control()
        self._init_cars()
        self._init_templates()

    # -- set-up --------------------------------------------------------------------------------------------

    def _init_race_control(self) -> None:
        cfg, rng, L = self.cfg, self.rng, self.L
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
        self.leader_done = False
        self.chequered = False
        self.finish_count = 0
        self.t_results: float | None = None
        self.t_leader_finish = 0.0
        self.session_best_ms = 0
        self.session_best_car = 255
        self.st_best = 0.0
        self.st_best_car = 255
        # One warning, one lap-1 contact, one held button (player).
        self.pena_at = L * min(laps - 0.5, 1.0 + rng.uniform(0.3, 0.8))
        self.pena_done = False
        self.coll_at = rng.uniform(0.35, 0.6) * L
        self.coll_done = False
        self.butn_t = self.t_lights_out + rng.uniform(20.0, 40.0)
        self.butn_sent = 0
        self.order: list[_Car] = []
        self.reaction = rng.uniform(0.18, 0.32)

    def _init_cars(self) -> None:
        cfg, rng, fmt, L = self.cfg, self.rng, self.fmt, self.L
        grid = GRIDS[fmt][: self.n]
        nat = {label: k for k, label in enums.table("nationality", fmt).items()}
        teams = enums.table("teamId", fmt)
        cars: list[_Car] = []
        team_rank: dict[int, int] = {}
        for i, (driver, team, number, nationality, name) in enumerate(grid):
            c = _Car(i)
            c.driver_id, c.team_id, c.number, c.name = driver, team, number, name
            c.nationality = nat[nationality]
            assert team in teams, f"team {team} not in format {fmt}"
            rank = team_rank.setdefault(team, len(team_rank))
            c.pace = 1.0 - 0.0035 * rank - 0.0012 * (i % 2) + rng.gauss(0.0, 0.0015)
            c.lateral = ((i % 5) - 2) * 0.9
            c.box_offset = 6.0 * rank - 30.0
            cars.append(c)
        for c in cars:
            mates = [o.idx for o in cars if o.team_id == c.team_id and o is not c]
            c.teammate = mates[0] if mates else 255
        # Qualifying: pace plus a mistake or two.
        quali = sorted(cars, key=lambda c: -(c.pace + rng.gauss(0.0, 0.004)))
        for pos, c in enumerate(quali, 1):
            c.grid = pos
        lo = max(1, math.ceil(cfg.laps / 3))
        hi = max(lo, min(cfg.laps - 1, (2 * cfg.laps) // 3))
        burn_lap = 1.7 * L / 5300.0
        for c in cars:
            c.pit_lap = rng.randint(lo, hi) if (cfg.pit_stops and cfg.laps >= 2) else 0
            c.stop_time = rng.uniform(2.1, 3.4)
            c.launch = rng.uniform(0.95, 1.05)
            if rng.random() < 0.7:
                c.first_visual, c.second_visual = MEDIUM, HARD
            else:
                c.first_visual, c.second_visual = SOFT, (HARD if rng.random() < 0.6 else MEDIUM)
            c.v = c.v_prev = 0.0
            c.dist = -(c.grid - 1) * GRID_SPACING - 4.0
            c.laps_done = 0
            c.lap_start_t = self.t_lights_out
            c.sector = 0
            c.s1_ms = c.s2_ms = 0
            c.sector_t = self.t_lights_out
            c.last_lap_ms = c.best_lap_ms = c.best_lap_num = 0
            c.best_s = [0, 0, 0]
            c.best_s_lap = [0, 0, 0]
            c.invalid = 0
            c.warnings = c.cc_warnings = 0
            c.pit_state = 0  # 0 racing, 1 in lane to box, 2 stopped, 3 lane after box, 4 done
            c.pit_status = 0
            c.pit_enter_t = c.stop_t = 0.0
            c.pit_lane_ms = c.pit_stop_ms = 0
            c.pit_timer = 0
            c.num_pit_stops = 0
            c.visual = c.first_visual
            c.actual = self.compound_actual[c.visual]
            c.age_laps = 3 if c.visual == SOFT else 0
            c.wear_base = 5.0 if c.visual == SOFT else 0.0
            c.fit_dist = 0.0
            c.wear_rate = WEAR_PER_LAP[c.visual] * rng.uniform(0.9, 1.1)
            c.stints = [[255, c.actual, c.visual]]
            c.finished = False
            c.finish_t = 0.0
            c.finish_laps = 0
            c.finish_seq = 0
            c.burn_m = burn_lap / L * rng.uniform(0.97, 1.03)
            c.fuel_start = burn_lap * (cfg.laps + rng.uniform(1.2, 2.6)) + 0.5
            c.ers = 4.0e6
            c.harv_k = c.harv_h = c.deployed = 0.0
            c.btemp = 25.0
            c.tcore = 89.0
            c.etemp = 104.0 + rng.uniform(-2, 2)
            c.st_best = 0.0
            c.st_lap = 255
            c.gap_front = c.gap_leader = 0
            c.position = c.grid
            n_cp = int((cfg.laps * L + CP_OFFSET + 2 * L) / CP) + 4
            c.cp = array("d", [self.t_lights_out]) * n_cp
            c.cp_next = int((c.dist + CP_OFFSET) / CP) + 1
            c.drs_armed = False
            c.driver_status = 4
            c.lap_positions = [c.grid]
            c.wing_damage = 0
            c.ahead_gap_m = 1e9
            c.front_v = 0.0
            c.front_pace = c.front_natural = c.eff_pace = 1.0
            c.queue_slot = -1
            c.out_lap = False
            c.lap_pace = c.pace * GRIP[c.visual]
            c.setup = self._setup_for(c)
        self.cars = cars
        self.order = sorted(cars, key=lambda c: c.grid)
        for c in cars:
            self._init_tyre_sets(c)

    def _setup_for(self, c: _Car) -> tuple:
        rng = Random(c.team_id * 31 + self.tm.info.track_id * 7 + 1)  # one setup per team and track
        fw = rng.randint(18, 38)
        return (
            fw, max(1, fw - rng.randint(2, 8)), rng.randint(50, 90), rng.randint(50, 70),
            -rng.choice((3.5, 3.2, 3.0, 2.8)), -rng.choice((2.0, 1.7, 1.5, 1.2)), 0.05, rng.choice((0.2, 0.3, 0.44)),
            rng.randint(20, 41), rng.randint(5, 25), rng.randint(10, 21), rng.randint(5, 15),
            rng.randint(20, 35), rng.randint(50, 80), 100, rng.randint(54, 58), 50,
            21.1, 21.1, 24.9, 24.9, 6,
        )  # fmt: skip

    def _init_tyre_sets(self, c: _Car) -> None:
        race_type = _race_session_type(self.fmt)
        plan = [
            (SOFT, 1, 0), (SOFT, 1, 0), (SOFT, 2, 0), (MEDIUM, 2, 0), (SOFT, 3, 0), (SOFT, 5, 1), (SOFT, 5, 1),
            (SOFT, 6, 1), (SOFT, 7, 1), (MEDIUM, race_type, 1), (MEDIUM, race_type, 1), (HARD, race_type, 1),
            (HARD, race_type, 1),
        ]  # fmt: skip
        sets: list[list[int]] = []
        for k, (visual, session, available) in enumerate(plan):
            used = session != race_type
            wear = 0 if not used else (8 if session >= 5 else 25 + (k * 7) % 20)
            sets.append([self.compound_actual[visual], visual, wear, available, session, 0, USABLE_LIFE[visual], 0, 0])
        for k in range(7):
            visual = 7 if k < 4 else 8
            sets.append([visual, visual, 0, 1, race_type, 0, 30, 0, 0])
        c.sets = sets
        c.first_set = 5 if c.first_visual == SOFT else 9
        c.second_set = {MEDIUM: 10 if c.first_visual == MEDIUM else 9, HARD: 11}[c.second_visual]
        c.fitted_set = c.first_set
        sets[c.first_set][8] = 1
        sets[c.first_set][3] = 1
        self._tyre_set_values(c)

    # -- templates -----------------------------------------------------------------------------------------

    def _template(self, pid: int) -> list[Any]:
        layout = self.layouts[pid]
        values = blank_values(layout.record)
        values[:12] = header_values(
            self.fmt,
            pid,
            session_uid=self.uid,
            player_car_index=self.player,
            game_version=GAME_VERSION[self.fmt],
        )
        return values

    def _init_templates(self) -> None:
        fmt, L = self.fmt, self.layouts
        self.tpl: dict[int, list[Any]] = {}
        for pid in self.layouts:
            if pid in (EVENT, 9, 14):  # no lobby, no time trial
                continue
            self.tpl[pid] = self._template(pid)
        _expect(L[MOTION], "carMotionData", MOTION_FIELDS)
        _expect(L[LAP_DATA], "lapData", LAP_FIELDS_2023 if fmt == 2023 else LAP_FIELDS_2024)
        _expect(L[CAR_TELEMETRY], "carTelemetryData", TELEMETRY_FIELDS)
        _expect(L[CAR_STATUS], "carStatusData", STATUS_FIELDS_2026 if fmt == 2026 else STATUS_FIELDS)
        _expect(L[MOTION_EX], None, MOTION_EX_FIELDS[fmt])
        if fmt == 2026:
            _expect(L[CAR_TELEMETRY_2], "carTelemetry2Data", TELEMETRY2_FIELDS)
        hist = L[SESSION_HISTORY].record["lapHistoryData"].record
        assert hist is not None and hist.width == LAP_HISTORY_WIDTH
        _expect(L[TYRE_SETS], "tyreSetData", TYRE_SET_FIELDS)
        _expect(L[CAR_DAMAGE], "carDamageData", DAMAGE_FIELDS_2025 if fmt >= 2025 else DAMAGE_FIELDS)
        self.damage_width = len(DAMAGE_FIELDS_2025 if fmt >= 2025 else DAMAGE_FIELDS)
        self.base = {
            pid: [L[pid].index(arr, i) for i in range(self.slots)]
            for pid, arr in (
                (MOTION, "carMotionData"),
                (LAP_DATA, "lapData"),
                (CAR_TELEMETRY, "carTelemetryData"),
                (CAR_STATUS, "carStatusData"),
                (CAR_DAMAGE, "carDamageData"),
                (CAR_SETUPS, "carSetupData"),
            )
        }
        if fmt == 2026:
            self.base[CAR_TELEMETRY_2] = [L[CAR_TELEMETRY_2].index("carTelemetry2Data", i) for i in range(self.slots)]
        lap = self.tpl[LAP_DATA]
        lap[L[LAP_DATA].index("timeTrialPBCarIdx")] = 255
        lap[L[LAP_DATA].index("timeTrialRivalCarIdx")] = 255
        tel = self.tpl[CAR_TELEMETRY]
        tel[L[CAR_TELEMETRY].index("mfdPanelIndex")] = 255
        tel[L[CAR_TELEMETRY].index("mfdPanelIndexSecondaryPlayer")] = 255
        self._init_session()
        self._init_participants()
        self._init_setups()
        self._init_damage()
        self._init_history()
        self.motion_ex_width = len(MOTION_EX_FIELDS[fmt])
        # Record lengths for the slice writes.
        self.lap_width = len(LAP_FIELDS_2023 if fmt == 2023 else LAP_FIELDS_2024)

    def _init_session(self) -> None:
        cfg, fmt, tm, rng = self.cfg, self.fmt, self.tm, self.rng
        lay = self.layouts[SESSION]
        v = self.tpl[SESSION]
        ix = lay.index
        self.weather = rng.choice((0, 0, 0, 1, 1, 2))
        self.track_temp = rng.randint(26, 44)
        self.air_temp = self.track_temp - rng.randint(6, 14)
        race_type = _race_session_type(fmt)
        vals: dict[str, Any] = {
            "weather": self.weather,
            "trackTemperature": self.track_temp,
            "airTemperature": self.air_temp,
            "totalLaps": cfg.laps,
            "trackLength": int(tm.length),
            "sessionType": race_type,
            "trackId": tm.info.track_id,
            "formula": 13 if fmt == 2026 else 0,
            "sessionTimeLeft": 7200,
            "sessionDuration": 7200,
            "pitSpeedLimit": tm.info.pit_speed_kph,
            "isSpectating": 1 if self.player == 255 else 0,
            "spectatorCarIndex": self.focus if self.player == 255 else 0,
            "numMarshalZones": len(tm.marshal_zones),
            "forecastAccuracy": 0,
            "aiDifficulty": 90,
            "gearboxAssist": 1,
            "gameMode": 4,
            "ruleSet": 1,
            "timeOfDay": rng.choice((840, 900, 960, 1020, 1140)),
            "sessionLength": 2 if cfg.laps <= 5 else 3 if cfg.laps <= 15 else 4 if cfg.laps <= 30 else 7,
            "speedUnitsLeadPlayer": 1,
            "speedUnitsSecondaryPlayer": 1,
        }
        link = rng.getrandbits(32)
        vals.update(seasonLinkIdentifier=link, weekendLinkIdentifier=link ^ 0x5A5A, sessionLinkIdentifier=link ^ 0x0F0F)
        if self.player != 255 and self.cars[self.player].pit_lap:
            p = self.cars[self.player]
            vals.update(
                pitStopWindowIdealLap=max(1, p.pit_lap),
                pitStopWindowLatestLap=min(cfg.laps, max(1, p.pit_lap) + 2),
                pitStopRejoinPosition=min(self.n, p.grid + 4),
            )
        if fmt >= 2024:
            vals.update(
                recoveryMode=1, flashbackLimit=3, surfaceType=1, tyreTemperature=1, carDamage=2, carDamageRate=1,
                collisions=2, cornerCuttingStringency=1, parcFermeRules=1, pitStopExperience=1, safetyCar=2,
                redFlags=2, numSessionsInWeekend=7, sector2LapDistanceStart=tm.info.sector2_start_m,
                sector3LapDistanceStart=tm.info.sector3_start_m,
            )  # fmt: skip
            for k, st in enumerate((1, 2, 3, 5, 6, 7, race_type)):
                v[ix("weekendStructure") + k] = st
        if fmt == 2026:
            full = tm.aero_zones[:8]
            partial = sorted(full, key=lambda z: -((z[1] - z[0]) % tm.length))[:3]
            vals.update(numActiveAeroZonesFull=len(full), numActiveAeroZonesPartial=len(partial))
            vals.update(numDRSZones=len(tm.drs_zones))
            for arr, zones in (("activeAeroZonesFull", full), ("activeAeroZonesPartial", partial)):
                for k, (a, b) in enumerate(zones):
                    v[ix(arr, k, "zoneStart")] = a / tm.length
                    v[ix(arr, k, "zoneEnd")] = b / tm.length
            for k, (a, b) in enumerate(tm.drs_zones[:4]):
                v[ix("drsZones", k, "zoneStart")] = a / tm.length
                v[ix("drsZones", k, "zoneEnd")] = b / tm.length
        for name, value in vals.items():
            v[ix(name)] = value
        for k, start in enumerate(tm.marshal_zones):
            v[ix("marshalZones", k, "zoneStart")] = start
        self.i_zone_flags = [ix("marshalZones", k, "zoneFlag") for k in range(len(tm.marshal_zones))]
        # Forecast for the race: now, +5, +10, +15, +30 min.
        offsets = (0, 5, 10, 15, 30)
        v[ix("numWeatherForecastSamples")] = len(offsets)
        tt, at = self.track_temp, self.air_temp
        for k, off in enumerate(offsets):
            dtt = rng.choice((-1, 0, 0, 1))
            v[ix("weatherForecastSamples", k, "sessionType")] = race_type
            v[ix("weatherForecastSamples", k, "timeOffset")] = off
            v[ix("weatherForecastSamples", k, "weather")] = self.weather
            v[ix("weatherForecastSamples", k, "trackTemperature")] = tt + dtt * k
            v[ix("weatherForecastSamples", k, "trackTemperatureChange")] = 0 if dtt > 0 else 1 if dtt < 0 else 2
            v[ix("weatherForecastSamples", k, "airTemperature")] = at
            v[ix("weatherForecastSamples", k, "airTemperatureChange")] = 2
            v[ix("weatherForecastSamples", k, "rainPercentage")] = rng.randint(0, 6) if self.weather < 2 else 15
        self.i_time_left = ix("sessionTimeLeft")
        self.i_sc_status = ix("safetyCarStatus")
        self.i_sc_periods = ix("numSafetyCarPeriods")
        self.i_reaction = ix("startReactionTime") if fmt == 2026 else -1

    def _init_participants(self) -> None:
        fmt = self.fmt
        lay = self.layouts[PARTICIPANTS]
        v = self.tpl[PARTICIPANTS]
        ix = lay.index
        v[ix("numActiveCars")] = self.n
        width = lay.record["participants"].record["name"].count  # type: ignore[union-attr]
        teams = enums.table("teamId", fmt)
        for c in self.cars:
            human = c.idx == self.player
            name = c.name.encode("utf-8")[:width]
            fields: dict[str, Any] = {
                "aiControlled": 0 if human else 1,
                "driverId": c.driver_id,
                "networkId": 255,
                "teamId": c.team_id,
                "myTeam": 1 if c.team_id == 104 else 0,
                "raceNumber": c.number,
                "nationality": c.nationality,
                "name": name,
                "yourTelemetry": 1,
                "showOnlineNames": 1 if human else 0,
                "platform": 1 if human else 255,
            }
            if fmt >= 2025:
                fields["numColours"] = 2
            for key, value in fields.items():
                v[ix("participants", c.idx, key)] = value
            if fmt >= 2025:
                for k, rgb in enumerate(_team_colours(teams[c.team_id])):
                    for comp, val in zip(("red", "green", "blue"), rgb):
                        v[ix("participants", c.idx, "liveryColours", k, comp)] = val
        unused_team = 65535 if fmt == 2026 else 255
        for slot in range(self.n, self.slots):
            v[ix("participants", slot, "teamId")] = unused_team

    def _init_setups(self) -> None:
        lay = self.layouts[CAR_SETUPS]
        v = self.tpl[CAR_SETUPS]
        rec = lay.record["carSetupData"].record
        assert rec is not None
        names = _names(rec)
        if self.player == 255:
            return  # spectators see no setups
        for c in self.cars:
            setup = list(c.setup)
            if "engineBraking" not in names:
                del setup[16]
            setup.append(c.fuel_start)
            assert len(setup) == len(names), (len(setup), names)
            b = self.base[CAR_SETUPS][c.idx]
            v[b : b + len(setup)] = setup
        if self.fmt >= 2024:
            v[lay.index("nextFrontWingValue")] = float(self.cars[self.player].setup[0])

    def _init_damage(self) -> None:
        rng = Random(self.cfg.seed * 17 + 5)
        self.engine_wear = {c.idx: [rng.randint(3, 22) for _ in range(6)] for c in self.cars}
        self.gearbox_wear = {c.idx: rng.randint(2, 15) for c in self.cars}

    def _init_history(self) -> None:
        lay = self.layouts[SESSION_HISTORY]
        self.h_ix = {
            name: lay.index(name)
            for name in (
                "carIdx", "numLaps", "numTyreStints", "bestLapTimeLapNum", "bestSector1LapNum",
                "bestSector2LapNum", "bestSector3LapNum",
            )
        }  # fmt: skip
        self.h_lap = [lay.index("lapHistoryData", k) for k in range(100)]
        self.h_stint = [lay.index("tyreStintsHistoryData", k) for k in range(8)]
        self.history: list[list[Any]] = []
        for c in self.cars:
            h = self._template(SESSION_HISTORY)
            h[self.h_ix["carIdx"]] = c.idx
            h[self.h_ix["numLaps"]] = 1
            h[self.h_lap[0] + 7] = 15
            self.history.append(h)
            self._write_stints(c)
        ts = self.layouts[TYRE_SETS]
        self.ts_base = [ts.index("tyreSetData", k) for k in range(20)]
        self.ts_fitted = ts.index("fittedIdx")
        self.ts_car = ts.index("carIdx")

    # -- the main loop -------------------------------------------------------------------------------------

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        due = {pid: 0 for pid, _, _ in PERIODIC}
        hist_cursor = 0
        ts_cursor = 0
        rate10 = self.rate * 10
        self.events.append(("SSTA", ()))
        lights = 0
        while True:
            f = self.frame
            t = self.t = f * self.dt
            # Start lights.
            while lights < 5 and t >= self.t_first_light + lights:
                lights += 1
                self.events.append(("STLG", (lights,)))
            if lights == 5 and t >= self.t_lights_out:
                self.events.append(("LGOT", ()))
                lights = 6
            if t > self.t_lights_out:
                self._physics(t)
            self._race_control(t)
            if self.leader_done and self.t_results is None and t > self.t_leader_finish + 2 * self.est_lap_s + 30:
                self.t_results = t  # (a safety net: every car normally takes the flag well before this)
            out: list[bytes] = [self._event_bytes(code, details) for code, details in self.events]
            self.events.clear()
            if self.t_results is not None and t >= self.t_results:
                yield t, out + [self._final_classification()]
                self._next_frame()
                burst = []
                for c in self.cars:
                    burst.append(self._history_bytes(c))
                yield self.t, burst
                self._next_frame()
                yield self.t, [self._event_bytes("SEND", (), frame_zero=True)]
                return
            out.extend(self._menu_packets(t))
            for pid, per10, phase in PERIODIC:
                if pid not in self.tpl:
                    continue
                target = (f * per10 + int(phase * rate10)) // rate10
                while due[pid] < target:
                    due[pid] += 1
                    if pid == SESSION:
                        out.append(self._session())
                    elif pid == PARTICIPANTS:
                        out.append(self._pack(PARTICIPANTS))
                    elif pid == CAR_SETUPS:
                        out.append(self._pack(CAR_SETUPS))
                    elif pid == CAR_DAMAGE:
                        out.append(self._damage())
                    elif pid == SESSION_HISTORY:
                        out.append(self._history_bytes(self.cars[hist_cursor % self.n]))
                        hist_cursor += 1
                    elif pid == TYRE_SETS:
                        out.append(self._tyre_sets(self.cars[ts_cursor % self.n]))
                        ts_cursor += 1
                    elif pid == LAP_POSITIONS:
                        out.extend(self._lap_positions())
            yield t, out
            self.frame += 1

    def _next_frame(self) -> None:
        self.frame += 1
        self.t = self.frame * self.dt

    def _pack(self, pid: int) -> bytes:
        v = self.tpl[pid]
        v[7] = self.t
        v[8] = v[9] = self.frame
        return self.layouts[pid].struct.pack(*v)

    def _event_bytes(self, code: str, details: tuple, frame_zero: bool = False) -> bytes:
        lay = self.layouts[EVENT]
        detail = bytearray(EVENT_DETAILS_SIZE)
        ev = lay.events.get(code)
        if ev is not None and details:
            ev.struct.pack_into(detail, 0, *details)
        head = header_values(
            self.fmt,
            EVENT_PACKET_ID,
            session_uid=self.uid,
            session_time=self.t,
            frame=0 if frame_zero else self.frame,
            overall_frame=self.frame,
            player_car_index=self.player,
            game_version=GAME_VERSION[self.fmt],
        )
        return lay.struct.pack(*head, code.encode("ascii"), *detail)

    # -- physics -------------------------------------------------------------------------------------------

    def _physics(self, t: float) -> None:
        tm, L, dt = self.tm, self.L, self.dt
        prof, drs_code, n_bins = tm.v, tm.drs_code, tm.n
        sc = self.sc_phase in (1, 2, 3)
        pit_v = self.pit_v
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
            if c.finished:
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
                        if self.player != 255 and c.idx == self.cars[self.player].teammate:
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
                a = _a_acc(v0) * (3.0 * pace - 2.0)  # the quicker car also accelerates better
                if d < START_RUN_M and c.laps_done == 0:
                    a *= c.launch  # a good or a bad getaway
                v1 = v0 + (a if a > 1.0 else 1.0) * dt
                if v1 > target:
                    v1 = target
            else:
                v1 = v0 - _b_dec(v0) * dt
                if v1 < target:
                    v1 = target
            c.v_prev = v0
            c.v = v1
            c.dist = d + (v0 + v1) * 0.5 * dt
            if not c.finished:
                self._timing(c, d, t)
        self._reorder(t)

    def _timing(self, c: _Car, d0: float, t: float) -> None:
        """Checkpoints, sectors, speed trap and line crossings between d0 and c.dist."""
        d1 = c.dist
        if d1 <= d0:
            return
        dt = self.dt
        t0 = t - dt
        inv = dt / (d1 - d0)
        cp = c.cp
        k = c.cp_next
        ncp = len(cp)
        while k < ncp and k * CP - CP_OFFSET <= d1:
            cp[k] = t0 + (k * CP - CP_OFFSET - d0) * inv
            k += 1
        c.cp_next = k
        L = self.L
        info = self.tm.info
        base = c.laps_done * L
        # Sectors.
        if c.sector == 0 and d1 >= base + info.sector2_start_m:
            ts = t0 + (base + info.sector2_start_m - d0) * inv
            c.s1_ms = int(round((ts - c.lap_start_t) * 1000))
            c.sector_t = ts
            c.sector = 1
            self._history_sector(c, 1, c.s1_ms)
        if c.sector == 1 and d1 >= base + info.sector3_start_m:
            ts = t0 + (base + info.sector3_start_m - d0) * inv
            c.s2_ms = int(round((ts - c.sector_t) * 1000))
            c.sector_t = ts
            c.sector = 2
            self._history_sector(c, 2, c.s2_ms)
        # Speed trap.
        trap = base + self.tm.speed_trap_m
        if d0 < trap <= d1 and c.pit_state in (0, 4) and d0 > 0:
            self._speed_trap(c)
        # The line.
        line = base + L
        if d1 >= line:
            tl = t0 + (line - d0) * inv
            self._lap_complete(c, tl)

    def _speed_trap(self, c: _Car) -> None:
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

    def _lap_complete(self, c: _Car, tl: float) -> None:
        lap_ms = int(round((tl - c.lap_start_t) * 1000))
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
        self._history_lap(c, lap_num, lap_ms, s3, valid)
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
        noise = self.noise[(lap_num * 131 + c.idx * 17) & 4095]
        c.lap_pace = c.pace * GRIP[c.visual] * (1.0 - 0.0006 * c.age_laps + 0.00025 * lap_num) * (1 + 0.0015 * noise)
        c.lap_positions.append(c.position)
        # The flag.
        laps = self.cfg.laps
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
            if lap_num < 100:
                self.history[c.idx][self.h_lap[lap_num] + 7] = 0  # no lap after the flag
            if self.finish_count == 1:
                self.t_leader_finish = tl
            if self.finish_count == self.n:
                self.t_results = tl + 3.0

    def _change_tyres(self, c: _Car, t: float) -> None:
        c.num_pit_stops += 1
        old = c.sets[c.fitted_set]
        old[2] = min(100, int(self._tyre_wear(c)))
        old[8] = 0
        c.stints[-1][0] = c.pit_lap  # the in-lap is the stint's last lap
        c.visual = c.second_visual
        c.actual = self.compound_actual[c.visual]
        c.age_laps = 0
        c.wear_base = 0.0
        c.fit_dist = c.dist
        c.wear_rate = WEAR_PER_LAP[c.visual] * (0.9 + 0.2 * (c.idx % 5) / 4)
        c.fitted_set = c.second_set
        c.sets[c.fitted_set][8] = 1
        self._tyre_set_values(c)
        c.stints.append([255, c.actual, c.visual])
        c.lap_pace = c.pace * GRIP[c.visual]
        self._write_stints(c)

    def _tyre_wear(self, c: _Car) -> float:
        return c.wear_base + max(0.0, c.dist - c.fit_dist) / self.L * c.wear_rate

    def _reorder(self, t: float) -> None:
        L = self.L

        def key(c: _Car) -> float:
            if c.finished:  # classified: laps first, then the order they took the flag
                return c.finish_laps * L + 1.0 - c.finish_seq * 1e-3
            return c.dist

        new = sorted(self.cars, key=key, reverse=True)
        old = self.order
        if new != old:
            if t > self.t_lights_out and self.sc_phase in (0, 4):
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

    def _on_track(self, c: _Car) -> bool:
        """Racing on track: not finished, not in (or braking for, or just out of) the pit lane."""
        if c.finished or 0 < c.pit_state < 4:
            return False
        if c.pit_lap:
            d, L, info = c.dist, self.L, self.tm.info
            if c.pit_state == 0 and c.laps_done + 1 == c.pit_lap and d >= c.pit_lap * L - info.pit_entry_m - 250.0:
                return False
            if c.pit_state == 4 and d < c.pit_lap * L + info.pit_exit_m + 500.0:
                return False
        return True

    def _gap_ms(self, ahead: _Car, c: _Car, t: float) -> int:
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

    def _race_control(self, t: float) -> None:
        if t <= self.t_lights_out:
            return
        L = self.L
        leader = self.order[0]
        ld = leader.dist
        scar = self.fmt >= 2024
        if self.sc_on and not leader.finished:
            if self.sc_phase == 0 and ld >= self.sc_start:
                self.sc_phase = 1
                self.sc_status = 1
                self.sc_periods += 1
                if scar:
                    self.events.append(("SCAR", (1, 0)))
                if self.drs_enabled:
                    self.drs_enabled = False
                    self.events.append(("DRSD", (1,) if self.fmt >= 2025 else ()))
                for c in self.cars:
                    c.drs_armed = False
            elif self.sc_phase == 1 and ld >= self.sc_end - 0.45 * L:
                self.sc_phase = 2
                if scar:
                    self.events.append(("SCAR", (1, 1)))
            elif self.sc_phase == 2 and ld >= self.sc_end - 0.08 * L:
                self.sc_phase = 3
                if scar:
                    self.events.append(("SCAR", (1, 2)))
            elif self.sc_phase == 3 and ld >= self.sc_end:
                self.sc_phase = 4
                self.sc_status = 0
                self.green_until = t + 5.0
                if scar:
                    self.events.append(("SCAR", (1, 3)))
                self.drs_from_lap = max(self.drs_from_lap, int(round(self.sc_end / L)) + 1)
        if not self.drs_enabled and self.sc_phase in (0, 4) and leader.laps_done >= self.drs_from_lap:
            if leader.laps_done < self.cfg.laps and not leader.finished:
                self.drs_enabled = True
                self.events.append(("DRSE", ()))
        # One lap-1 touch (wing damage), one warning, the player's button.
        if not self.coll_done and ld >= self.coll_at:
            self.coll_done = True
            p = min(len(self.order) - 1, 3 + self.rng.randrange(max(1, len(self.order) - 4)))
            a, b = self.order[p - 1], self.order[p]
            b.wing_damage = self.rng.randint(8, 18)
            if self.fmt == 2026:
                self.events.append(("COLL", (a.idx, b.idx, 0)))
            elif self.fmt >= 2024:
                self.events.append(("COLL", (a.idx, b.idx)))
        if not self.pena_done and ld >= self.pena_at:
            self.pena_done = True
            c = self.order[min(len(self.order) - 1, 1 + self.rng.randrange(len(self.order) - 1))]
            if not c.finished:
                c.warnings += 1
                c.cc_warnings += 1
                c.invalid = 1
                self._history_invalid(c)
                self.events.append(("PENA", (5, 7, c.idx, 255, 255, c.laps_done + 1, 0)))
        if self.butn_sent < 3 and t >= self.butn_t + 0.4 * self.butn_sent:
            self.butn_sent += 1
            self.events.append(("BUTN", (0x00100000,)))

    # -- packets -------------------------------------------------------------------------------------------

    def _menu_packets(self, t: float) -> list[bytes]:
        """Motion, LapData, CarTelemetry, CarStatus, MotionEx (and CarTelemetry2): one burst, one frame id."""
        fmt, tm, L, dt, f = self.fmt, self.tm, self.L, self.dt, self.frame
        noise, samples, rev = self.noise, tm.samples, REV_LIGHTS
        started = t > self.t_lights_out
        lights_on = t >= self.t_first_light
        mot, lap, tel, sta = self.tpl[MOTION], self.tpl[LAP_DATA], self.tpl[CAR_TELEMETRY], self.tpl[CAR_STATUS]
        t2 = self.tpl.get(CAR_TELEMETRY_2)
        bm, bl, bt, bs = self.base[MOTION], self.base[LAP_DATA], self.base[CAR_TELEMETRY], self.base[CAR_STATUS]
        bt2 = self.base.get(CAR_TELEMETRY_2, bm)
        lw = self.lap_width
        last = tm.n - 1
        sc = self.sc_phase in (1, 2, 3)
        flag = 3 if sc else (1 if t < self.green_until else 0)
        is2023, is2026 = fmt == 2023, fmt == 2026
        ice_max = 400000.0 if is2026 else 575000.0
        k_max = 350000.0 if is2026 else 120000.0
        harvest_cap = 8.5e6 if is2026 else 2.0e6
        pin, pout = tm.info.pit_entry_m, tm.info.pit_exit_m
        laps_total_m = self.cfg.laps * L
        drs_enabled = self.drs_enabled
        for c in self.cars:
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
                thr = min(1.0, 0.4 + 0.6 * acc / max(1.0, _a_acc(v)))
                brk = 0.0
            elif acc < -1.0:
                thr = 0.0
                brk = min(1.0, -acc / _b_dec(v))
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
                    _i16(glat * 1000), _i16(glong * 1000), _i16(gvert * 1000), yaw, pitch, glat * 0.004,
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
                lap_num = c.finish_laps
            else:
                lap_dist = d - c.laps_done * L
                cur_ms = int((t - c.lap_start_t) * 1000) if started else 0
                lap_num = c.laps_done + 1
            s1, s2, gf, gl = c.s1_ms, c.s2_ms, c.gap_front, c.gap_leader
            sc_delta = 0.35 * noise[(i * 53 + f) & 4095] if sc else 0.0
            lb = bl[i]
            if is2023:
                lap[lb : lb + lw] = (
                    c.last_lap_ms, cur_ms, s1 % 60000, s1 // 60000, s2 % 60000, s2 // 60000,
                    gf if gf < 65535 else 65535, gl if gl < 65535 else 65535, lap_dist, d, sc_delta,
                    c.position, lap_num, c.pit_status, c.num_pit_stops, c.sector, c.invalid, 0, c.warnings,
                    c.cc_warnings, 0, 0, c.grid, c.driver_status, 3 if c.finished else 2, c.pit_timer,
                    c.pit_lane_ms, c.pit_stop_ms, 0,
                )  # fmt: skip
            else:
                lap[lb : lb + lw] = (
                    c.last_lap_ms, cur_ms, s1 % 60000, s1 // 60000, s2 % 60000, s2 // 60000,
                    gf % 60000, min(255, gf // 60000), gl % 60000, min(255, gl // 60000), lap_dist, d, sc_delta,
                    c.position, lap_num, c.pit_status, c.num_pit_stops, c.sector, c.invalid, 0, c.warnings,
                    c.cc_warnings, 0, 0, c.grid, c.driver_status, 3 if c.finished else 2, c.pit_timer,
                    c.pit_lane_ms, c.pit_stop_ms, 0, c.st_best, c.st_lap,
                )  # fmt: skip
        out = []
        layouts = self.layouts
        for pid in (MOTION, LAP_DATA, CAR_TELEMETRY, CAR_STATUS):
            tpl = self.tpl[pid]
            tpl[7] = t
            tpl[8] = tpl[9] = f
            out.append(layouts[pid].struct.pack(*tpl))
        out.append(self._motion_ex(self.cars[self.focus]))
        if t2 is not None:
            t2[7] = t
            t2[8] = t2[9] = f
            out.append(layouts[CAR_TELEMETRY_2].struct.pack(*t2))
        return out

    def _motion_ex(self, c: _Car) -> bytes:
        tm, L = self.tm, self.L
        v = self.tpl[MOTION_EX]
        d = c.dist
        b = min(tm.n - 1, int((d % L) * INV_DS))
        speed = c.v
        acc = (c.v - c.v_prev) / self.dt
        kap = tm.kappa[b]
        nz = self.noise[(self.frame * 3 + 11) & 4095]
        lat = speed * speed * kap
        down = 0.55 * speed * speed
        vert = [2050.0 + down * 0.27 - lat * 40.0, 2050.0 + down * 0.27 + lat * 40.0,
                1900.0 + down * 0.23 - lat * 35.0, 1900.0 + down * 0.23 + lat * 35.0]  # fmt: skip
        susp = [round(8.0 + w / 180.0, 3) for w in vert]
        slip = 0.02 * min(1.0, abs(acc) / 12.0) + 0.002 * nz
        steer_rad = tm.steer[b] * 0.32 if self.t > self.t_lights_out else 0.0
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
        if self.fmt >= 2024:
            body += [0.035 - 0.0000015 * speed * speed, 0.07 - 0.000002 * speed * speed, lat * 0.0004, lat * 0.0003,
                     0.004 * nz]  # fmt: skip
        if self.fmt >= 2025:
            body += [0.002 * acc / 10.0, -0.05, -0.05, -0.035, -0.035, 0.002 * nz, 0.002 * nz, 0.001, 0.001]
        v[12 : 12 + len(body)] = body
        v[7] = self.t
        v[8] = v[9] = self.frame
        return self.layouts[MOTION_EX].struct.pack(*v)

    def _session(self) -> bytes:
        v = self.tpl[SESSION]
        v[self.i_time_left] = max(0, 7200 - int(self.t))
        v[self.i_sc_status] = self.sc_status
        v[self.i_sc_periods] = self.sc_periods
        zone_flag = 3 if self.sc_phase in (1, 2, 3) else (1 if self.t < self.green_until else 0)
        for i in self.i_zone_flags:
            v[i] = zone_flag
        if self.i_reaction >= 0 and self.player != 255 and self.t > self.t_lights_out + self.reaction:
            v[self.i_reaction] = self.reaction
        return self._pack(SESSION)

    def _damage(self) -> bytes:
        v = self.tpl[CAR_DAMAGE]
        base = self.base[CAR_DAMAGE]
        blisters = self.fmt >= 2025
        width = self.damage_width
        L = self.L
        for c in self.cars:
            w = self._tyre_wear(c)
            laps = c.dist / L if c.dist > 0.0 else 0.0
            ew = self.engine_wear[c.idx]
            rl, rr, fl, fr = w * 1.08, w * 1.12, w * 0.95, w
            br, bf = int(1 + laps * 0.4), int(2 + laps * 0.5)
            if blisters:
                blis = int(max(0.0, w - 8.0) * 0.6) if c.visual == SOFT else 0
                head: tuple = (rl, rr, fl, fr, int(rl), int(rr), int(fl), int(fr), br, br, bf, bf, blis, blis, 0, 0)
            else:
                head = (rl, rr, fl, fr, int(rl), int(rr), int(fl), int(fr), br, br, bf, bf)
            b = base[c.idx]
            v[b : b + width] = (
                *head, c.wing_damage, 0, 0, 0, 0, 0, 0, 0, self.gearbox_wear[c.idx], 0,
                ew[0], ew[1], ew[2], ew[3] + int(laps * 0.2), ew[4], ew[5], 0, 0,
            )  # fmt: skip
        return self._pack(CAR_DAMAGE)

    # -- history, tyre sets, positions, results -------------------------------------------------------------

    def _write_stints(self, c: _Car) -> None:
        h = self.history[c.idx]
        h[self.h_ix["numTyreStints"]] = len(c.stints)
        for k, (end, actual, visual) in enumerate(c.stints[:8]):
            s = self.h_stint[k]
            h[s : s + 3] = (end, actual, visual)

    def _history_sector(self, c: _Car, sector: int, ms: int) -> None:
        lap = c.laps_done
        if lap >= 100:
            return
        h = self.history[c.idx]
        b = self.h_lap[lap] + (1 if sector == 1 else 3)
        h[b] = ms % 60000
        h[b + 1] = ms // 60000

    def _history_invalid(self, c: _Car) -> None:
        lap = c.laps_done
        if lap < 100:
            h = self.history[c.idx]
            h[self.h_lap[lap] + 7] = 15 & ~1 & ~(2 << c.sector)

    def _history_lap(self, c: _Car, lap_num: int, lap_ms: int, s3: int, valid: bool) -> None:
        h = self.history[c.idx]
        k = lap_num - 1
        if k < 100:
            b = self.h_lap[k]
            h[b] = lap_ms
            h[b + 5] = s3 % 60000
            h[b + 6] = s3 // 60000
            if valid:
                h[b + 7] = 15
        if k + 1 < 100:
            h[self.h_lap[k + 1] + 7] = 15
        h[self.h_ix["numLaps"]] = min(100, lap_num + 1)
        h[self.h_ix["bestLapTimeLapNum"]] = c.best_lap_num
        h[self.h_ix["bestSector1LapNum"]] = c.best_s_lap[0]
        h[self.h_ix["bestSector2LapNum"]] = c.best_s_lap[1]
        h[self.h_ix["bestSector3LapNum"]] = c.best_s_lap[2]

    def _history_bytes(self, c: _Car) -> bytes:
        h = self.history[c.idx]
        if c.finished:
            h[self.h_ix["numLaps"]] = min(100, c.finish_laps)
        h[7] = self.t
        h[8] = h[9] = self.frame
        return self.layouts[SESSION_HISTORY].struct.pack(*h)

    def _tyre_set_values(self, c: _Car) -> None:
        """The car's 20 tyre sets as flat TyreSetData values (recomputed when the fitted set changes)."""
        flat: list[int] = []
        fitted_delta = LAP_DELTA_MS.get(c.sets[c.fitted_set][1], 0)
        for s in c.sets:
            life = max(0, s[6] - s[2] // 4)
            flat += (s[0], s[1], s[2], s[3], s[4], life, s[6], LAP_DELTA_MS.get(s[1], 2500) - fitted_delta, s[8])
        c.ts_flat = flat

    def _tyre_sets(self, c: _Car) -> bytes:
        v = self.tpl[TYRE_SETS]
        v[self.ts_car] = c.idx
        flat = c.ts_flat
        k = c.fitted_set * len(TYRE_SET_FIELDS)
        flat[k + 2] = min(100, int(self._tyre_wear(c)))
        flat[k + 5] = max(0, flat[k + 6] - c.age_laps)
        b = self.ts_base[0]
        v[b : b + len(flat)] = flat
        v[self.ts_fitted] = c.fitted_set
        return self._pack(TYRE_SETS)

    def _lap_positions(self) -> list[bytes]:
        return lap_positions_datagrams(self, [c.lap_positions for c in self.cars])

    def _final_classification(self) -> bytes:
        lay = self.layouts[FINAL_CLASSIFICATION]
        v = self.tpl[FINAL_CLASSIFICATION]
        ix = lay.index
        points = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)
        v[ix("numCars")] = self.n
        fl_car = self.session_best_car
        for c in self.cars:
            pts = points[c.position - 1] if c.position <= 10 else 0
            if self.fmt <= 2024 and c.idx == fl_car and c.position <= 10:
                pts += 1
            fields: dict[str, Any] = {
                "position": c.position,
                "numLaps": c.finish_laps,
                "gridPosition": c.grid,
                "points": pts,
                "numPitStops": c.num_pit_stops,
                "resultStatus": 3,
                "bestLapTimeInMS": c.best_lap_ms,
                "totalRaceTime": c.finish_t - self.t_lights_out,
                "numTyreStints": len(c.stints),
            }
            if self.fmt >= 2025:
                fields["resultReason"] = 2
            for key, value in fields.items():
                v[ix("classificationData", c.idx, key)] = value
            for k, (end, actual, visual) in enumerate(c.stints[:8]):
                v[ix("classificationData", c.idx, "tyreStintsActual") + k] = actual
                v[ix("classificationData", c.idx, "tyreStintsVisual") + k] = visual
                v[ix("classificationData", c.idx, "tyreStintsEndLaps") + k] = end
        return self._pack(FINAL_CLASSIFICATION)


def lap_positions_datagrams(run: _Run, rows_per_car: list[list[int]]) -> list[bytes]:
    """LapPositions (2025+): positions at the start of each lap, 50 laps per packet (a second packet beyond)."""
    lay = run.layouts[LAP_POSITIONS]
    v = run.tpl[LAP_POSITIONS]
    slots = run.slots
    i_num, i_start = lay.index("numLaps"), lay.index("lapStart")
    base = lay.index("positionForVehicleIdx")
    rows = max(len(r) for r in rows_per_car)
    out = []
    packets = 2 if run.cfg.laps > 50 else 1
    for p in range(packets):
        start = 50 * p
        n_rows = max(0, min(50, rows - start))
        v[base : base + 50 * slots] = [0] * (50 * slots)
        for car, r in enumerate(rows_per_car):
            for lap in range(start, min(len(r), start + 50)):
                v[base + (lap - start) * slots + car] = r[lap]
        v[i_num] = n_rows
        v[i_start] = start
        out.append(run._pack(LAP_POSITIONS))
    return out


def _i16(x: float) -> int:
    n = int(round(x))
    return -32768 if n < -32768 else 32767 if n > 32767 else n
