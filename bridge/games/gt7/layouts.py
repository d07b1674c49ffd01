"""Gran Turismo 7's "Simulator Interface" packet, as data, compiled once per variant.

Polyphony Digital does not publish the layout; these offsets are the ones the public decoders agree on
(Nenkai's PDTools, zetetos/gt-telemetry's Kaitai description, snipem/gt7dashboard). The console sends one of
several variants, chosen by the heartbeat the listener sends, told apart by the exact size:

- 296 bytes, heartbeat "A": the original packet.
- 316 bytes, heartbeat "B": plus steering angle and the body's translational motion.
- 344 bytes, heartbeat "~": plus raw throttle and brake, torque vectoring and energy recovery.
- 368 bytes: the packet of the real recording in the test captures (later game versions): "~" plus 24 bytes,
  of which the surface under each wheel and a running time in ms are evident; the rest is kept as unknown.

Little-endian throughout; units as sent: m, m/s, rad/s, rpm, bar (absolute), degrees Celsius, ms.
"""

from __future__ import annotations

from bridge.games.flat import FlatLayout, per_wheel

MAGIC = b"0S7G"  # "G7S0" read as a little-endian u32; GT6 sent it the other way round
IV_OFFSET = 0x40  # the Salsa20 IV travels in clear text in place of this field

STANDARD: list[tuple[str, str]] = [
    ("magic", "4s"),  # 0x00
    ("position_x", "f"),
    ("position_y", "f"),
    ("position_z", "f"),
    ("velocity_x", "f"),  # 0x10, m/s
    ("velocity_y", "f"),
    ("velocity_z", "f"),
    ("rotation_pitch", "f"),  # 0x1C, -1 to 1
    ("rotation_yaw", "f"),
    ("rotation_roll", "f"),
    ("heading", "f"),  # 0x28, 0 south to 1 north
    ("angular_velocity_x", "f"),  # 0x2C, rad/s
    ("angular_velocity_y", "f"),
    ("angular_velocity_z", "f"),
    ("ride_height", "f"),  # 0x38, m
    ("rpm", "f"),  # 0x3C
    ("iv", "I"),  # 0x40: the cipher's IV slot, meaningless once decrypted
    ("fuel", "f"),  # 0x44, litres (or kWh for electric cars)
    ("fuel_capacity", "f"),
    ("speed", "f"),  # 0x4C, m/s
    ("manifold_pressure", "f"),  # 0x50, bar absolute: boost is this minus 1
    ("oil_pressure", "f"),
    ("water_temp", "f"),
    ("oil_temp", "f"),
    *per_wheel("tyre_temp", "f"),  # 0x60
    ("packet_id", "I"),  # 0x70, counts up by one per packet
    ("lap", "h"),  # 0x74, the lap being driven (0 before the start)
    ("laps_in_race", "h"),  # 0 outside races
    ("best_lap_ms", "i"),  # 0x78, -1 while not set
    ("last_lap_ms", "i"),
    ("time_of_day_ms", "I"),  # 0x80, the clock on track
    ("race_position", "h"),  # 0x84, -1 when not racing
    ("cars", "h"),  # entrants, -1 when not racing
    ("rpm_warning", "H"),  # 0x88: the rev lights start here...
    ("rpm_limiter", "H"),  # ...and the limiter is here
    ("top_speed_kmh", "h"),  # 0x8C, the car's estimated top speed
    ("flags", "H"),  # 0x8E, see FLAGS
    ("gears", "B"),  # 0x90: low nibble current gear, high nibble suggested gear
    ("throttle_raw", "B"),  # 0 to 255, after traction control
    ("brake_raw", "B"),  # 0 to 255
    ("unknown_0x93", "B"),
    ("road_plane_x", "f"),  # 0x94
    ("road_plane_y", "f"),
    ("road_plane_z", "f"),
    ("road_plane_distance", "f"),
    *per_wheel("wheel_rps", "f"),  # 0xA4, rad/s
    *per_wheel("tyre_radius", "f"),  # 0xB4, m
    *per_wheel("suspension_height", "f"),  # 0xC4, m
    ("unknown_0xd4", "32s"),
    ("clutch", "f"),  # 0xF4, 0 to 1
    ("clutch_engagement", "f"),
    ("clutch_rpm", "f"),  # rpm on the gearbox side of the clutch
    ("top_gear_ratio", "f"),  # 0x100
    *[(f"gear_ratio_{n}", "f") for n in range(1, 9)],  # 0x104
    ("car_id", "i"),  # 0x124
]

MOTION: list[tuple[str, str]] = [
    ("steering_rad", "f"),  # 0x128
    ("steering_ffb", "f"),  # unverified
    ("sway", "f"),
    ("heave", "f"),
    ("surge", "f"),
]

EXTRAS: list[tuple[str, str]] = [
    ("throttle_input_raw", "B"),  # 0x13C, the pedal before traction control
    ("brake_output_raw", "B"),  # after ABS
    ("unknown_0x13e", "B"),
    ("unknown_0x13f", "B"),
    *per_wheel("torque_vectoring", "f"),  # 0x140, meaning unverified
    ("energy_recovery", "f"),  # 0x150
    ("unknown_0x154", "f"),
]

LATER: list[tuple[str, str]] = [
    ("wheel_surface", "4s"),  # 0x158, one letter per wheel (seen: T on tarmac, C on kerbs, G off track)
    ("time_ms", "I"),  # 0x15C, counts ms with the packets (34 at the recording's first, 115,250 at its last)
    ("unknown_0x160", "f"),
    ("unknown_0x164", "f"),
    ("unknown_0x168", "f"),
    ("unknown_0x16c", "4s"),  # b"GRX\0" in every packet of the recording
]

# Bit positions in `flags`.
FLAGS: dict[str, int] = {
    "in_race": 0,  # the car is on track in a live session (not in a replay or the menus)
    "paused": 1,
    "loading": 2,  # loading or processing
    "in_gear": 3,
    "has_turbo": 4,
    "rev_limiter": 5,  # the rev-limiter warning is flashing
    "handbrake": 6,
    "lights": 7,
    "high_beam": 8,
    "low_beam": 9,
    "asm": 10,  # stability management intervening
    "tcs": 11,  # traction control intervening
}

NO_SUGGESTED_GEAR = 15  # the high nibble when the game suggests no gear


class Variant(FlatLayout):
    """A packet layout and the heartbeat that asks the console for it."""

    __slots__ = ("heartbeat",)

    def __init__(self, name: str, size: int, rows: list[tuple[str, str]], heartbeat: bytes) -> None:
        super().__init__(name, size, rows)
        self.heartbeat = heartbeat

    @property
    def key(self) -> str:
        """The name packets of this variant are counted under (`rigbridge_datagrams_decoded{packet=...}`)."""
        return f"gt7_{self.size}"


PACKET_A = Variant("A", 296, STANDARD, b"A")
PACKET_B = Variant("B", 316, STANDARD + MOTION, b"B")
PACKET_TILDE = Variant("~", 344, STANDARD + MOTION + EXTRAS, b"~")
# Which heartbeat produces the 368-byte packet is not documented; the recording's game sent it to "~" listeners.
PACKET_368 = Variant("368", 368, STANDARD + MOTION + EXTRAS + LATER, b"~")

VARIANTS: tuple[Variant, ...] = (PACKET_A, PACKET_B, PACKET_TILDE, PACKET_368)
BY_SIZE: dict[int, Variant] = {v.size: v for v in VARIANTS}
HEARTBEATS: tuple[bytes, ...] = (b"A", b"B", b"~")
