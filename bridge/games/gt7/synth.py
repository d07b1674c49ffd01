"""A synthetic GT7 race: packets of any variant, encrypted as the console sends them, from the decoder's layouts.

`SyntheticGt7(heartbeat=b"~").packets()` yields (send time, encrypted packet) at 60 Hz: a race of `laps`
laps with a grid, lap times, rev lights, fuel use and tyre temperatures consistent with speed, gear and rpm.
The same seed gives the same bytes (the IV of each packet comes from the seed too).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from bridge.games.drive import Car, Drive, Sample
from bridge.games.gt7 import crypto
from bridge.games.gt7.layouts import BY_SIZE, FLAGS, MAGIC, Variant

CAR = Car(gear_ratios=(3.2, 2.3, 1.8, 1.45, 1.2, 1.0), final_drive=4.1, shift_rpm=7600.0, max_rpm=8200.0)
CAR_ID = 3582
VARIANT_FOR_HEARTBEAT = {b"A": BY_SIZE[296], b"B": BY_SIZE[316], b"~": BY_SIZE[344]}


@dataclass(frozen=True)
class Gt7SynthConfig:
    heartbeat: bytes = b"~"  # which variant the listener asked for
    rate_hz: int = 60
    laps: int = 3
    cars: int = 16
    seed: int = 1
    variant: Variant | None = None  # overrides the heartbeat's own variant (the 368-byte one has no heartbeat)


def plain_packet(
    variant: Variant, s: Sample, *, packet_id: int, laps: int, position: int, cars: int, car: Car = CAR
) -> bytes:
    """One decrypted packet for the drive sample `s`."""
    on_limiter = s.rpm >= car.shift_rpm
    flags = 1 << FLAGS["in_race"] | 1 << FLAGS["in_gear"] | (1 << FLAGS["rev_limiter"] if on_limiter else 0)
    suggested = 15 if s.rpm < car.shift_rpm else min(s.gear + 1, len(car.gear_ratios))
    fields = {
        "magic": MAGIC,
        "rpm": s.rpm,
        "fuel": s.fuel_l,
        "fuel_capacity": car.fuel_capacity_l,
        "speed": s.speed_ms,
        "manifold_pressure": 1.0,
        "oil_pressure": 4.0 + s.rpm / 2000,
        "water_temp": 85.0,
        "oil_temp": 100.0 + s.throttle * 5,
        **{f"tyre_temp_{w}": s.tyre_temp_c for w in ("fl", "fr", "rl", "rr")},
        "packet_id": packet_id,
        "lap": s.lap,
        "laps_in_race": laps,
        "best_lap_ms": -1 if s.best_lap_s is None else round(s.best_lap_s * 1000),
        "last_lap_ms": -1 if s.last_lap_s is None else round(s.last_lap_s * 1000),
        "time_of_day_ms": 14 * 3600_000 + round(s.t * 1000),
        "race_position": position,
        "cars": cars,
        "rpm_warning": round(car.shift_rpm - 600),
        "rpm_limiter": round(car.max_rpm),
        "top_speed_kmh": 280,
        "flags": flags,
        "gears": suggested << 4 | s.gear,
        "throttle_raw": round(s.throttle * 255),
        "brake_raw": round(s.brake * 255),
        **{f"wheel_rps_{w}": -s.speed_ms / car.wheel_radius_m for w in ("fl", "fr", "rl", "rr")},
        **{f"tyre_radius_{w}": car.wheel_radius_m for w in ("fl", "fr", "rl", "rr")},
        "clutch_engagement": 1.0,
        "clutch_rpm": s.rpm,
        **{f"gear_ratio_{n}": r for n, r in enumerate(car.gear_ratios, start=1)},
        "car_id": CAR_ID,
        "unknown_0xd4": bytes(32),
    }
    if "throttle_input_raw" in variant.index:
        fields["throttle_input_raw"] = fields["throttle_raw"]
        fields["brake_output_raw"] = fields["brake_raw"]
    if "wheel_surface" in variant.index:
        fields["wheel_surface"] = b"TTTT"
        fields["time_ms"] = round(s.t * 1000)
    return variant.pack(fields)


class SyntheticGt7:
    def __init__(self, config: Gt7SynthConfig | None = None) -> None:
        self.config = config or Gt7SynthConfig()
        self.variant = self.config.variant or VARIANT_FOR_HEARTBEAT[self.config.heartbeat]

    def plain_packets(self) -> Iterator[tuple[float, bytes]]:
        """(send time, decrypted packet) until the chequered flag."""
        c = self.config
        drive = Drive(CAR, seed=c.seed)
        rng = random.Random(c.seed)
        position = rng.randint(1, c.cars)
        dt = 1.0 / c.rate_hz
        packet_id = rng.randint(1000, 900_000)
        while True:
            s = drive.step(dt)
            if s.lap > c.laps:
                return
            if rng.random() < 0.002:  # an overtake, now and then
                position = max(1, min(c.cars, position + rng.choice((-1, 1))))
            yield s.t, plain_packet(self.variant, s, packet_id=packet_id, laps=c.laps, position=position, cars=c.cars)
            packet_id += 1

    def packets(self) -> Iterator[tuple[float, bytes]]:
        """(send time, packet encrypted for the configured heartbeat's listener)."""
        rng = random.Random(self.config.seed ^ 0x5A17)
        for t, plain in self.plain_packets():
            yield t, crypto.encrypt(plain, rng.getrandbits(32), self.config.heartbeat)

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        """The shape `bridge.games.sender` sends: one encrypted packet per frame."""
        for t, packet in self.packets():
            yield t, [packet]

