"""One session's export document, gathered from the read-only state as the session happens.

Why gathered and not read at the end: the writer resets the state in place when a new session starts, before any
reader sees the packet that started it, and the state keeps only the last 64 events. So the ledger takes each
part of the document at the moment it is complete, from the changed groups the writer reports:

    a completed (or corrected) lap  -> that lap's record (position at the line, tyres, fuel...), the running order
    a car's laps, stints, pit log   -> that car's stints, pit stops, penalties and warnings
    an event                        -> the event log (driver names resolved now)
    participants, session           -> names and teams, session facts
    the final classification        -> the classification

Each step is a set lookup per packet and work only for what moved, so the cost per packet stays O(1); at the end
of a session the document is already there, whatever the next datagram does to the state. The records come from
`bridge/state/results.py` (the same functions that build the published results), so the file and the topics
agree. `document()` returns a snapshot (fresh containers around records nobody mutates), safe to serialise in
another thread while the ledger goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge import __version__
from bridge.export.files import plain, started_iso
from bridge.state import changes as groups
from bridge.state import results
from bridge.state.changes import Changes
from bridge.state.enums import slug
from bridge.state.session import NO_CAR

__all__ = ["FORMAT", "MAX_EVENTS", "SessionLedger"]

FORMAT = "rigbridge-session/1"  # the document's "format"; docs/export.schema.json describes it
MAX_EVENTS = 10_000  # event log entries kept per session (a long race has a few hundred)
NOT_LOGGED = frozenset({"BUTN"})  # button presses: many per lap, nothing a result needs
MAX_SLOTS = 32  # car slots the per-car group names are prepared for (a format has at most 24)

# Session facts: (key in the document, state value, enumeration to name it by or None).
SESSION_FACTS: tuple[tuple[str, str, str | None], ...] = (
    ("track", "track_id", "trackId"),
    ("type", "session_type_id", "sessionType"),
    ("formula", "formula_id", "formula"),
    ("weather", "weather_id", "weather"),
    ("total_laps", "total_laps", None),
    ("track_length_m", "track_length_m", None),
    ("duration_s", "duration_s", None),
    ("track_temp_c", "track_temp_c", None),
    ("air_temp_c", "air_temp_c", None),
    ("network_game", "network_game", None),
    ("ai_difficulty", "ai_difficulty", None),
    ("safety_car_periods", "safety_car_periods", None),
    ("virtual_safety_car_periods", "virtual_safety_car_periods", None),
    ("red_flag_periods", "red_flag_periods", None),
)

DRIVER_KEYS = ("name", "team", "race_number")  # a car's identity, as results.standings() names it

# The change groups the document follows: per car (the change set names the cars) and session-wide.
CAR_GROUPS = (groups.LAPS, groups.STINTS, groups.PIT)
SESSION_GROUPS = frozenset({groups.SESSION, groups.PARTICIPANTS, groups.EVENTS, groups.CLASSIFICATION, groups.ACTIVE})


def _fact(view: Any, name: str, enum: str | None, packet_format: int) -> Any:
    value = getattr(view, name, None)
    if value is None or enum is None:
        return plain(value)
    return slug(enum, packet_format, value)


class _Car:
    """What the document keeps of one car slot."""

    __slots__ = ("facts", "index", "laps", "penalties", "pit_stops", "stints", "warnings")

    def __init__(self, index: int) -> None:
        self.index = index
        self.facts: dict[str, Any] = {}
        self.laps: dict[int, tuple[Any, dict[str, Any]]] = {}  # lap number -> (the state's lap, its record)
        self.stints: list[Any] = []
        self.penalties: list[Any] = []
        self.warnings: list[Any] = []
        self.pit_stops: list[Any] = []


class SessionLedger:
    """The document of the session the view shows now; `update(changed)` after each packet that changed it."""

    def __init__(self, view: Any, started_ns: int, event_cursor: int) -> None:
        """`event_cursor`: the last event of the sessions before (the state keeps a few across a reset)."""
        self.view = view
        self.started_ns = started_ns
        self.game = view.game
        self.packet_format = view.packet_format
        self.session_uid = view.session_uid
        self.facts: dict[str, Any] = {}
        self.cars: dict[int, _Car] = {}
        self.running_order: Any = None
        self.classification: Any = None
        self.events: list[dict[str, Any]] = []
        self.events_dropped = 0
        self.event_cursor = event_cursor
        self.version = 0  # moves whenever the document would differ
        self.laps_completed = 0
        self._take_facts()

    @property
    def has_content(self) -> bool:
        """Worth a file: a lap was completed or the game classified the session."""
        return self.laps_completed > 0 or self.classification is not None

    # ------------------------------------------------------------------------------------------ gathering

    def update(self, changed: Changes) -> None:
        """Take what the packet changed. Cheap when nothing the document needs moved (a few set operations)."""
        view = self.view
        cars = changed.cars
        if cars and any(g in cars for g in CAR_GROUPS):
            self._update_cars(changed)
        names = changed.groups
        if names.isdisjoint(SESSION_GROUPS):
            return
        if groups.SESSION in names:
            self._take_facts()
        if groups.PARTICIPANTS in names or groups.ACTIVE in names:
            self.running_order = results.standings(view)
            for row in self.running_order:
                self._car(row["index"]).facts = {key: row[key] for key in DRIVER_KEYS}
            self.version += 1
        if groups.EVENTS in names:
            self._take_events()
        if groups.CLASSIFICATION in names:
            self.classification = results.results(view)
            self.running_order = results.standings(view)
            self.version += 1

    def _take_facts(self) -> None:
        view = self.view
        self.facts = {key: _fact(view, name, enum, self.packet_format) for key, name, enum in SESSION_FACTS}
        self.version += 1

    def _car(self, index: int) -> _Car:
        car = self.cars.get(index)
        if car is None:
            car = self.cars[index] = _Car(index)
            for row in self.running_order or ():
                if row["index"] == index:
                    car.facts = {key: row[key] for key in DRIVER_KEYS}
        return car

    def _update_cars(self, changed: Changes) -> None:
        view = self.view
        slots = min(view.num_slots, MAX_SLOTS)
        laps_moved = False
        laps = changed.cars.get(groups.LAPS, ())
        touched = set(laps).union(*(changed.cars.get(g, ()) for g in CAR_GROUPS))
        for i in sorted(touched):
            if i >= slots:
                continue
            car = view.car(i)
            if i in laps:
                self._take_laps(car)
                laps_moved = True
            self._take_log(car)  # a running stint grows with each lap; a stop names the tyres after it
        if laps_moved:
            self.running_order = results.standings(view)
        self.version += 1

    def _take_laps(self, car: Any) -> None:
        """New laps get their record now (what the car looked like when it crossed the line); laps the state
        corrected (its SessionHistory) are taken again; laps it forgot (a flashback) are forgotten here too."""
        kept = self._car(car.index)
        laps = car.laps
        for number in [n for n in kept.laps if n not in laps]:
            del kept.laps[number]
        for number, lap in laps.items():
            known = kept.laps.get(number)
            if known is None or known[0] is not lap:
                if known is None:
                    self.laps_completed += 1
                record = results.lap_record(self.view, car, number)
                if record is not None:
                    kept.laps[number] = (lap, record)

    def _take_log(self, car: Any) -> None:
        kept = self._car(car.index)
        kept.stints = results.stints(car)
        kept.penalties = results.penalties(self.view, car)
        kept.warnings = results.warnings(self.view, car)
        kept.pit_stops = results.pit_stops(self.view, car)

    def _take_events(self) -> None:
        for event in self.view.events:
            if event.seq <= self.event_cursor:
                continue
            self.event_cursor = event.seq
            if event.code in NOT_LOGGED:
                continue
            if len(self.events) >= MAX_EVENTS:
                self.events_dropped += 1
                continue
            self.events.append(self._event(event))
        self.version += 1

    def _event(self, event: Any) -> dict[str, Any]:
        view = self.view
        details = plain(event.details)
        drivers: dict[str, Any] = {}
        cars: list[int] = []
        for key, value in details.items():
            if key.endswith("_idx") and isinstance(value, int) and value != NO_CAR and value < view.num_slots:
                drivers[key] = view.car(value).name
                cars.append(value)
        lap = details.get("lap_num")
        if lap is None and cars:
            lap = view.car(cars[0]).lap
        return {
            "seq": event.seq,
            "code": event.code,
            "session_time_s": plain(event.session_time),
            "lap": lap,
            "details": details,
            "drivers": drivers,
        }

    # ------------------------------------------------------------------------------------------ the document

    def document(self, ended_by: str) -> dict[str, Any]:
        """A snapshot of the document as it stands; `ended_by` says what ended (or interrupted) the session."""
        session = {
            "game": self.game,
            "format": self.packet_format,
            "uid": str(self.session_uid),  # a u64: beyond what a JSON number holds exactly in most readers
            "started_at": started_iso(self.started_ns),
            **self.facts,
            "ended_by": ended_by,
            "classified": self.classification is not None,
        }
        cars = []
        for index in sorted(self.cars):
            car = self.cars[index]
            if not car.laps and not car.stints and not car.penalties and not car.pit_stops:
                continue  # an empty slot named in an event or a participants list, never on track
            cars.append({
                "index": index,
                **car.facts,
                "position": self._final_position(index),
                "laps": [record for _, record in (car.laps[n] for n in sorted(car.laps))],
                "stints": list(car.stints),
                "penalties": list(car.penalties),
                "warnings": list(car.warnings),
                "pit_stops": list(car.pit_stops),
            })  # fmt: skip
        return {
            "format": FORMAT,
            "generator": f"rigbridge {__version__}",
            "session": session,
            "classification": self.classification,
            "running_order": self.running_order,
            "cars": cars,
            "events": list(self.events),
            "events_dropped": self.events_dropped,
        }

    def _final_position(self, index: int) -> int | None:
        """The car's place in the classification, else in the last running order."""
        for table in (self.classification, self.running_order):
            rows = table.get("cars") if isinstance(table, Mapping) else table
            for row in rows or ():
                if isinstance(row, Mapping) and row.get("index") == index:
                    position = row.get("position")
                    return position if isinstance(position, int) else None
        return None
