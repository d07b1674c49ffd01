"""The session state's records: immutable facts about laps, stints, events, penalties, pit stops and the final
classification, in game-neutral terms.

They sit below the containers (`session.py`) and the code that derives them (`derive.py`, `racelog.py`, the
racer's aids), which all import them from here; nothing here imports the rest of the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LOG = 64  # per car: penalties, warnings and pit stops kept (a race has a handful; a hostile stream no end)


@dataclass(frozen=True, slots=True)
class CompletedLap:
    lap: int
    time_ms: int
    sectors_ms: tuple[int, int, int]
    valid: bool
    sector_colours: tuple[str, str, str] = ("", "", "")  # purple (overall best), green (personal best), yellow


@dataclass(frozen=True, slots=True)
class Stint:
    """Laps on one set of tyres. The in-lap is the last lap of the stint that ends (as the game's own stint history
    records it) and the next stint starts on the out-lap."""

    visual_id: int
    actual_id: int
    start_lap: int
    end_lap: int | None  # None while the stint is running
    fitted_age: int = 0  # the game's tyre age when the set was fitted (a used set is older than its stint)
    fitted_in_lap: bool = False  # fitted before the line on the in-lap: the game's age counts that line crossing


@dataclass(frozen=True, slots=True)
class Event:
    seq: int  # increases by one per event in this bridge's lifetime; readers keep their own cursor
    code: str
    session_time: float
    details: Mapping[str, Any]  # the game's decoded event fields, by name


@dataclass(frozen=True, slots=True)
class LapFacts:
    """A lap as it was when the car crossed the line: its timing then, and what else was true at that moment."""

    lap: int
    time_ms: int
    sectors_ms: tuple[int, int, int]
    sector_colours: tuple[str, str, str]
    valid: bool
    position: int | None  # at the line
    tyre_visual_id: int | None
    tyre_actual_id: int | None
    tyre_age_laps: int | None  # the game's tyre age during the lap (before the line adds one)
    wear_added_pct: float | None  # average of the four tyres; None when unknown (first lap seen, new tyres)
    top_speed_kph: float | None  # on this lap (None: no speed was sampled)
    # The player's car only.
    fuel_used_kg: float | None = None
    fuel_used_pct: float | None = None
    wheel_wear_added_pct: tuple[float, ...] | None = None  # per wheel, in the game's wheel order


@dataclass(frozen=True, slots=True)
class Penalty:
    """A penalty, warning or served penalty the game announced for a car (codes are the game's enumerations)."""

    lap: int
    session_time: float
    kind: str  # issued | served
    penalty_type: int | None  # enumeration penaltyType (None: served)
    infringement: int | None  # enumeration infringementType
    time_s: int | None  # seconds of a time penalty (None: not applicable)
    other_car: int | None
    places_gained: int | None


@dataclass(frozen=True, slots=True)
class PitStop:
    lap: int  # the in-lap: the lap the car entered the pit lane on
    lane_ms: int  # time in the pit lane, entry to exit
    stop_ms: int | None  # stationary in the box, where the game says


@dataclass(frozen=True, slots=True)
class Classified:
    """One car of the game's final classification, in game-neutral terms (codes are the game's enumerations)."""

    index: int
    position: int
    laps: int
    grid_position: int
    points: int
    pit_stops: int
    result_status: int  # enumeration resultStatus
    result_reason: int | None  # enumeration resultReason (formats that send it)
    best_lap_ms: int
    total_race_time_s: float  # without penalties
    penalties_s: int
    num_penalties: int
    stints: tuple[tuple[int, int, int], ...]  # (actual compound, visual compound, end lap) per stint


__all__ = ["MAX_LOG", "Classified", "CompletedLap", "Event", "LapFacts", "Penalty", "PitStop", "Stint"]
