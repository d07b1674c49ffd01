"""`rigbridge synth --game outgauge`: the options mapped to a synthetic OutGauge stream.

`--variant` picks the sender: lfs (the default), beamng, and either with "-id" for the 96-byte datagram that
carries an OutGauge ID.
"""

from __future__ import annotations

from bridge.games.outgauge.synth import SOURCES, GaugeConfig, SyntheticGauge
from bridge.games.synth_plan import SynthOptions, SynthPlan

VARIANTS = (*SOURCES, *(f"{source}-id" for source in SOURCES))


def plan(options: SynthOptions) -> SynthPlan:
    """One car; `--variant` names the sender."""
    options.refuse("outgauge", "packet_format", "cars")
    variant = options.variant or VARIANTS[0]
    if variant not in VARIANTS:
        raise ValueError(f"--variant {variant!r}: OutGauge's are {', '.join(VARIANTS)}")
    source, _, with_id = variant.partition("-")
    config = GaugeConfig(source=source, with_id=bool(with_id), rate_hz=options.rate, laps=options.laps,
                         seed=options.seed)
    return SynthPlan(SyntheticGauge, config, f"OutGauge as {variant}, {options.rate} Hz")
