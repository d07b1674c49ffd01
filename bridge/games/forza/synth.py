"""A synthetic Forza race: the player's car on a generated circuit, sent in any of the four variants.

Forza sends only the player's car, once per frame. The generator drives a car (engine, six gears, idle and
maximum rpm) round a circuit whose speed profile comes from its corners (braking before each, accelerating out),
with a lap-to-lap pace that varies, so lap times, the best lap and the race position change as they would.
The rest of the field exists only as distances, to give the position. Before the start the car idles on the
grid; after the flag it slows down, then the game goes back to its menus (IsRaceOn 0, every other value zero).

Everything is derived from the seed: the same config gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any, cast

from bridge.games.forza.codec import build, encode
from bridge.games.forza.enums import NEUTRAL_GEAR
from bridge.games.forza.layouts import BY_KEY, WHEELS

RATES = (10, 20, 30, 60)
MAX_CARS = 24
GEARS = 6
GRID_SPACING_M = 8.0
GRID_WAIT_S = 3.0  # idling on the grid before the start
COOL_DOWN_S = 3.0  # after the flag, still racing
MENU_S = 1.0  # back in the menus: IsRaceOn 0
SHIFT_NEUTRAL_S = 0.2  # Forza sends neutral for the frames of a gear change
LATERAL_GRIP = 15.0  # m/s², what a racing car holds in a corner
BRAKING = 12.0  # m/s²
STEP_M = 5.0  # resolution of the speed profile
WHEEL_RADIUS_M = 0.33
FAHRENHEIT_AT_START = 150.0
FAHRENHEIT_HOT = 185.0


@dataclass(frozen=True)
class SynthConfig:
    variant: str = "motorsport"  # sled, dash, horizon or motorsport
    cars: int = 12  # the field, the player included (only the position shows it)
    rate_hz: int = 60
    laps: int = 3
    seed: int = 1

    def __post_init__(self) -> None:
        if self.variant not in BY_KEY:
            raise ValueError(f"variant must be one of {', '.join(BY_KEY)} (got {self.variant!r})")
        if not 1 <= self.cars <= MAX_CARS:
            raise ValueError(f"cars must be 1..{MAX_CARS} (got {self.cars})")
        if self.rate_hz not in RATES:
            raise ValueError(f"rate_hz must be one of {RATES} (got {self.rate_hz})")
        if not 1 <= self.laps <= 100:
            raise ValueError(f"laps must be 1..100 (got {self.laps})")


@dataclass(frozen=True)
class Circuit:
    length_m: float
    speeds: list[float]  # target speed every STEP_M, m/s
    curvature: list[float]  # 1/m every STEP_M, signed (left positive)
    heading: list[float]  # rad every STEP_M (closes the loop: 2π over a lap)

    def at(self, s: float) -> tuple[float, float, float]:
        """Speed, curvature and heading at `s` metres into the lap."""
        i = int(s / STEP_M) % len(self.speeds)
        return self.speeds[i], self.curvature[i], self.heading[i]


def make_circuit(rng: Random, top_speed: float, accel: float) -> Circuit:
    length = rng.uniform(3500.0, 5500.0)
    n = int(length / STEP_M)
    corners = sorted(rng.uniform(0.08, 0.95) for _ in range(rng.randint(8, 14)))
    kappa = [0.0] * n
    target = [top_speed] * n
    for centre in corners:
        radius = rng.choice((25.0, 45.0, 80.0, 140.0, 260.0))
        side = rng.choice((1.0, 1.0, -1.0))  # a circuit turns mostly one way
        half = int(rng.uniform(0.15, 0.5) * radius * math.pi / 2 / STEP_M) + 1
        v_corner = min(top_speed, math.sqrt(LATERAL_GRIP * radius))
        c = int(centre * n)
        for i in range(c - half, c + half):
            kappa[i % n] = side / radius
            target[i % n] = min(target[i % n], v_corner)
    # Braking before each corner (backward) and accelerating out of it (forward), round the loop twice.
    v = target[:]
    for _ in range(2):
        for i in range(2 * n - 1, -1, -1):
            v[i % n] = min(v[i % n], math.sqrt(v[(i + 1) % n] ** 2 + 2 * BRAKING * STEP_M))
        for i in range(2 * n):
            a = accel * max(0.1, 1.0 - v[i % n] / top_speed)
            v[(i + 1) % n] = min(v[(i + 1) % n], math.sqrt(v[i % n] ** 2 + 2 * a * STEP_M))
    turn = sum(abs(k) for k in kappa) * STEP_M
    heading, h = [], 0.0
    for k in kappa:
        heading.append(h)
        h += 2 * math.pi * abs(k) * STEP_M / turn if turn else 0.0
    return Circuit(n * STEP_M, v, kappa, heading)


class ForzaRace:
    """One race as datagrams. Call `frames()` as often as you like: same bytes."""

    def __init__(self, config: SynthConfig = SynthConfig()) -> None:
        self.config = config
        rng = Random(config.seed * 7919 + 5300)
        self.idle_rpm = rng.choice((800.0, 900.0, 1000.0))
        self.max_rpm = rng.choice((7500.0, 8000.0, 8500.0, 9000.0, 10000.0))
        self.top_speed = rng.uniform(72.0, 88.0)  # m/s at the rev limit in top gear
        self.peak_torque = rng.uniform(380.0, 620.0)  # N·m
        self.launch = rng.uniform(7.0, 9.5)  # m/s² at low speed
        self.circuit = make_circuit(rng, self.top_speed, self.launch)
        self.car = {
            "CarOrdinal": rng.randint(100, 4000),
            "CarClass": rng.randint(2, 5),
            "CarPerformanceIndex": rng.randint(600, 900),
            "DrivetrainType": rng.randint(0, 2),
            "NumCylinders": rng.choice((4, 6, 8, 10, 12)),
            "TrackOrdinal": rng.randint(100, 1700),
        }
        self.lap_pace = [rng.uniform(0.97, 1.0) for _ in range(config.laps + 1)]
        self.player_slot = config.cars // 2
        # The others: a grid slot and a pace relative to a flawless lap.
        self.rivals = [
            (-(slot - self.player_slot) * GRID_SPACING_M, rng.uniform(0.95, 1.0))
            for slot in range(config.cars)
            if slot != self.player_slot
        ]
        self.timestamp0 = rng.randint(10_000, 5_000_000)

    def gear_top_speed(self, gear: int) -> float:
        """Speed at the rev limit in `gear`, m/s."""
        return cast(float, self.top_speed * (gear / GEARS) ** 0.8)

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        """(send time, [datagram]) per frame, one datagram each, the first at t = 0."""
        return _Run(self).frames()

    def timestamp(self, t: float) -> int:
        return (self.timestamp0 + int(t * 1000)) & 0xFFFFFFFF

    def position(self, distance: float, ref_distance: float) -> int:
        """1 + the rivals ahead, each at its pace times the distance a flawless car has covered."""
        return 1 + sum(1 for offset, pace in self.rivals if offset + pace * ref_distance > distance)


class _Run:
    """One pass through the race: the player's car, frame by frame."""

    def __init__(self, race_: ForzaRace) -> None:
        self.race = race_
        self.variant = BY_KEY[race_.config.variant]
        self.dt = 1.0 / race_.config.rate_hz
        self.car_fields = {**race_.car, "EngineMaxRpm": race_.max_rpm, "EngineIdleRpm": race_.idle_rpm}
        self.v = 0.0  # m/s
        self.a_long = 0.0  # m/s²
        self.s = 0.0  # metres into the current lap
        self.distance = 0.0
        self.ref_v = 0.0
        self.ref_distance = 0.0  # a flawless car from the same grid line: the rivals' yardstick
        self.lap = 0
        self.lap_start = GRID_WAIT_S
        self.last_lap = self.best_lap = 0.0
        self.gear, self.next_gear, self.shift_until = 1, 1, 0.0
        self.rpm = race_.idle_rpm
        self.throttle = self.brake = 0
        self.x = self.z = 0.0
        self.tyre_f = FAHRENHEIT_AT_START
        self.finished_at: float | None = None

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        frame = 0
        end = math.inf
        while (t := frame * self.dt) < end:
            kappa, heading = self.drive(t, frame)
            if self.cross_line(t) and self.lap == self.race.config.laps:
                self.finished_at = t
                end = t + COOL_DOWN_S + MENU_S
            self.change_gear(t)
            self.run_engine(t)
            names = self.variant.by_name
            values = {n: value for n, value in self.values(t, kappa, heading).items() if n in names}
            yield t, [encode(build(self.variant, values))]
            frame += 1

    def drive(self, t: float, frame: int) -> tuple[float, float]:
        """Speed, inputs and position for this frame; returns the circuit's curvature and heading here."""
        race, circuit, dt = self.race, self.race.circuit, self.dt
        target, kappa, heading = circuit.at(self.s)
        on_grid = t < GRID_WAIT_S
        if self.finished_at is not None:
            target = max(15.0, self.v - 4.0 * dt)  # the slowing-down lap
        if on_grid:
            new_v = 0.0
        else:
            accel_limit = race.launch * max(0.1, 1.0 - self.v / race.top_speed)
            new_v = min(target * race.lap_pace[min(self.lap, race.config.laps)], self.v + accel_limit * dt)
            new_v = max(new_v, self.v - BRAKING * 1.2 * dt)
            self.ref_v = min(circuit.at(self.ref_distance % circuit.length_m)[0], self.ref_v + race.launch * dt)
            self.ref_distance += self.ref_v * dt
        self.a_long = (new_v - self.v) / dt
        if on_grid:
            self.throttle = 90 if frame % 40 <= 10 else 0  # a driver blipping the throttle on the grid
        else:
            self.throttle = 255 if self.a_long > 0.5 else (0 if self.a_long < -0.5 else 110)
        self.brake = min(255, int(-self.a_long / BRAKING * 255)) if self.a_long < -0.5 else 0
        self.v = new_v
        self.s += new_v * dt
        self.distance += new_v * dt
        self.x += new_v * dt * math.sin(heading)
        self.z += new_v * dt * math.cos(heading)
        if not on_grid:
            self.tyre_f += (FAHRENHEIT_HOT + 0.1 * self.brake / 2.55 - self.tyre_f) * dt / 90.0
        return kappa, heading

    def cross_line(self, t: float) -> bool:
        """Complete a lap when the car crossed the line in this frame (lap times to the interpolated crossing)."""
        length = self.race.circuit.length_m
        if self.s < length:
            return False
        self.s -= length
        crossed = t + self.dt - (self.s / self.v if self.v > 0 else 0.0)
        self.last_lap = crossed - self.lap_start
        self.best_lap = self.last_lap if self.best_lap == 0 else min(self.best_lap, self.last_lap)
        self.lap_start = crossed
        self.lap += 1
        return True

    def change_gear(self, t: float) -> None:
        """Up at 95 % of the rev limit, down below 45 %; neutral while a change lasts."""
        if t < self.shift_until:
            return
        race = self.race
        self.gear = self.next_gear
        gear_rpm = race.max_rpm * self.v / race.gear_top_speed(self.gear)
        if gear_rpm > 0.95 * race.max_rpm and self.gear < GEARS:
            self.next_gear, self.shift_until = self.gear + 1, t + SHIFT_NEUTRAL_S
        elif gear_rpm < 0.45 * race.max_rpm and self.gear > 1:
            self.next_gear, self.shift_until = self.gear - 1, t + SHIFT_NEUTRAL_S / 2

    def shifting(self, t: float) -> bool:
        return t < self.shift_until

    def run_engine(self, t: float) -> None:
        """rpm from the wheels through the gear (between idle and the limit); on the grid, from the throttle."""
        race = self.race
        if t < GRID_WAIT_S:
            revs = race.idle_rpm + (race.max_rpm * 0.6 - race.idle_rpm) * self.throttle / 255
        else:
            gear = self.next_gear if self.shifting(t) else self.gear
            revs = race.max_rpm * self.v / race.gear_top_speed(gear)
        target = min(race.max_rpm, max(race.idle_rpm, revs))
        self.rpm = self.rpm + (target - self.rpm) * 0.25 if self.shifting(t) else target

    def values(self, t: float, kappa: float, heading: float) -> dict[str, Any]:
        """Every field Forza sends, by Turn 10's names (the variant keeps those it has)."""
        race = self.race
        timestamp = race.timestamp(t)
        if self.finished_at is not None and t >= self.finished_at + COOL_DOWN_S:
            return {"IsRaceOn": 0, "TimestampMS": timestamp}  # the menus: every other value zero
        v, a_long = self.v, self.a_long
        load = 0.0 if self.shifting(t) else self.throttle / 255
        torque = race.peak_torque * load * (0.7 + 0.3 * math.sin(math.pi * self.rpm / race.max_rpm)) - 30.0 * (
            1 - load)
        wear = min(1.0, self.distance / 400_000.0)
        return {
            **self.car_fields,
            "IsRaceOn": 1,
            "TimestampMS": timestamp,
            "CurrentEngineRpm": self.rpm,
            "AccelerationX": v * v * kappa,
            "AccelerationZ": a_long,
            "VelocityZ": v,
            "AngularVelocityY": v * kappa,
            "Yaw": math.remainder(heading, 2 * math.pi),
            **{f"NormalizedSuspensionTravel{w}": 0.45 + 0.02 * a_long / BRAKING for w in WHEELS},
            **{f"WheelRotationSpeed{w}": v / WHEEL_RADIUS_M for w in WHEELS},
            **{f"TireSlipRatio{w}": 0.05 * load for w in WHEELS},
            "PositionX": self.x,
            "PositionZ": self.z,
            "Speed": v,
            "Power": torque * self.rpm * 2 * math.pi / 60,
            "Torque": torque,
            **{f"TireTemp{w}": self.tyre_f for w in WHEELS},
            "Boost": 12.0 * load - 8.0 * (1 - load),
            "Fuel": max(0.0, 1.0 - self.distance / (race.circuit.length_m * (race.config.laps + 2))),
            "DistanceTraveled": self.distance,
            "BestLap": self.best_lap,
            "LastLap": self.last_lap,
            "CurrentLap": max(0.0, t - self.lap_start),
            "CurrentRaceTime": max(0.0, t - GRID_WAIT_S),
            "LapNumber": self.lap,
            "RacePosition": race.position(self.distance, self.ref_distance),
            "Accel": self.throttle,
            "Brake": self.brake,
            "Gear": NEUTRAL_GEAR if self.shifting(t) else self.gear,
            "Steer": max(-127, min(127, round(kappa * 2500))),
            "NormalizedDrivingLine": max(-127, min(127, round(kappa * 1500))),
            **{f"TireWear{w}": wear for w in WHEELS},
        }


def race(variant: str = "motorsport", **kw: Any) -> ForzaRace:
    """`race("horizon", laps=2)`: a ForzaRace with these settings."""
    return ForzaRace(SynthConfig(variant=variant, **kw))
