"""Forza "Data Out" layouts as data, compiled once into `struct.Struct`.

Turn 10 publishes one structure that grew in steps; each game sends one of four variants, told apart only by
the datagram's exact size (there is no header, no magic and no version field):

- Sled (232 bytes): Forza Motorsport 7's "Sled" format: motion, wheels, car identity.
- Dash (311 bytes): Forza Motorsport 7's "Car Dash" format: Sled plus position, speed, lap times, inputs.
- Horizon (324 bytes): Forza Horizon 4 and 5: Dash with 12 undocumented bytes after the Sled block and one
  byte after the Dash block.
- Motorsport (331 bytes): Forza Motorsport (2023) in "Dash": Dash plus tyre wear per wheel and the track.

Every table row is (name as Turn 10 writes it, struct letter). Units as the game sends them are in `UNITS`:
speed in m/s, tyre temperatures in degrees Fahrenheit, fuel and tyre wear as fractions, lap times in seconds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from bridge.games.f1.layouts import snake

WHEELS = ("FrontLeft", "FrontRight", "RearLeft", "RearRight")


def _per_wheel(name: str, letter: str) -> list[tuple[str, str]]:
    return [(f"{name}{wheel}", letter) for wheel in WHEELS]


SLED: list[tuple[str, str]] = [
    ("IsRaceOn", "i"),  # 1 while racing, 0 in menus or when the race is stopped
    ("TimestampMS", "I"),  # wraps to 0 eventually
    ("EngineMaxRpm", "f"),
    ("EngineIdleRpm", "f"),
    ("CurrentEngineRpm", "f"),
    ("AccelerationX", "f"),  # car space: X right, Y up, Z forward
    ("AccelerationY", "f"),
    ("AccelerationZ", "f"),
    ("VelocityX", "f"),
    ("VelocityY", "f"),
    ("VelocityZ", "f"),
    ("AngularVelocityX", "f"),  # X pitch, Y yaw, Z roll
    ("AngularVelocityY", "f"),
    ("AngularVelocityZ", "f"),
    ("Yaw", "f"),
    ("Pitch", "f"),
    ("Roll", "f"),
    *_per_wheel("NormalizedSuspensionTravel", "f"),  # 0 fully stretched, 1 fully compressed
    *_per_wheel("TireSlipRatio", "f"),  # 0 full grip, |x| > 1 grip lost
    *_per_wheel("WheelRotationSpeed", "f"),
    *_per_wheel("WheelOnRumbleStrip", "i"),
    *_per_wheel("WheelInPuddleDepth", "f"),
    *_per_wheel("SurfaceRumble", "f"),
    *_per_wheel("TireSlipAngle", "f"),
    *_per_wheel("TireCombinedSlip", "f"),
    *_per_wheel("SuspensionTravelMeters", "f"),
    ("CarOrdinal", "i"),
    ("CarClass", "i"),  # enums.CAR_CLASS
    ("CarPerformanceIndex", "i"),  # 100 to 999
    ("DrivetrainType", "i"),  # enums.DRIVETRAIN
    ("NumCylinders", "i"),
]

DASH: list[tuple[str, str]] = [
    ("PositionX", "f"),
    ("PositionY", "f"),
    ("PositionZ", "f"),
    ("Speed", "f"),
    ("Power", "f"),
    ("Torque", "f"),
    *_per_wheel("TireTemp", "f"),
    ("Boost", "f"),
    ("Fuel", "f"),
    ("DistanceTraveled", "f"),
    ("BestLap", "f"),
    ("LastLap", "f"),
    ("CurrentLap", "f"),
    ("CurrentRaceTime", "f"),
    ("LapNumber", "H"),  # laps completed, from 0
    ("RacePosition", "B"),
    ("Accel", "B"),  # 0 to 255
    ("Brake", "B"),
    ("Clutch", "B"),
    ("HandBrake", "B"),
    ("Gear", "B"),  # 0 reverse, 1.. forward gears, 11 neutral (enums.NEUTRAL_GEAR)
    ("Steer", "b"),  # -127 full left to 127 full right
    ("NormalizedDrivingLine", "b"),
    ("NormalizedAIBrakeDifference", "b"),
]

# Forza Horizon's 12 bytes between the Sled and the Dash blocks are not documented; the community reads the
# first four as a car category. They are kept as numbers so that a datagram encodes back byte for byte.
HORIZON_GAP: list[tuple[str, str]] = [
    ("HorizonCarCategory", "i"),
    ("HorizonUnknown1", "i"),
    ("HorizonUnknown2", "i"),
]
HORIZON_TAIL: list[tuple[str, str]] = [("HorizonUnknown3", "B")]

MOTORSPORT_EXTRAS: list[tuple[str, str]] = [
    *_per_wheel("TireWear", "f"),  # fraction worn: 0 new, 1 gone
    ("TrackOrdinal", "i"),
]

UNITS: dict[str, str] = {
    "TimestampMS": "ms",
    **{name: "rpm" for name in ("EngineMaxRpm", "EngineIdleRpm", "CurrentEngineRpm")},
    **{f"Acceleration{axis}": "m/s²" for axis in "XYZ"},
    **{f"Velocity{axis}": "m/s" for axis in "XYZ"},
    **{f"AngularVelocity{axis}": "rad/s" for axis in "XYZ"},
    **{name: "rad" for name in ("Yaw", "Pitch", "Roll")},
    **{f"WheelRotationSpeed{w}": "rad/s" for w in WHEELS},
    **{f"SuspensionTravelMeters{w}": "m" for w in WHEELS},
    **{f"Position{axis}": "m" for axis in "XYZ"},
    "Speed": "m/s",
    "Power": "W",
    "Torque": "N·m",
    **{f"TireTemp{w}": "°F" for w in WHEELS},
    "Boost": "psi",
    "Fuel": "fraction (0-1)",
    "DistanceTraveled": "m",
    **{name: "s" for name in ("BestLap", "LastLap", "CurrentLap", "CurrentRaceTime")},
    **{f"TireWear{w}": "fraction (0-1)" for w in WHEELS},
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # Turn 10's name
    key: str  # snake_case, as `rigbridge decode` prints it
    type: str  # struct letter
    index: int  # position in the datagram's flat tuple


@dataclass(frozen=True, eq=False)
class Variant:
    """One of the four datagram layouts: its exact size, its fields and its compiled `Struct`."""

    key: str  # "sled", "dash", "horizon", "motorsport"
    name: str
    fields: tuple[Field, ...]
    struct: struct.Struct
    by_name: dict[str, Field] = field(repr=False)  # Turn 10's names and the snake_case keys

    @property
    def size(self) -> int:
        return self.struct.size

    def index(self, name: str) -> int:
        """Position of a field (either spelling) in the flat tuple."""
        return self.by_name[name].index


def _variant(key: str, name: str, size: int, rows: list[tuple[str, str]]) -> Variant:
    fields = tuple(Field(n, snake(n), letter, i) for i, (n, letter) in enumerate(rows))
    compiled = struct.Struct("<" + "".join(letter for _, letter in rows))
    if compiled.size != size:
        raise ValueError(f"Forza {key} layout compiles to {compiled.size} bytes, not {size}")
    by_name = {**{f.name: f for f in fields}, **{f.key: f for f in fields}}
    return Variant(key, name, fields, compiled, by_name)


SLED_VARIANT = _variant("sled", "Forza Motorsport 7 Sled", 232, SLED)
DASH_VARIANT = _variant("dash", "Forza Motorsport 7 Car Dash", 311, SLED + DASH)
HORIZON_VARIANT = _variant("horizon", "Forza Horizon 4/5", 324, SLED + HORIZON_GAP + DASH + HORIZON_TAIL)
MOTORSPORT_VARIANT = _variant("motorsport", "Forza Motorsport (2023) Dash", 331, SLED + DASH + MOTORSPORT_EXTRAS)

VARIANTS: tuple[Variant, ...] = (SLED_VARIANT, DASH_VARIANT, HORIZON_VARIANT, MOTORSPORT_VARIANT)
BY_SIZE: dict[int, Variant] = {v.size: v for v in VARIANTS}
BY_KEY: dict[str, Variant] = {v.key: v for v in VARIANTS}
SIZES: tuple[int, ...] = tuple(BY_SIZE)
