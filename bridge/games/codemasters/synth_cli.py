"""`rigbridge synth --game codemasters`: a synthetic rally stage sent as real UDP (extradata 3)."""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.games.codemasters.synth import StageConfig, SyntheticStage
from bridge.games.sender import synth_command

STAGE_M_PER_LAP = 2500.0  # `--laps` sets the stage length: a stage has no laps


def synth_main(
    *, to: str, rate: int, duration: float | None, speed: float, seed: int, laps: int, err: TextIO = sys.stderr
) -> int:
    length = STAGE_M_PER_LAP * laps
    return synth_command(
        SyntheticStage,
        lambda: StageConfig(length_m=length, rate_hz=rate, seed=seed),
        f"Codemasters extradata 3, a {length / 1000:g} km stage, {rate} Hz",
        to=to,
        duration=duration,
        speed=speed,
        err=err,
    )
