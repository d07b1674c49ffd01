"""What a synthetic race is asked for (`SynthConfig`), what it yields (`Datagram`), and one run's fixed facts."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

from bridge.games.f1 import enums
from bridge.games.f1.layouts import LAYOUTS, SUPPORTED_FORMATS, PacketLayout
from bridge.games.f1.synth.car import HARD, MEDIUM, SOFT, actual_compound
from bridge.games.f1.synth.track import TrackModel
from bridge.games.f1.tracks import TRACKS

RATES = (10, 20, 30, 60)


@dataclass(frozen=True)
class SynthConfig:
    packet_format: int = 2025
    cars: int = 22  # 2..22 (2..24 for format 2026)
    rate_hz: int = 60  # menu send rate: 10, 20, 30 or 60
    laps: int = 5
    track_id: int | None = None  # None: pick a real track for the format (seeded)
    seed: int = 1
    player_index: int = 0  # 255 = spectating (no player car)
    safety_car: bool = True  # one safety car phase mid-race (2024+ sends SCAR events; 2023 just safetyCarStatus)
    pit_stops: bool = True  # every car pits once (tyre change, pitStatus 1->2->1->0, numPitStops, stint history)
    # Off by default, so the race the benchmarks and the older tests were measured on stays the same:
    penalty: bool = False  # a 5 s time penalty for the lap-1 touch (PENA, LapData penalties, the classification)
    retirement: bool = False  # one car retires late in the race (RTMT, resultStatus retired, classified last)
    session_uid: int | None = None  # None: derived from the seed (non-zero)

    def __post_init__(self) -> None:
        if self.packet_format not in SUPPORTED_FORMATS:
            raise ValueError(f"packet_format {self.packet_format} not supported (one of {SUPPORTED_FORMATS})")
        slots = LAYOUTS.num_cars[self.packet_format]
        if not 2 <= self.cars <= slots:
            raise ValueError(f"cars must be 2..{slots} in format {self.packet_format} (got {self.cars})")
        if self.rate_hz not in RATES:
            raise ValueError(f"rate_hz must be one of {RATES} (got {self.rate_hz})")
        if not 1 <= self.laps <= 100:
            raise ValueError(f"laps must be 1..100 (got {self.laps})")
        if self.track_id is not None and (
            self.track_id not in TRACKS or self.track_id not in enums.table("trackId", self.packet_format)
        ):
            raise ValueError(f"track_id {self.track_id} is not a track of format {self.packet_format}")
        if self.player_index != 255 and not 0 <= self.player_index < self.cars:
            raise ValueError(f"player_index must be 0..{self.cars - 1} or 255 (got {self.player_index})")
        if self.session_uid is not None and not 0 < self.session_uid < 2**64:
            raise ValueError("session_uid must be a non-zero u64")


@dataclass(frozen=True, slots=True)
class Datagram:
    t: float  # seconds since the start of the session (the send time)
    data: bytes


class Params:
    """One play-through's fixed facts: the config, the track, the start times, the noise table, the layouts."""

    def __init__(
        self,
        cfg: SynthConfig,
        track: TrackModel,
        uid: int,
        starts: tuple[float, float, float],
        rng: Random,
    ) -> None:
        self.cfg = cfg
        self.fmt = fmt = cfg.packet_format
        self.tm = track
        self.L = track.length
        self.rate = cfg.rate_hz
        self.dt = 1.0 / cfg.rate_hz
        self.slots = LAYOUTS.num_cars[fmt]
        self.n = cfg.cars
        self.player = cfg.player_index
        self.focus = self.player if self.player != 255 else 0  # car MotionEx describes (spectated car)
        self.uid = uid
        self.t_first_light, self.t_lights_out, self.est_lap_s = starts
        self.noise = [rng.uniform(-1.0, 1.0) for _ in range(4096)]
        self.layouts: dict[int, PacketLayout] = LAYOUTS.formats[fmt]
        self.pit_v = track.info.pit_speed_kph / 3.6
        hard = track.info.hardest_compound if fmt >= 2025 else min(track.info.hardest_compound, 3)
        self.compound_actual = {
            HARD: actual_compound(hard),
            MEDIUM: actual_compound(hard + 1),
            SOFT: actual_compound(hard + 2),
        }


Event = tuple[str, tuple[Any, ...]]  # (code, details in the order of the event's layout)
