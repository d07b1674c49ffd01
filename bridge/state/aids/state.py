"""The racer's aids' part of the session state: one container per session, its settings kept across sessions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bridge.state.aids.battle import BattleModel
from bridge.state.aids.delta import DeltaModel
from bridge.state.aids.forecast import ForecastSample
from bridge.state.aids.fuel import FuelModel
from bridge.state.aids.race_control import MAX_MESSAGES, RaceControlMessage
from bridge.state.aids.tyres import TyreModel


@dataclass(frozen=True, slots=True)
class AidsSettings:
    wear_limit_pct: float = 70.0  # tyres.wear_limit_pct
    pit_loss_s: tuple[tuple[str, float], ...] = ()  # pit.loss_s: (track slug glob, seconds), the last match wins


@dataclass(frozen=True, slots=True)
class TyreSet:
    """One set of the player's allocation (ids are the game's enumerations)."""

    visual_id: int
    actual_id: int
    wear_pct: int
    available: bool
    fitted: bool
    life_laps: int  # laps of life left
    usable_life_laps: int  # recommended maximum


class Aids:
    """Written only by the `process_*` functions of `hooks.py`; readers get `AidsView`."""

    __slots__ = (
        "battle",
        "delta",
        "flag",
        "forecast",
        "fuel",
        "lap_neutralised",
        "race_control",
        "rc_seq",
        "safety_car",
        "session_time",
        "settings",
        "tyre_sets",
        "tyres",
    )

    def __init__(self, settings: AidsSettings, rc_seq: int = 0) -> None:
        self.settings = settings
        self.delta = DeltaModel()
        self.fuel = FuelModel()
        self.tyres = TyreModel()
        self.battle = BattleModel()
        self.forecast: tuple[ForecastSample, ...] = ()
        self.tyre_sets: tuple[TyreSet, ...] = ()
        self.race_control: deque[RaceControlMessage] = deque(maxlen=MAX_MESSAGES)
        self.rc_seq = rc_seq  # never goes back, across sessions: the publisher's cursor
        self.lap_neutralised = False  # a safety car or VSC was out during the player's current lap
        self.flag: int | None = None  # the player's flag, last seen
        self.safety_car: int | None = None  # the safety car status, last seen
        self.session_time: float | None = None  # of the latest lap data

    def next_session(self) -> Aids:
        """The aids of a new session: the models start from nothing; the settings and the message sequence carry
        over."""
        return Aids(self.settings, self.rc_seq)
