"""`rigbridge synth --game gt7`: the options mapped to the synthetic GT7 race, encrypted as the console sends it.

A real console streams only to a listener that sends heartbeats; this sends without waiting for any, to test a
listener or a recording. `--variant` is the packet size: 296 ("A"), 316 ("B"), 344 ("~", the default) or 368.
"""

from __future__ import annotations

from bridge.games.gt7.layouts import BY_SIZE
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7
from bridge.games.synth_plan import SynthOptions, SynthPlan

VARIANTS = tuple(str(size) for size in BY_SIZE)
DEFAULT_VARIANT = "344"


def plan(options: SynthOptions) -> SynthPlan:
    """One car; `--variant` names the packet size."""
    options.refuse("gt7", "packet_format", "cars")
    variant = options.variant or DEFAULT_VARIANT
    if variant not in VARIANTS:
        raise ValueError(f"--variant {variant!r}: GT7's are {', '.join(VARIANTS)} (packet sizes in bytes)")
    chosen = BY_SIZE[int(variant)]
    config = Gt7SynthConfig(heartbeat=chosen.heartbeat, variant=chosen, rate_hz=options.rate, laps=options.laps,
                            seed=options.seed)
    return SynthPlan(SyntheticGt7, config, f"Gran Turismo 7, {variant}-byte packets, {options.rate} Hz")
