"""Race control: one message a person reads per happening, from the game's event codes and the state's changes.

Codes become words through the running game's enumerations (`bridge/state/enums.py`: penalty and infringement
types, safety car types and phases, retirement and DRS reasons, collision severity, flags), driver names through
the participants. A value an enumeration does not name is shown as the enumeration's `unknown(N)`. Built on the
writer's path when the happening arrives (a handful per lap), kept in a bounded queue for the publisher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.state.enums import label, slug

NOT_APPLICABLE = 255  # a detail that does not apply (no other car, no time)
RAW = "raw"  # the details of an event code the packet's format has no layout for
MAX_MESSAGES = 64  # kept for the publisher: it takes them after every packet, so a few would do


@dataclass(frozen=True, slots=True)
class RaceControlMessage:
    seq: int  # increases by one per message in this bridge's lifetime
    session_time: float
    code: str  # the game's event code, or PITIN / PITOUT / FLAG / SCST for what the bridge saw change
    kind: str  # session, start, penalty, safety_car, retirement, pit, overtake, collision, fastest_lap, drs, flag...
    text: str
    cars: tuple[tuple[int, str], ...]  # (slot, name) of the cars it is about


@dataclass(frozen=True, slots=True)
class Words:
    """What a text needs: the format (for enumerations) and driver names by slot."""

    packet_format: int
    name: Callable[[int], str]

    def label(self, enum: str, value: Any) -> str:
        return label(enum, self.packet_format, value)

    def slug(self, enum: str, value: Any) -> str:
        return slug(enum, self.packet_format, value)


def lowered(text: str) -> str:
    """A label inside a sentence: `Corner cutting` -> `corner cutting`, `DRS` stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _lap_time(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not 0 < seconds < 36000:
        return "no time"
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes)}:{rest:06.3f}"


Text = tuple[str, str, tuple[int, ...]] | None  # (kind, text, the cars it names)


def _penalty(d: dict[str, Any], w: Words) -> Text:
    car = d["vehicle_idx"]
    kind = w.label("penaltyType", d["penalty_type"])
    infringement = lowered(w.label("infringementType", d["infringement_type"]))
    time = d.get("time", NOT_APPLICABLE)
    if w.slug("penaltyType", d["penalty_type"]) == "warning":
        return "penalty", f"Warning: {w.name(car)}, {infringement}", (car,)
    what = f"{time} s {lowered(kind)}" if time not in (0, NOT_APPLICABLE) else lowered(kind)
    places = d.get("places_gained", NOT_APPLICABLE)
    gained = f", {places} place{'s' if places != 1 else ''} gained" if places not in (0, NOT_APPLICABLE) else ""
    other = d.get("other_vehicle_idx", NOT_APPLICABLE)
    involving = f" (with {w.name(other)})" if other != NOT_APPLICABLE and other != car else ""
    cars = (car,) if not involving else (car, other)
    return "penalty", f"Penalty: {w.name(car)}, {what}, {infringement}{involving}{gained}", cars


_SAFETY_CAR_PHASES = {"deployed": "{} deployed", "returning": "{} ending", "returned": "{} in",
                      "resume_race": "{}: race resumes"}  # by the slug of the game's safetyCarEventType


def _safety_car(d: dict[str, Any], w: Words) -> Text:
    kind = w.label("safetyCarStatus", d["safety_car_type"])
    phase = _SAFETY_CAR_PHASES.get(w.slug("safetyCarEventType", d["event_type"]))
    text = phase.format(kind) if phase else f"{kind}: {lowered(w.label('safetyCarEventType', d['event_type']))}"
    return "safety_car", text, ()


def _retirement(d: dict[str, Any], w: Words) -> Text:
    car = d["vehicle_idx"]
    reason = f", {lowered(w.label('resultReason', d['reason']))}" if "reason" in d else ""
    return "retirement", f"Retirement: {w.name(car)}{reason}", (car,)


def _drs_disabled(d: dict[str, Any], w: Words) -> Text:
    reason = f": {lowered(w.label('drsDisabledReason', d['reason']))}" if "reason" in d else ""
    return "drs", f"DRS disabled{reason}", ()


