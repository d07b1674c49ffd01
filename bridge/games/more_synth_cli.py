"""`rigbridge synth --game gt7|codemasters|outgauge`: the options those games take, then their own synth.

F1's `--format` and the race's `--cars` mean nothing to them (one car sends); `--variant` takes each game's own
names: GT7's packet sizes (296, 316, 344, 368), OutGauge's senders (lfs, beamng, lfs-id, beamng-id);
Codemasters has one packet. A wrong option is named in one line (exit 2).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bridge.games.codemasters import synth_cli as codemasters
from bridge.games.gt7 import synth_cli as gt7
from bridge.games.outgauge import synth_cli as outgauge

GAMES = ("gt7", "codemasters", "outgauge")
VARIANTS = (*gt7.VARIANTS, *outgauge.VARIANTS)  # what `--variant` accepts besides Forza's


def synth_main(
    game: str,
    *,
    to: str,
    variant: str | None,
    packet_format: int | None,
    cars: int | None,
    rate: int,
    duration: float | None,
    speed: float,
    seed: int,
    laps: int,
    err: TextIO = sys.stderr,
) -> int:
    for option, given in (("--format", packet_format), ("--cars", cars)):
        if given is not None:
            print(f"rigbridge synth: {option} is not an option of --game {game}", file=err)
            return 2
    common: dict[str, Any] = dict(to=to, rate=rate, duration=duration, speed=speed, seed=seed, laps=laps, err=err)
    if game == "gt7":
        return gt7.synth_main(variant=variant, **common)
    if game == "outgauge":
        return outgauge.synth_main(variant=variant, **common)
    if variant is not None:
        print("rigbridge synth: --variant is not an option of --game codemasters (it has one packet)", file=err)
        return 2
    return codemasters.synth_main(**common)
