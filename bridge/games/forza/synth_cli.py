"""`rigbridge synth --game forza`: the synthetic Forza race sent as real UDP (one datagram per frame)."""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.games.forza.synth import ForzaRace, SynthConfig
from bridge.games.sender import synth_command


def synth_main(
    *,
    to: str,
    variant: str,
    rate: int,
    cars: int,
    duration: float | None,
    speed: float,
    seed: int,
    laps: int,
    err: TextIO = sys.stderr,
) -> int:
    return synth_command(
        ForzaRace,
        lambda: SynthConfig(variant=variant, cars=cars, rate_hz=rate, laps=laps, seed=seed),
        f"Forza {variant}, {cars} cars, {rate} Hz",
        to=to,
        duration=duration,
        speed=speed,
        err=err,
    )
