"""The field: each format's entry list and team colours, and the cars built from them (grid, strategy, setups)."""

from __future__ import annotations

import math
from array import array
from random import Random

from bridge.games.f1 import enums
from bridge.games.f1.synth.car import (
    CP,
    CP_OFFSET,
    GRID_SPACING,
    GRIP,
    HARD,
    MEDIUM,
    SOFT,
    USABLE_LIFE,
    WEAR_PER_LAP,
    Car,
    tyre_set_values,
)
from bridge.games.f1.synth.config import Params

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


def team_colours(label: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    low = label.lower()
    for key in sorted(_COLOURS, key=len, reverse=True):
        if low.startswith(key):
            return _COLOURS[key]
    return ((255, 255, 255), (40, 40, 40))


def race_session_type(fmt: int) -> int:
    return 10 if fmt == 2023 else 15


def make_cars(p: Params, rng: Random) -> list[Car]:
    """The field: entry list, qualifying, strategy, and every car on its grid slot before the start."""
    cfg, fmt, L, compound_actual = p.cfg, p.fmt, p.L, p.compound_actual
    grid = GRIDS[fmt][: p.n]
    nat = {label: k for k, label in enums.table("nationality", fmt).items()}
    teams = enums.table("teamId", fmt)
    cars: list[Car] = []
    team_rank: dict[int, int] = {}
    for i, (driver, team, number, nationality, name) in enumerate(grid):
        c = Car(i)
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
        c.lap_start_t = p.t_lights_out
        c.sector = 0
        c.s1_ms = c.s2_ms = 0
        c.sector_t = p.t_lights_out
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
        c.actual = compound_actual[c.visual]
        c.age_laps = 3 if c.visual == SOFT else 0
        c.wear_base = 5.0 if c.visual == SOFT else 0.0
        c.fit_dist = 0.0
        c.wear_rate = WEAR_PER_LAP[c.visual] * rng.uniform(0.9, 1.1)
        c.stints = [[255, c.actual, c.visual]]
        c.finished = c.retired = False
        c.penalties_s = c.num_penalties = 0
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
        c.cp = array("d", [p.t_lights_out]) * n_cp
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
        c.setup = _setup_for(c, p.tm.info.track_id)
    for c in cars:
        _fit_tyre_sets(c, fmt, compound_actual)
    return cars

def _setup_for(c: Car, track_id: int) -> tuple[float, ...]:
    rng = Random(c.team_id * 31 + track_id * 7 + 1)  # one setup per team and track
    fw = rng.randint(18, 38)
    return (
        fw, max(1, fw - rng.randint(2, 8)), rng.randint(50, 90), rng.randint(50, 70),
        -rng.choice((3.5, 3.2, 3.0, 2.8)), -rng.choice((2.0, 1.7, 1.5, 1.2)), 0.05, rng.choice((0.2, 0.3, 0.44)),
        rng.randint(20, 41), rng.randint(5, 25), rng.randint(10, 21), rng.randint(5, 15),
        rng.randint(20, 35), rng.randint(50, 80), 100, rng.randint(54, 58), 50,
        21.1, 21.1, 24.9, 24.9, 6,
    )  # fmt: skip

def _fit_tyre_sets(c: Car, fmt: int, compound_actual: dict[int, int]) -> None:
    race_type = race_session_type(fmt)
    plan = [
        (SOFT, 1, 0), (SOFT, 1, 0), (SOFT, 2, 0), (MEDIUM, 2, 0), (SOFT, 3, 0), (SOFT, 5, 1), (SOFT, 5, 1),
        (SOFT, 6, 1), (SOFT, 7, 1), (MEDIUM, race_type, 1), (MEDIUM, race_type, 1), (HARD, race_type, 1),
        (HARD, race_type, 1),
    ]  # fmt: skip
    sets: list[list[int]] = []
    for k, (visual, session, available) in enumerate(plan):
        used = session != race_type
        wear = 0 if not used else (8 if session >= 5 else 25 + (k * 7) % 20)
        sets.append([compound_actual[visual], visual, wear, available, session, 0, USABLE_LIFE[visual], 0, 0])
    for k in range(7):
        visual = 7 if k < 4 else 8
        sets.append([visual, visual, 0, 1, race_type, 0, 30, 0, 0])
    c.sets = sets
    c.first_set = 5 if c.first_visual == SOFT else 9
    c.second_set = {MEDIUM: 10 if c.first_visual == MEDIUM else 9, HARD: 11}[c.second_visual]
    c.fitted_set = c.first_set
    sets[c.first_set][8] = 1
    sets[c.first_set][3] = 1
    tyre_set_values(c)

# -- templates -----------------------------------------------------------------------------------------
