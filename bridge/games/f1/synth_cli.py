"""`rigbridge synth` for F1: the synthetic race sent as real UDP, paced like the game sends it.

The sending itself is game-neutral (`bridge.games.sender`); this module binds it to F1's generator.
`send_race()` is shared with `rigbridge demo`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.sender import SendCounters, send_frames, synth_command

__all__ = ["SendCounters", "send_race", "synth_main"]


async def send_race(
    config: SynthConfig,
    target: tuple[str, int],
    *,
    speed: float = 1.0,
    duration: float | None = None,
    counters: SendCounters | None = None,
    stop: asyncio.Event | None = None,
) -> SendCounters:
    """F1 races, one after another, to `target` (see `bridge.games.sender.send_frames`)."""
    return await send_frames(
        SyntheticRace, config, target, speed=speed, duration=duration, counters=counters, stop=stop
    )


def synth_main(
    *,
    to: str,
    rate: int,
    cars: int,
    packet_format: int,
    duration: float | None,
    speed: float,
    seed: int,
    laps: int,
    err: TextIO = sys.stderr,
) -> int:
    return synth_command(
        SyntheticRace,
        lambda: SynthConfig(packet_format=packet_format, cars=cars, rate_hz=rate, laps=laps, seed=seed),
        f"format {packet_format}, {cars} cars, {rate} Hz",
        to=to,
        duration=duration,
        speed=speed,
        err=err,
    )
