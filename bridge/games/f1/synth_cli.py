"""`rigbridge synth` for F1: the command's options mapped to the synthetic race."""

from __future__ import annotations

from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.synth_plan import SynthOptions, SynthPlan


def plan(options: SynthOptions) -> SynthPlan:
    """`--format` (default 2025) and `--cars` (default 22); `--variant` (the other games') is refused."""
    options.refuse("f1", "variant")
    packet_format = 2025 if options.packet_format is None else options.packet_format
    cars = 22 if options.cars is None else options.cars
    config = SynthConfig(packet_format=packet_format, cars=cars, rate_hz=options.rate, laps=options.laps,
                         seed=options.seed)
    return SynthPlan(SyntheticRace, config, f"format {packet_format}, {cars} cars, {options.rate} Hz")
