"""Shift lights on WLED devices, over WLED's MQTT JSON API.

After each packet that can change the LED frame (car telemetry or car status), the frame `lights/leds` carries is
compared with the last one sent; when it differs, every configured device gets it on `<device-topic>/api` as a
JSON API state with per-LED colours (`seg.i`, hex strings, LED 0 first):

    {"on":true,"bri":255,"seg":{"i":["00ff00","00ff00","000000",...]}}

The colours already include `lights.brightness`, so the device's own brightness is set to full. Messages are
QoS 0, not retained, latest wins per device: a slow link skips frames instead of queueing them.
WLED applies per-LED colours only while the light is on; a device that was off lights up with the next frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bridge.publish.catalog import by_path
from bridge.publish.fieldread import MISSING, Context, FieldReader
from bridge.publish.outbox import Message, Outbox
from bridge.publish.service import Deps
from bridge.publish.topics import checked
from bridge.state.changes import CAR_STATUS, CAR_TELEMETRY, Changes

FRAME_GROUPS = frozenset({CAR_TELEMETRY, CAR_STATUS})
LEDS = by_path()["lights/leds"]  # the frame, as MQTT's `lights/leds` carries it


def wled_state(frame: str) -> str:
    """WLED JSON API state for an LED frame (RRGGBB hex per LED)."""
    leds = [frame[i : i + 6] for i in range(0, len(frame), 6)]
    return json.dumps({"on": True, "bri": 255, "seg": {"i": leds}}, separators=(",", ":"))


class Wled:
    """The LED frame to WLED devices, change-only."""

    name = "wled"
    subscriptions: tuple[str, ...] = ()

    @classmethod
    def from_deps(cls, deps: Deps) -> Wled | None:
        """On with `lights.wled.enabled` and at least one device topic."""
        wled = deps.settings.lights.wled
        if not (wled.enabled and wled.topics):
            return None
        return cls(wled.topics, deps.outbox, deps.lights, wake=deps.wake)

    async def start(self) -> None:
        pass  # nothing of its own to run: it offers frames to the outbox

    async def close(self) -> None:
        pass

    def __init__(
        self, topics: tuple[str, ...], outbox: Outbox, lights: Any, *, wake: Callable[[], None] = lambda: None
    ) -> None:
        self.topics = tuple(checked(f"{topic}/api") for topic in topics)
        self._outbox = outbox
        self._wake = wake
        self._reader = FieldReader(None, Context(None, None, lights))

    @property
    def _frame(self) -> str | None:
        """The frame last offered."""
        frame = self._reader.last(LEDS.path)
        return None if frame is MISSING else str(frame)

    def _offer(self, frame: str) -> None:
        payload = wled_state(frame)
        for topic in self.topics:
            self._outbox.offer(Message(topic, payload, 0, False, "realtime"))

    def on_change(self, changed: Changes) -> None:
        if FRAME_GROUPS.isdisjoint(changed.groups):
            return
        frame = self._reader.read(LEDS)
        if frame is None or not self._reader.changed(LEDS.path, frame):
            return
        self._offer(frame)

    def on_connect(self) -> None:
        """The frame offered before the connection dropped may never have gone out: send the current one."""
        if self._frame is not None:
            self._offer(self._frame)
            self._wake()

    def on_message(self, topic: str, payload: bytes) -> None:
        pass
