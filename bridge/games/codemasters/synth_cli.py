"""`rigbridge synth --game codemasters`: the options mapped to a synthetic rally stage (extradata 3)."""

from __future__ import annotations

from bridge.games.codemasters.synth import StageConfig, SyntheticStage
from bridge.games.synth_plan import SynthOptions, SynthPlan

STAGE_M_PER_LAP = 2500.0  # `--laps` sets the stage length: a stage has no laps


def plan(options: SynthOptions) -> SynthPlan:
    """One car and one packet: only the rate, the seed and the stage length (`--laps`) apply."""
    options.refuse("codemasters", "packet_format", "cars", "variant")
    length = STAGE_M_PER_LAP * options.laps
    config = StageConfig(length_m=length, rate_hz=options.rate, seed=options.seed)
    return SynthPlan(SyntheticStage, config,
                     f"Codemasters extradata 3, a {length / 1000:g} km stage, {options.rate} Hz")
