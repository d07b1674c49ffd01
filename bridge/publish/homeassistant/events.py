"""Home Assistant event entities and device triggers for the race's events: flags, safety car phases,
penalties, the fastest lap, the chequered flag and the wheel's UDP action buttons."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bridge.jsontext import json_text
from bridge.publish.catalog import FLAGS
from bridge.publish.outbox import Message, Outbox
from bridge.publish.topics import checked
from bridge.state.enums import Names, Slugs, slug
from bridge.state.session import seconds_to_ms

UDP_ACTIONS = 12  # the wheel's UDP action buttons, bits 20-31 of the BUTN event's button status
_UDP_ACTION_BITS = tuple((1 << (20 + n), f"udp_action_{n + 1}") for n in range(UDP_ACTIONS))
SAFETY_CAR_KINDS = ("full_safety_car", "virtual_safety_car", "formation_lap_safety_car")
SAFETY_CAR_PHASES = ("deployed", "returning", "returned", "resume_race")


@dataclass(frozen=True, slots=True)
class GameEvent:
    """One Home Assistant event entity (and its device triggers) on `<root>/ha/event/<key>`."""

    key: str
    name: str
    icon: str
    event_types: tuple[str, ...] | Slugs
    trigger_type: str | None = None  # device trigger type (one trigger per event type); None: no triggers
    device_class: str | None = None


GAME_EVENTS = (
    GameEvent("flag", "Flag change", "mdi:flag", FLAGS, "flag"),
    GameEvent("safety_car", "Safety car phase", "mdi:car-emergency",
              tuple(f"{k}_{p}" for k in SAFETY_CAR_KINDS for p in SAFETY_CAR_PHASES), "safety_car"),
    GameEvent("penalty", "Penalty", "mdi:gavel",
              Slugs(Names("penaltyType"))),
    GameEvent("fastest_lap", "Fastest lap", "mdi:timer-star", ("fastest_lap",), "fastest_lap"),
    GameEvent("chequered_flag", "Chequered flag", "mdi:flag-checkered", ("chequered_flag",), "chequered_flag"),
    GameEvent("button", "Wheel button", "mdi:gesture-tap-button", tuple(name for _, name in _UDP_ACTION_BITS),
              "button_short_press", device_class="button"),
)


class GameEvents:
    """The game's events as Home Assistant events on `<root>/ha/event/<key>`, QoS 1, never retained."""

    def __init__(self, root: str, outbox: Outbox, view: Any) -> None:
        self.topics = {e.key: checked(f"{root}/ha/event/{e.key}") for e in GAME_EVENTS}
        self._types = {e.key: frozenset(e.event_types) for e in GAME_EVENTS}
        self._outbox = outbox
        self._view = view
        self._cursor = getattr(view, "event_seq", 0)  # only events after the start of this service are news
        self._flag: str | None = None  # the flag last seen, to announce its changes
        self._buttons = 0  # the wheel's button status last seen, to announce presses

    def emit(self, key: str, event_type: str, attributes: dict[str, Any]) -> bool:
        """One event for Home Assistant, QoS 1, not retained (Home Assistant drops replayed retained events)."""
        if event_type not in self._types[key]:
            return False  # a value this version does not know: no event type to announce it as
        payload = json_text({"event_type": event_type, **attributes}, separators=(",", ":"), ensure_ascii=False)
        self._outbox.offer(Message(self.topics[key], payload, 1, False, "event"))
        return True

    def _car_attributes(self, index: Any) -> dict[str, Any]:
        """The car an event names; its driver only for a car in the session (a datagram may name any slot)."""
        driver = self._view.car(index).name if index in self._view.active_set else None
        return {"car": index, "driver": driver, "player": index == self._view.player_index}

    def take(self) -> None:
        """Announce the game's events that arrived since the last call."""
        view = self._view
        fmt = view.packet_format
        for event in view.events:
            if event.seq <= self._cursor:
                continue
            self._cursor = event.seq
            d = event.details
            code = event.code
            if code == "SCAR":
                kind = slug("safetyCarStatus", fmt, d.get("safety_car_type", -1))
                self.emit("safety_car", f"{kind}_{slug('safetyCarEventType', fmt, d.get('event_type', -1))}", {})
            elif code == "PENA":
                self.emit("penalty", slug("penaltyType", fmt, d.get("penalty_type", -1)), {
                    **self._car_attributes(d.get("vehicle_idx")),
                    "infringement": slug("infringementType", fmt, d.get("infringement_type", -1)),
                    "time_s": d.get("time"), "lap": d.get("lap_num")})
            elif code == "FTLP":
                self.emit("fastest_lap", "fastest_lap", {
                    **self._car_attributes(d.get("vehicle_idx")),
                    "lap_time_ms": seconds_to_ms(d.get("lap_time", math.nan))})
            elif code == "CHQF":
                self.emit("chequered_flag", "chequered_flag", {})
            elif code == "BUTN":
                status = d.get("button_status", 0)
                pressed, self._buttons = status & ~self._buttons, status
                for bit, name in _UDP_ACTION_BITS:
                    if pressed & bit:
                        self.emit("button", name, {})

    def watch_flag(self, flag: str) -> bool:
        """Announce a change of the flag (not the first one seen); whether one was announced."""
        previous, self._flag = self._flag, flag
        return previous is not None and flag != previous and self.emit("flag", flag, {"previous": previous})
