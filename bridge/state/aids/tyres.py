"""The tyre model: wear per wheel per lap over the stint (a least-squares line, not the last lap alone), laps
until the wear limit per wheel, and the wear predicted at the finish.

Fed with the player's per-wheel wear once per completed lap (and at lights out), against laps completed; a new set
(another stint, or wear going down) starts the fit again. Nothing per packet.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SAMPLES = 60  # per stint: a stint longer than this is fitted over its latest laps
MIN_RATE = 0.01  # % per lap: below this a wheel is not wearing (laps to the limit unknown)
NEW_SET_DROP = 1.0  # wear going down by more than this (%) is another set of tyres


@dataclass(frozen=True, slots=True)
class TyreEstimate:
    """Per wheel in the game's order (RL, RR, FL, FR): what the model says at the line of `lap`."""

    lap: int
    wear_pct: tuple[float, ...]
    rate_pct_per_lap: tuple[float | None, ...]
    laps_to_limit: tuple[float | None, ...]
    wear_at_finish_pct: tuple[float | None, ...]
    laps_left: float | None  # the first wheel to reach the limit


class TyreModel:
    __slots__ = ("estimate", "samples", "stint")

    def __init__(self) -> None:
        self.stint: object = None  # what identifies the set the samples are of
        self.samples: list[tuple[float, tuple[float, ...]]] = []  # (laps completed, wear per wheel)
        self.estimate: TyreEstimate | None = None


def slope(points: list[tuple[float, float]]) -> float | None:
    """The least-squares slope of y over x; None for fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def fit(samples: list[tuple[float, tuple[float, ...]]]) -> tuple[float | None, ...]:
    """The wear rate of each wheel over the samples (% per lap)."""
    wheels = len(samples[-1][1]) if samples else 0
    return tuple(slope([(x, wear[w]) for x, wear in samples]) for w in range(wheels))


def process_tyre_sample(model: TyreModel, stint: object, x: float, wear: tuple[float, ...]) -> None:
    """The wear of each wheel after `x` laps, on the set `stint` names."""
    last = model.samples[-1][1] if model.samples else None
    new_set = last is not None and (len(last) != len(wear) or any(w < v - NEW_SET_DROP for w, v in zip(wear, last)))
    if stint != model.stint or new_set:
        model.stint = stint
        model.samples = []
    model.samples = [s for s in model.samples if s[0] < x]  # a flashback: those laps are driven again
    model.samples.append((x, wear))
    if len(model.samples) > MAX_SAMPLES:
        del model.samples[0]


def process_tyre_line(model: TyreModel, stint: object, lap: int, wear: tuple[float, ...], limit_pct: float,
                      remaining_laps: float | None) -> TyreEstimate:
    """The player completed `lap` (`lap` laps done) with this wear: the fit, and what it predicts."""
    process_tyre_sample(model, stint, float(lap), wear)
    rates = fit(model.samples)
    to_limit = tuple(
        None if rate is None or rate < MIN_RATE else max(0.0, (limit_pct - w) / rate) for w, rate in zip(wear, rates)
    )
    at_finish = tuple(
        None if rate is None or remaining_laps is None else w + max(0.0, rate) * remaining_laps
        for w, rate in zip(wear, rates)
    )
    known = [laps for laps in to_limit if laps is not None]
    model.estimate = TyreEstimate(lap, wear, rates, to_limit, at_finish, min(known) if known else None)
    return model.estimate
