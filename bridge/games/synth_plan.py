"""What `rigbridge synth` asks of a game: the command's options in, the game's generator and its config out.

Each game's `synth_cli.plan(options)` maps the options that mean something to it and refuses the others; the
registry lists the plans, and `bridge.games.sender.synth_command` sends whatever a plan returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MakeRace = Callable[[Any], Any]  # a game's generator, from a dataclass config that has a `seed`


@dataclass(frozen=True)
class SynthOptions:
    """What `rigbridge synth` was given; each game takes the ones that mean something to it (None: not given)."""

    rate: int = 60
    laps: int = 5
    seed: int = 1
    variant: str | None = None
    packet_format: int | None = None
    cars: int | None = None

    def refuse(self, game: str, *names: str) -> None:
        """Raises ValueError naming the first of `names` that was given: an option `game` does not take."""
        for name in names:
            if getattr(self, name) is not None:
                flag = "--format" if name == "packet_format" else f"--{name}"
                raise ValueError(f"{flag} is not an option of --game {game}")


@dataclass(frozen=True)
class SynthPlan:
    """A game's answer to the options: its generator, the generator's config, and a line for people."""

    make_race: MakeRace
    config: Any
    describe: str
