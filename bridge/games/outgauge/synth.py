"""A synthetic OutGauge stream, as Live for Speed or BeamNG.drive sends it, from the decoder's own layout.

`SyntheticGauge(GaugeConfig(source="beamng")).datagrams()` yields (send time, datagram) for `laps` laps:
speed, gear and rpm that agree, and the dashboard lights a driver sees (shift light near the limiter, ABS under
hard braking, traction control at full throttle in low gears, the handbrake while waiting at the start).
BeamNG's own fixed fields are reproduced: time 0 and the car "beam".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bridge.games.drive import Car, Drive
from bridge.games.flat_values import Layout
from bridge.games.outgauge.layouts import BEAMNG_CAR, FLAGS, LIGHTS, PLAIN, WITH_ID

CAR = Car(gear_ratios=(3.0, 2.1, 1.6, 1.3, 1.08), final_drive=4.0, idle_rpm=850.0, shift_rpm=7000.0,
          max_rpm=7500.0)  # fmt: skip
SOURCES = ("lfs", "beamng")
WAIT_AT_START_S = 2.0


@dataclass(frozen=True)
class GaugeConfig:
    source: str = "lfs"
    with_id: bool = False
    rate_hz: int = 60
    laps: int = 2
    seed: int = 1


def _bits(names: tuple[str, ...], table: dict[str, int]) -> int:
    return sum(1 << table[name] for name in names)


class SyntheticGauge:
    def __init__(self, config: GaugeConfig | None = None) -> None:
        self.config = config or GaugeConfig()
        if self.config.source not in SOURCES:
            raise ValueError(f"OutGauge source {self.config.source!r}: expected one of {', '.join(SOURCES)}")

    def datagrams(self) -> Iterator[tuple[float, bytes]]:
        c = self.config
        beamng = c.source == "beamng"
        layout = WITH_ID if c.with_id else PLAIN
        drive = Drive(CAR, track_m=2500.0, seed=c.seed)
        dt = 1.0 / c.rate_hz
        has = _bits(tuple(LIGHTS), LIGHTS)
        t = 0.0
        while t < WAIT_AT_START_S:  # on the grid: idling in neutral, handbrake on
            t += dt
            yield t, self._pack(layout, beamng, t, gear=0, speed=0.0, rpm=CAR.idle_rpm, throttle=0.0, brake=0.0,
                                fuel=1.0, lights=("handbrake",), has=has)  # fmt: skip
        while True:
            s = drive.step(dt)
            if s.lap > c.laps:
                return
            lights = []
            if s.rpm >= CAR.shift_rpm - 400:
                lights.append("shift")
            if s.brake > 0.6:
                lights.append("abs")
            if s.throttle >= 1.0 and s.gear <= 2:
                lights.append("tc")
            yield t + s.t, self._pack(layout, beamng, t + s.t, gear=s.gear, speed=s.speed_ms, rpm=s.rpm,
                                      throttle=s.throttle, brake=s.brake, fuel=s.fuel_l / CAR.fuel_capacity_l,
                                      lights=tuple(lights), has=has)  # fmt: skip

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        """The shape `bridge.games.sender` sends: one datagram per frame."""
        for t, datagram in self.datagrams():
            yield t, [datagram]

    @staticmethod
    def _pack(layout: Layout, beamng: bool, t: float, *, gear: int, speed: float, rpm: float, throttle: float,
              brake: float, fuel: float, lights: tuple[str, ...], has: int) -> bytes:  # fmt: skip
        fields = {
            "time_ms": 0 if beamng else round(t * 1000),
            "car": BEAMNG_CAR if beamng else b"XRT",
            "flags": _bits(("prefers_km", "prefers_bar", "turbo_gauge"), FLAGS),
            "gear_raw": gear + 1,
            "plid": 0 if beamng else 1,
            "speed": speed,
            "rpm": rpm,
            "turbo": 0.6 * throttle,
            "engine_temp": 90.0,
            "fuel": fuel,
            "oil_pressure": 3.0,
            "oil_temp": 95.0,
            "dash_lights": has,
            "show_lights": _bits(lights, LIGHTS),
            "throttle": throttle,
            "brake": brake,
            "clutch": 0.0,
            "display1": f"Fuel {fuel:.0%}".encode(),
            "display2": b"" if beamng else b"Brake bal 58%",
        }
        if "id" in layout.index:
            fields["id"] = 7
        return layout.pack(fields)
