"""`race_control`: one JSON message per happening (penalties, safety car, retirements, pit entries and exits,
overtakes, collisions, fastest laps, DRS, flags), in order, QoS 1, never retained.

An output service: after each packet that queued messages (`RACE_CONTROL` in the change set) it offers the new ones
to the outbox's ordered event queue, so none replaces another and a slow broker loses none while the queue has room.
The messages themselves are built on the writer's path (`bridge/state/aids/race_control.py`).
"""

from __future__ import annotations

from typing import Any

from bridge.jsontext import json_text
from bridge.publish.outbox import Message, Outbox
from bridge.publish.policy import TopicPolicy
from bridge.publish.service import Deps
from bridge.state.aids.documents import race_control_message
from bridge.state.changes import RACE_CONTROL, Changes

TOPIC = "race_control"


class RaceControlFeed:
    name = "race_control"
    subscriptions: tuple[str, ...] = ()

    @classmethod
    def from_deps(cls, deps: Deps) -> RaceControlFeed:
        return cls(deps.outbox, deps.policy, deps.view)

    def __init__(self, outbox: Outbox, policy: TopicPolicy, view: Any) -> None:
        self._outbox = outbox
        self._policy = policy
        self._view = view
        self._cursor = view.aids.last_seq  # what happened before the bridge published is not news

    async def start(self) -> None:
        pass  # it offers to the outbox on the datagram path

    async def close(self) -> None:
        pass

    def on_change(self, changed: Changes) -> None:
        if RACE_CONTROL not in changed.groups:
            return
        policy = self._policy
        for message in self._view.aids.race_control:
            if message.seq <= self._cursor:
                continue
            self._cursor = message.seq
            if policy.allowed(TOPIC):
                payload = json_text(race_control_message(message), separators=(",", ":"), ensure_ascii=False)
                self._outbox.offer(Message(policy.topic(TOPIC), payload, 1, False, "event"))

    def on_connect(self) -> None:
        """Nothing is retained: a reconnect sends nothing again."""

    def on_message(self, topic: str, payload: bytes) -> None:
        """No subscriptions."""
