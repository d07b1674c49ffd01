"""Codemasters' "extradata 3" packet as data: 66 little-endian float32 (264 bytes), no header, no magic.

Sent by DiRT Rally, DiRT Rally 2.0, DiRT 4 and WRC Generations (the rally games' "UDP telemetry" with
extradata=3, from Codemasters' F1 2010-2017 era format). Every value is a float, counters and flags included.
Wheel order is rear-left, rear-right, front-left, front-right.

The engine speed fields (`engine_rate`, `max_engine_rate`, `idle_engine_rate`) are usually read as "rpm / 10";
they are radians per second: the real recording in the test captures has exactly 8000 rpm (837.758 rad/s) as
its maximum and 2000 rpm (209.440 rad/s) at idle, which "x 10" would make 8378 and 2094. `RPM_PER_RATE`
converts.
"""

from __future__ import annotations

import math

from bridge.games.flat import per_wheel
from bridge.games.flat_values import Layout

WHEELS = ("rl", "rr", "fl", "fr")
RPM_PER_RATE = 30 / math.pi  # rad/s -> rpm

ROWS: list[tuple[str, str]] = [
    ("run_time", "f"),  # 0, s since the session began
    ("lap_time", "f"),  # 1, s: the stage time in rally
    ("lap_distance", "f"),  # 2, m from the start line (negative before it)
    ("progress", "f"),  # 3: "total distance"; the fraction of the stage done, 0 to 1, in rally
    ("position_x", "f"),  # 4, m
    ("position_y", "f"),
    ("position_z", "f"),
    ("speed", "f"),  # 7, m/s
    ("velocity_x", "f"),
    ("velocity_y", "f"),
    ("velocity_z", "f"),
    ("roll_x", "f"),  # 11: the car's left direction
    ("roll_y", "f"),
    ("roll_z", "f"),
    ("pitch_x", "f"),  # 14: the car's forward direction
    ("pitch_y", "f"),
    ("pitch_z", "f"),
    *per_wheel("suspension_position", "f", WHEELS),  # 17, mm
    *per_wheel("suspension_velocity", "f", WHEELS),  # 21, mm/s
    *per_wheel("wheel_speed", "f", WHEELS),  # 25, m/s
    ("throttle", "f"),  # 29, 0 to 1
    ("steer", "f"),  # -1 to 1
    ("brake", "f"),
    ("clutch", "f"),
    ("gear", "f"),  # 33: 0 neutral, 1.. forward; reverse is -1 (10 in DiRT Rally 2.0)
    ("g_force_lateral", "f"),
    ("g_force_longitudinal", "f"),
    ("lap", "f"),  # 36, from 0
    ("engine_rate", "f"),  # 37, rad/s (see above)
    ("sli_pro_support", "f"),
    ("race_position", "f"),  # 39
    ("kers_level", "f"),
    ("kers_max_level", "f"),
    ("drs", "f"),
    ("traction_control", "f"),
    ("abs", "f"),
    ("fuel", "f"),  # 45
    ("fuel_capacity", "f"),
    ("in_pit", "f"),
    ("sector", "f"),
    ("sector1_time", "f"),
    ("sector2_time", "f"),
    *per_wheel("brake_temp", "f", WHEELS),  # 51, degrees Celsius
    *per_wheel("tyre_pressure", "f", WHEELS),  # 55, psi
    ("team_info", "f"),  # 59
    ("total_laps", "f"),  # 60
    ("track_length", "f"),  # 61, m
    ("last_lap_time", "f"),  # 62, s
    ("max_engine_rate", "f"),  # 63, rad/s
    ("idle_engine_rate", "f"),  # 64, rad/s
    ("max_gears", "f"),  # 65
]

EXTRADATA3 = Layout("extradata3", 264, ROWS)
REVERSE_GEARS = (-1.0, 10.0)
