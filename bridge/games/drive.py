"""A car lapping a track, for the synthetic generators of the single-record games (GT7, Codemasters, OutGauge).

Speed follows the track (straights and corners as a smooth profile with a little noise per lap); gear and rpm
follow from speed through the gearbox, so speed, gear and rpm always agree; throttle and brake follow from
whether the car speeds up or slows down. The same seed gives the same drive.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import cast


@dataclass(frozen=True)
class Car:
    gear_ratios: tuple[float, ...] = (3.4, 2.5, 1.95, 1.6, 1.35, 1.15)
    final_drive: float = 3.9
    wheel_radius_m: float = 0.33
    idle_rpm: float = 900.0
    shift_rpm: float = 7400.0  # where the driver changes up; the rev lights start a little before
    max_rpm: float = 8000.0
    fuel_capacity_l: float = 60.0
    fuel_per_km_l: float = 0.45

    def rpm(self, speed_ms: float, gear: int) -> float:
        wheel_rpm = speed_ms / (2 * math.pi * self.wheel_radius_m) * 60
        return max(self.idle_rpm, wheel_rpm * self.gear_ratios[gear - 1] * self.final_drive)

    def gear_for(self, speed_ms: float) -> int:
        for gear in range(1, len(self.gear_ratios) + 1):
            if self.rpm(speed_ms, gear) <= self.shift_rpm:
                return gear
        return len(self.gear_ratios)


@dataclass(frozen=True)
class Sample:
    t: float  # s since the start
    lap: int  # the lap being driven, from 1
    lap_distance_m: float
    distance_m: float  # since the start
    lap_time_s: float
    last_lap_s: float | None
    best_lap_s: float | None
    speed_ms: float
    gear: int
    rpm: float
    throttle: float  # 0 to 1
    brake: float  # 0 to 1
    fuel_l: float
    tyre_temp_c: float


class Drive:
    """Call `step(dt)` for each sample; laps, lap times and the fuel load follow."""

    def __init__(
        self,
        car: Car | None = None,
        *,
        track_m: float = 3200.0,
        corners: int = 7,
        v_min_ms: float = 22.0,
        v_max_ms: float = 68.0,
        seed: int = 1,
    ) -> None:
        self.car = car or Car()
        self.track_m = track_m
        self.corners = corners
        self.v_min = v_min_ms
        self.v_max = v_max_ms
        self.random = random.Random(seed)
        self.t = 0.0
        self.distance = 0.0
        self.lap_started_at = 0.0
        self.last_lap: float | None = None
        self.best_lap: float | None = None
        self.pace = 1.0  # this lap's pace: a driver is never twice as fast
        self.speed = self._target(0.0)

    def _target(self, lap_distance: float) -> float:
        x = lap_distance / self.track_m
        wave = 0.5 + 0.5 * math.cos(2 * math.pi * self.corners * x)  # 1 on the straights, 0 in the corners
        return cast(float, (self.v_min + (self.v_max - self.v_min) * wave**1.5) * self.pace)

    def step(self, dt: float) -> Sample:
        lap_distance = self.distance % self.track_m
        target = self._target(lap_distance)
        accel = max(-12.0, min(6.0, (target - self.speed) / max(dt, 1e-3)))
        self.speed = max(0.0, self.speed + accel * dt)
        self.t += dt
        before = int(self.distance // self.track_m)
        self.distance += self.speed * dt
        if int(self.distance // self.track_m) > before:  # crossed the line
            self.last_lap = self.t - self.lap_started_at
            self.best_lap = self.last_lap if self.best_lap is None else min(self.best_lap, self.last_lap)
            self.lap_started_at = self.t
            self.pace = self.random.uniform(0.97, 1.02)
        gear = self.car.gear_for(self.speed)
        throttle = 1.0 if accel > 0.5 else (0.4 if accel > -0.5 else 0.0)
        brake = min(1.0, -accel / 12.0) if accel < -0.5 else 0.0
        fuel = max(0.0, self.car.fuel_capacity_l - self.distance / 1000 * self.car.fuel_per_km_l)
        return Sample(
            t=self.t,
            lap=int(self.distance // self.track_m) + 1,
            lap_distance_m=self.distance % self.track_m,
            distance_m=self.distance,
            lap_time_s=self.t - self.lap_started_at,
            last_lap_s=self.last_lap,
            best_lap_s=self.best_lap,
            speed_ms=self.speed,
            gear=gear,
            rpm=self.car.rpm(self.speed, gear),
            throttle=throttle,
            brake=brake,
            fuel_l=fuel,
            tyre_temp_c=min(95.0, 40.0 + self.t * 0.5) + 5 * brake,
        )
