"""`race_control`: one JSON message per happening (penalties, safety car, retirements, pit entries and exits,
overtakes, collisions, fastest laps, DRS, flags), in order, QoS 1, never retained.

A reader: after each packet that queued messages (`race_control` in the changed groups) it offers the new ones to
the engine's ordered event queue, so none replaces another and a slow broker loses none while the queue has room.
The messages themselves are built on the writer's path (`bridge/state/aids/race_control.py`).
"""

from __future__ import annotations

from typing import Any

from bridge.jsontext import json_text
from bridge.publish.engine import Message
from bridge.state.aids.documents import race_control_message

TOPIC = "race_control"
GROUP = "race_control"  # the change group the writer adds when it queued a message


class RaceControlFeed:
    subscriptions: tuple[str, ...] = ()

    def __init__(self, engine: Any, view: Any) -> None:
        self._engine = engine
        self._view = view
        self._cursor = view.aids.last_seq  # what happened before the bridge published is not news

    def on_packet(self, changed: set[str]) -> None:
        if GROUP not in changed:
            return
        engine = self._engine
        for message in self._view.aids.race_control:
            if message.seq <= self._cursor:
                continue
            self._cursor = message.seq
            if engine.allowed(TOPIC):
                payload = json_text(race_control_message(message), separators=(",", ":"), ensure_ascii=False)
                engine.offer_message(Message(f"{engine.root}/{TOPIC}", payload, 1, False, "event"))

    def on_connect(self) -> None:
        """Nothing is retained: a reconnect sends nothing again."""

    def on_message(self, topic: str, payload: bytes) -> None:
        """No subscriptions."""
