"""`rigbridge synth --game forza`: the options mapped to the synthetic Forza race (one datagram per frame)."""

from __future__ import annotations

from bridge.games.forza.layouts import BY_KEY
from bridge.games.forza.synth import ForzaRace, SynthConfig
from bridge.games.synth_plan import SynthOptions, SynthPlan

VARIANTS = tuple(BY_KEY)
DEFAULT_VARIANT = "motorsport"


def plan(options: SynthOptions) -> SynthPlan:
    """`--variant` picks the datagram (motorsport the default), `--cars` the field (default 12)."""
    options.refuse("forza", "packet_format")
    variant = options.variant or DEFAULT_VARIANT
    if variant not in VARIANTS:
        raise ValueError(f"--variant {variant!r}: Forza's are {', '.join(VARIANTS)}")
    cars = 12 if options.cars is None else options.cars
    config = SynthConfig(variant=variant, cars=cars, rate_hz=options.rate, laps=options.laps, seed=options.seed)
    return SynthPlan(ForzaRace, config, f"Forza {variant}, {cars} cars, {options.rate} Hz")