def _collision(d: dict[str, Any], w: Words) -> Text:
    a, b = d["vehicle1_idx"], d["vehicle2_idx"]
    severity = f", {lowered(w.label('collisionSeverity', d['severity']))} severity" if "severity" in d else ""
    return "collision", f"Collision: {w.name(a)} and {w.name(b)}{severity}", (a, b)


def _speed_trap(d: dict[str, Any], w: Words) -> Text:
    if not d.get("is_overall_fastest_in_session"):
        return None  # every car at every trap: only the session's fastest is news
    car = d["vehicle_idx"]
    return "speed_trap", f"Speed trap: {w.name(car)}, {d['speed']:.1f} km/h, fastest of the session", (car,)


def _stop_go_served(d: dict[str, Any], w: Words) -> Text:
    car = d["vehicle_idx"]
    stop = d.get("stop_time")
    held = f", {stop:.1f} s stationary" if isinstance(stop, (int, float)) and 0 < stop < 1000 else ""
    return "penalty", f"Stop-go served: {w.name(car)}{held}", (car,)


def _fixed(kind: str, text: str) -> Callable[[dict[str, Any], Words], Text]:
    return lambda d, w: (kind, text, ())


def _about(kind: str, text: str, key: str = "vehicle_idx") -> Callable[[dict[str, Any], Words], Text]:
    return lambda d, w: (kind, text.format(w.name(d[key])), (d[key],))


# Every event code of every format: its text, or None for what is no race-control news (`IGNORED`).
TEXTS: dict[str, Callable[[dict[str, Any], Words], Text]] = {
    "SSTA": _fixed("session", "Session started"),
    "SEND": _fixed("session", "Session ended"),
    "FTLP": lambda d, w: ("fastest_lap", f"Fastest lap: {w.name(d['vehicle_idx'])}, {_lap_time(d['lap_time'])}",
                          (d["vehicle_idx"],)),
    "RTMT": _retirement,
    "DRSE": _fixed("drs", "DRS enabled"),
    "DRSD": _drs_disabled,
    "TMPT": _about("pit", "Team-mate in the pits: {}"),
    "CHQF": _fixed("flag", "Chequered flag"),
    "RCWN": _about("result", "Race winner: {}"),
    "PENA": _penalty,
    "SPTP": _speed_trap,
    "STLG": lambda d, w: ("start", f"Start lights: {d['num_lights']}", ()),
    "LGOT": _fixed("start", "Lights out"),
    "DTSV": _about("penalty", "Drive-through served: {}"),
    "SGSV": _stop_go_served,
    "FLBK": _fixed("session", "Flashback"),
    "RDFL": _fixed("flag", "Red flag"),
    "OVTK": lambda d, w: ("overtake", f"Overtake: {w.name(d['overtaking_vehicle_idx'])} passes "
                                      f"{w.name(d['being_overtaken_vehicle_idx'])}",
                          (d["overtaking_vehicle_idx"], d["being_overtaken_vehicle_idx"])),
    "SCAR": _safety_car,
    "COLL": _collision,
}
IGNORED = frozenset({"BUTN"})  # the player's button presses: not news for a person


def event_text(code: str, details: dict[str, Any], words: Words) -> Text:
    """The text of a game event (None: no race-control news). The details are the event layout's own fields, so
    every key a text reads is there; a code the packet's format does not know comes with its raw bytes only
    (`{"raw": [...]}`) and is no news either."""
    build = TEXTS.get(code)
    return None if build is None or RAW in details else build(details, words)


def pit_text(name: str, entered: bool, lane_ms: int | None) -> str:
    if entered:
        return f"Pit entry: {name}"
    lane = f", {lane_ms / 1000:.1f} s in the pit lane" if lane_ms and 0 < lane_ms < 3_600_000 else ""
    return f"Pit exit: {name}{lane}"


def flag_text(words: Words, flag: int) -> str | None:
    """The flag shown to the player (None for the game's invalid/unknown value)."""
    name = words.slug("flag", flag)
    if name.startswith(("invalid", "unknown")):
        return None
    return "Flags cleared" if name == "none" else f"{words.label('flag', flag)} flag"


def safety_car_status_text(words: Words, before: int, now: int) -> str:
    """A change of the safety car status (formats without safety car events)."""
    if words.slug("safetyCarStatus", now) == "no_safety_car":
        return f"{words.label('safetyCarStatus', before)} ending"
    return f"{words.label('safetyCarStatus', now)} deployed"
