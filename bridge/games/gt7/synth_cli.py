"""`rigbridge synth --game gt7`: the synthetic GT7 race sent as real UDP, encrypted as the console sends it.

A real console streams only to a listener that sends heartbeats; this sends without waiting for any, to test a
listener or a recording. `--variant` is the packet size: 296 ("A"), 316 ("B"), 344 ("~", the default) or 368.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.games.gt7.layouts import BY_SIZE
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7
from bridge.games.sender import synth_command

VARIANTS = tuple(str(size) for size in BY_SIZE)
DEFAULT_VARIANT = "344"


def config_for(variant: str, *, rate: int, laps: int, seed: int) -> Gt7SynthConfig:
    """Raises ValueError naming the choices when `variant` is not a GT7 packet size."""
    if variant not in VARIANTS:
        raise ValueError(f"--variant {variant!r}: GT7's are {', '.join(VARIANTS)} (packet sizes in bytes)")
    chosen = BY_SIZE[int(variant)]
    return Gt7SynthConfig(heartbeat=chosen.heartbeat, variant=chosen, rate_hz=rate, laps=laps, seed=seed)


def synth_main(
    *, to: str, variant: str | None, rate: int, duration: float | None, speed: float, seed: int, laps: int,
    err: TextIO = sys.stderr,
) -> int:  # fmt: skip
    variant = variant or DEFAULT_VARIANT
    return synth_command(
        SyntheticGt7,
        lambda: config_for(variant, rate=rate, laps=laps, seed=seed),
        f"Gran Turismo 7, {variant}-byte packets, {rate} Hz",
        to=to,
        duration=duration,
        speed=speed,
        err=err,
    )
