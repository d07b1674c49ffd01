"""`rigbridge synth --game outgauge`: a synthetic OutGauge stream sent as real UDP.

`--variant` picks the sender: lfs (the default), beamng, and either with "-id" for the 96-byte datagram that
carries an OutGauge ID.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.games.outgauge.synth import SOURCES, GaugeConfig, SyntheticGauge
from bridge.games.sender import synth_command

VARIANTS = (*SOURCES, *(f"{source}-id" for source in SOURCES))


def config_for(variant: str, *, rate: int, laps: int, seed: int) -> GaugeConfig:
    """Raises ValueError naming the choices when `variant` is not one of `VARIANTS`."""
    if variant not in VARIANTS:
        raise ValueError(f"--variant {variant!r}: OutGauge's are {', '.join(VARIANTS)}")
    source, _, with_id = variant.partition("-")
    return GaugeConfig(source=source, with_id=bool(with_id), rate_hz=rate, laps=laps, seed=seed)


def synth_main(
    *, to: str, variant: str | None, rate: int, duration: float | None, speed: float, seed: int, laps: int,
    err: TextIO = sys.stderr,
) -> int:  # fmt: skip
    variant = variant or VARIANTS[0]
    return synth_command(
        SyntheticGauge,
        lambda: config_for(variant, rate=rate, laps=laps, seed=seed),
        f"OutGauge as {variant}, {rate} Hz",
        to=to,
        duration=duration,
        speed=speed,
        err=err,
    )
