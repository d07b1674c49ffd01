"""One car: the model's constants (acceleration, braking, gears, rev lights), tyre compounds, the car's state."""

from __future__ import annotations

from array import array
from dataclasses import dataclass

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
ACTIVE, FINISHED, RETIRED = 2, 3, 7  # resultStatus
REASON_FINISHED, MECHANICAL_FAILURE = 2, 8  # resultReason (2025+)


def a_acc(v: float) -> float:
    """Acceleration limit (traction, power, drag), m/s²."""
    return min(13.5, 950.0 / (v + 1.0)) - 1.15e-3 * v * v


def b_dec(v: float) -> float:
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

# Compounds: C<n> actual id (C0..C5 = 21..16, C6 = 22); visual soft/medium/hard = 16/17/18.
SOFT, MEDIUM, HARD = 16, 17, 18
USABLE_LIFE = {SOFT: 16, MEDIUM: 24, HARD: 34}
LAP_DELTA_MS = {SOFT: 0, MEDIUM: 650, HARD: 1550}
WEAR_PER_LAP = {SOFT: 3.2, MEDIUM: 2.2, HARD: 1.6}
GRIP = {SOFT: 1.004, MEDIUM: 1.0, HARD: 0.9965}
TYRE_BASE_TEMP = {SOFT: 90.0, MEDIUM: 87.0, HARD: 84.0}


def actual_compound(c_number: int) -> int:
    return 22 if c_number == 6 else 21 - c_number


@dataclass(slots=True, init=False, eq=False, repr=False)
class Car:
    """Everything the race knows about one car; set up by `grids.make_cars`, then moved on by the race."""

    idx: int
    # who: from the entry list
    driver_id: int
    team_id: int
    number: int
    nationality: int
    name: str
    teammate: int
    grid: int
    # pace and strategy
    pace: float
    lap_pace: float
    eff_pace: float
    launch: float
    lateral: float  # m from the racing line
    box_offset: float  # m from the middle of the pit lane
    pit_lap: int  # 0: no stop
    stop_time: float
    setup: tuple[float, ...]
    # on track
    v: float
    v_prev: float
    dist: float  # m since the line at the start (negative on the grid)
    position: int
    driver_status: int
    drs_armed: bool
    out_lap: bool
    wing_damage: int
    ahead_gap_m: float
    front_v: float
    front_pace: float
    front_natural: float
    queue_slot: int
    # timing
    laps_done: int
    lap_start_t: float
    sector: int
    s1_ms: int
    s2_ms: int
    sector_t: float
    last_lap_ms: int
    best_lap_ms: int
    best_lap_num: int
    best_s: list[int]
    best_s_lap: list[int]
    invalid: int
    warnings: int
    cc_warnings: int
    st_best: float
    st_lap: int
    gap_front: int
    gap_leader: int
    cp: array[float]  # time at each timing checkpoint
    cp_next: int
    lap_positions: list[int]
    # the pit stop
    pit_state: int  # 0 racing, 1 in lane to box, 2 stopped, 3 lane after box, 4 done
    pit_status: int
    pit_enter_t: float
    stop_t: float
    pit_lane_ms: int
    pit_stop_ms: int
    num_pit_stops: int
    pit_timer: int
    # tyres
    first_visual: int
    second_visual: int
    first_set: int
    second_set: int
    fitted_set: int
    sets: list[list[int]]
    ts_flat: list[int]
    visual: int
    actual: int
    age_laps: int
    fit_dist: float
    wear_base: float
    wear_rate: float
    stints: list[list[int]]
    # the flag
    finished: bool  # took the flag, or retired: no more timing
    retired: bool
    penalties_s: int  # time penalties
    num_penalties: int
    finish_t: float
    finish_laps: int
    finish_seq: int
    # fuel, energy, temperatures
    fuel_start: float
    burn_m: float
    ers: float
    harv_k: float
    harv_h: float
    deployed: float
    btemp: float
    tcore: float
    etemp: float

    def __init__(self, idx: int) -> None:
        self.idx = idx


def tyre_wear(c: Car, lap_length: float) -> float:
    """Wear of the fitted set, %."""
    return c.wear_base + max(0.0, c.dist - c.fit_dist) / lap_length * c.wear_rate


def tyre_set_values(c: Car) -> None:
    """The car's 20 tyre sets as flat TyreSetData values (recomputed when the fitted set changes)."""
    flat: list[int] = []
    fitted_delta = LAP_DELTA_MS.get(c.sets[c.fitted_set][1], 0)
    for s in c.sets:
        life = max(0, s[6] - s[2] // 4)
        flat += (s[0], s[1], s[2], s[3], s[4], life, s[6], LAP_DELTA_MS.get(s[1], 2500) - fitted_delta, s[8])
    c.ts_flat = flat
