"""A synthetic rally stage in Codemasters "extradata 3", from the decoder's own layout.

`SyntheticStage().datagrams()` yields (send time, datagram) from the start line to the finish: stage progress,
stage time, speed, gear and engine speed that agree, pedals, suspension, brake temperatures that rise under
braking. The same seed gives the same bytes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from bridge.games.codemasters.layouts import EXTRADATA3, RPM_PER_RATE, WHEELS
from bridge.games.drive import Car, Drive

CAR = Car(gear_ratios=(3.3, 2.3, 1.75, 1.4, 1.15), final_drive=4.4, wheel_radius_m=0.31, idle_rpm=2000.0,
          shift_rpm=7600.0, max_rpm=8000.0, fuel_capacity_l=60.0)  # fmt: skip


@dataclass(frozen=True)
class StageConfig:
    length_m: float = 6000.0
    laps: int = 1  # a rally stage is one lap; rallycross and DiRT 4's races have several
    rate_hz: int = 60
    seed: int = 1


class SyntheticStage:
    def __init__(self, config: StageConfig | None = None) -> None:
        self.config = config or StageConfig()

    def datagrams(self) -> Iterator[tuple[float, bytes]]:
        c = self.config
        rng = random.Random(c.seed)
        drive = Drive(CAR, track_m=c.length_m, corners=int(c.length_m // 450), v_min_ms=14.0, v_max_ms=45.0,
                      seed=c.seed)  # fmt: skip
        brake_temp = 20.0
        dt = 1.0 / c.rate_hz
        while True:
            s = drive.step(dt)
            finished = s.lap > c.laps
            brake_temp += (s.brake * 600 - (brake_temp - 20) * 0.5) * dt  # heats under braking, cools in the air
            bump = [rng.gauss(0, 4) for _ in WHEELS]
            fields = {
                "run_time": s.t + 10.0,
                "lap_time": 0.0 if finished else s.lap_time_s,
                "lap": float(s.lap - 1),  # laps completed
                "lap_distance": c.length_m if finished else s.lap_distance_m,
                "progress": 1.0 if finished else (s.distance_m / (c.length_m * c.laps)),
                "position_x": s.distance_m * 0.7,
                "position_z": s.distance_m * 0.7,
                "speed": s.speed_ms,
                "velocity_x": s.speed_ms * math.sqrt(0.5),
                "velocity_z": s.speed_ms * math.sqrt(0.5),
                **{f"suspension_position_{w}": b for w, b in zip(WHEELS, bump)},
                **{f"wheel_speed_{w}": s.speed_ms for w in WHEELS},
                "throttle": s.throttle,
                "steer": math.sin(s.lap_distance_m / 90),
                "brake": s.brake,
                "gear": float(s.gear),
                "engine_rate": s.rpm / RPM_PER_RATE,
                "race_position": 1.0,
                "fuel": s.fuel_l,
                "fuel_capacity": CAR.fuel_capacity_l,
                **{f"brake_temp_{w}": brake_temp for w in WHEELS},
                "total_laps": float(c.laps),
                "track_length": c.length_m,
                "last_lap_time": s.last_lap_s or 0.0,
                "max_engine_rate": CAR.max_rpm / RPM_PER_RATE,
                "idle_engine_rate": CAR.idle_rpm / RPM_PER_RATE,
                "max_gears": float(len(CAR.gear_ratios)),
            }
            yield s.t, EXTRADATA3.pack(fields)
            if finished:
                return

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        """The shape `bridge.games.sender` sends: one datagram per frame."""
        for t, datagram in self.datagrams():
            yield t, [datagram]
