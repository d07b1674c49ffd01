"""The weather forecast: the game's samples for the running session, and the rain chance of the nearest one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ForecastSample:
    """One forecast sample; ids are the game's enumerations (weather, temperatureChange)."""

    offset_min: int  # minutes from now
    weather_id: int
    track_temp_c: int
    track_trend_id: int
    air_temp_c: int
    air_trend_id: int
    rain_pct: int


def next_sample(samples: tuple[ForecastSample, ...]) -> ForecastSample | None:
    """The nearest sample ahead of now (the one for now when there is no other)."""
    ahead = [s for s in samples if s.offset_min > 0]
    if ahead:
        return min(ahead, key=lambda s: s.offset_min)
    return samples[0] if samples else None
