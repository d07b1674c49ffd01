"""F1's part of the racer's aids: its Session and TyreSets packets as the neutral rows `bridge/state/aids` keeps,
and the aids' entry points the F1 writer calls (one import for it).

Run when a Session packet changed (2 Hz) or the player's TyreSets packet arrives (about 1 Hz): never per
telemetry packet.
"""

from __future__ import annotations

from bridge.games.f1.codec import Packet
from bridge.state.aids.forecast import ForecastSample
from bridge.state.aids.hooks import (
    SessionState,
    process_aids_event,
    process_aids_flag,
    process_aids_forecast,
    process_aids_lap_data,
    process_aids_session,
    process_aids_tyre_sets,
)
from bridge.state.aids.state import TyreSet

__all__ = [
    "forecast_samples",
    "process_aids_event",
    "process_aids_flag",
    "process_aids_lap_data",
    "process_f1_aids_session",
    "process_f1_aids_tyre_sets",
    "tyre_sets",
]

FIRST_SAFETY_CAR_EVENTS = 2024  # from this format the game announces safety cars (SCAR); before, statuses only
MAX_SAMPLES = 64  # the packet's array


def forecast_samples(packet: Packet) -> tuple[ForecastSample, ...]:
    """The forecast samples of the session being run (the packet carries other sessions' too), by time offset."""
    count = min(packet["numWeatherForecastSamples"], MAX_SAMPLES)
    session = packet["sessionType"]
    rows = packet["weatherForecastSamples"]
    samples = {
        ForecastSample(row["timeOffset"], row["weather"], row["trackTemperature"], row["trackTemperatureChange"],
                       row["airTemperature"], row["airTemperatureChange"], row["rainPercentage"])
        for row in (rows[k] for k in range(count))
        if row["sessionType"] == session
    }
    return tuple(sorted(samples, key=lambda s: s.offset_min))


def tyre_sets(packet: Packet) -> tuple[TyreSet, ...]:
    fitted = packet["fittedIdx"]
    return tuple(
        TyreSet(row["visualTyreCompound"], row["actualTyreCompound"], row["wear"], bool(row["available"]),
                k == fitted, row["lifeSpan"], row["usableLife"])
        for k, row in enumerate(packet["tyreSetData"])
    )


def process_f1_aids_session(state: SessionState, packet: Packet) -> None:
    """A Session packet that changed: the forecast, the safety car's effect on the lap (and, before format 2024,
    its race-control messages)."""
    process_aids_forecast(state, forecast_samples(packet))
    process_aids_session(state, packet.packet_format < FIRST_SAFETY_CAR_EVENTS)


def process_f1_aids_tyre_sets(state: SessionState, packet: Packet) -> None:
    """The player's tyre sets (other cars' are not shown)."""
    if packet.values[12] == state.player_index:
        process_aids_tyre_sets(state, tyre_sets(packet))
