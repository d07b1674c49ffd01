"""OutGauge, Live for Speed's dashboard packet, also sent by BeamNG.drive: 92 bytes, 96 with the optional id.

The layout is Live for Speed's `OutGaugePack` (InSim documentation); BeamNG.drive documents the same struct
with a few fields fixed: `time` is always 0, `car` is always "beam", `plid` 0. Little-endian.
"""

from __future__ import annotations

from bridge.games.flat_values import Layout

ROWS: list[tuple[str, str]] = [
    ("time_ms", "I"),  # to check order (0 from BeamNG)
    ("car", "4s"),  # short car name ("XFG"), or "beam"
    ("flags", "H"),  # OG_* below
    ("gear_raw", "B"),  # 0 reverse, 1 neutral, 2 first...
    ("plid", "B"),  # the viewed player (0: none)
    ("speed", "f"),  # m/s
    ("rpm", "f"),
    ("turbo", "f"),  # bar
    ("engine_temp", "f"),  # degrees Celsius
    ("fuel", "f"),  # 0 to 1
    ("oil_pressure", "f"),  # bar
    ("oil_temp", "f"),  # degrees Celsius
    ("dash_lights", "I"),  # the lights this car has (DL_* bits)
    ("show_lights", "I"),  # the lights switched on now
    ("throttle", "f"),  # 0 to 1
    ("brake", "f"),
    ("clutch", "f"),
    ("display1", "16s"),  # usually fuel
    ("display2", "16s"),  # usually settings
]

PLAIN = Layout("outgauge", 92, ROWS)
WITH_ID = Layout("outgauge_id", 96, [*ROWS, ("id", "i")])  # when an OutGauge ID is configured
BY_SIZE: dict[int, Layout] = {PLAIN.size: PLAIN, WITH_ID.size: WITH_ID}

# Dashboard lights: bit positions in `dash_lights` and `show_lights`, Live for Speed's DL_* names.
LIGHTS: dict[str, int] = {
    "shift": 0,  # the shift light
    "full_beam": 1,
    "handbrake": 2,
    "pit_limiter": 3,  # the pit speed limiter
    "tc": 4,  # traction control active
    "signal_left": 5,
    "signal_right": 6,
    "signal_any": 7,  # shared turn-signal light
    "oil_warning": 8,
    "battery": 9,
    "abs": 10,  # anti-lock brakes active
}

# `flags`: Live for Speed's OG_* bits.
FLAGS: dict[str, int] = {
    "shift_key": 0,  # the shift key is held
    "ctrl_key": 1,
    "turbo_gauge": 13,  # show a turbo gauge
    "prefers_km": 14,  # the player prefers km/h (else mph)
    "prefers_bar": 15,  # the player prefers bar (else psi)
}

BEAMNG_CAR = b"beam"
