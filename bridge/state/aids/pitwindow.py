"""Pit window and rejoin: where the player would come out after a stop made now.

The time a stop costs (pit-lane entry to exit, against driving past) depends on the track: `pit_loss.json` ships a
typical value per track (by the game's track slug), `pit.loss_s` in the configuration overrides it (globs over track
slugs, the last match wins). The rejoin estimate adds that loss to the player's gap to the leader and finds the cars
that would then be ahead: read when a reader asks, from the gaps of one packet.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from importlib import resources

DEFAULT_PIT_LOSS_S = 22.0  # a track the table does not know

PIT_LOSS_S: dict[str, float] = {
    name: float(seconds)
    for name, seconds in json.loads(
        resources.files("bridge.state.aids").joinpath("pit_loss.json").read_text(encoding="utf-8")
    )["pit_loss_s"].items()
}


def pit_loss_s(track: str | None, overrides: tuple[tuple[str, float], ...] = ()) -> float:
    """Seconds a stop costs at `track` (a track slug): the configured override, the table, or the default."""
    loss = PIT_LOSS_S.get(track or "", DEFAULT_PIT_LOSS_S)
    for pattern, seconds in overrides:
        if track is not None and fnmatch.fnmatchcase(track, pattern):
            loss = seconds
    return loss


@dataclass(frozen=True, slots=True)
class Rejoin:
    position: int  # the position the player would rejoin in
    behind: int | None  # the slot of the car the player would come out behind (None: in the lead)
    gap_ms: int | None  # to that car
    ahead_of: int | None  # the slot of the car the player would come out ahead of
    pit_loss_ms: int


def rejoin(player: int, gaps: dict[int, int], loss_s: float) -> Rejoin | None:
    """Where `player` rejoins after a stop costing `loss_s`, from every running car's gap to the leader (ms)."""
    mine = gaps.get(player)
    if mine is None or not math.isfinite(loss_s):
        return None
    loss_ms = round(loss_s * 1000)
    out_at = mine + loss_ms
    ahead = [(gap, i) for i, gap in gaps.items() if i != player and gap <= out_at]
    after = [(gap, i) for i, gap in gaps.items() if i != player and gap > out_at]
    nearest = max(ahead) if ahead else None
    follower = min(after) if after else None
    return Rejoin(
        len(ahead) + 1,
        None if nearest is None else nearest[1],
        None if nearest is None else out_at - nearest[0],
        None if follower is None else follower[1],
        loss_ms,
    )
