"""Optional readers beside the MQTT topics: Home Assistant discovery, WLED output.

A reader looks at the state after each packet (`on_packet`), may subscribe to topics (`subscriptions`,
`on_message`), and is told after every (re)connect (`on_connect`). It publishes by offering messages to the
engine's latest-wins map, so it inherits change-only sending, bounded memory and the reconnect snapshot.
An exception in a reader is reported under `reader_stage(reader)` (`reader.homeassistant`) and stops nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bridge.publish.homeassistant import HomeAssistant
from bridge.publish.led_realtime import LedRealtime
from bridge.publish.race_control import RaceControlFeed
from bridge.publish.wled import Wled

if TYPE_CHECKING:
    from bridge.app import Bridge


class Reader(Protocol):
    subscriptions: tuple[str, ...]

    def on_packet(self, changed: set[str]) -> None: ...

    def on_connect(self) -> None: ...

    def on_message(self, topic: str, payload: bytes) -> None: ...


def reader_stage(reader: Reader) -> str:
    """The name a reader's failures are reported under: `reader.homeassistant`, `reader.wled`."""
    return f"reader.{type(reader).__name__.lower()}"


def build_readers(bridge: Bridge) -> list[Reader]:
    """The readers the settings ask for: Home Assistant discovery (`homeassistant.enabled`) and WLED shift lights
    (`lights.wled.enabled`)."""

    def wake() -> None:
        """Readers publish outside the packet path too (timers, subscriptions): wake the sender."""
        link = getattr(bridge, "link", None)  # built after the readers
        if link is not None:
            link.wake()

    settings = bridge.settings
    readers: list[Reader] = []
    if settings.homeassistant.enabled:
        readers.append(HomeAssistant(settings, bridge.engine, bridge.view, wake=wake))
    wled = settings.lights.wled
    if wled.enabled and wled.topics:
        readers.append(Wled(wled.topics, bridge.engine, bridge.lights, wake=wake))
    engine = bridge.engine
    readers.append(RaceControlFeed(engine, bridge.view))  # racer's aids: the race_control topic
    if settings.lights.realtime:  # LED devices over UDP, fed on the datagram path (origin: the datagram's time)
        readers.append(LedRealtime.from_settings(settings, bridge.lights, lambda: engine.origin_ns, bridge.faults))
    return readers
