"""Outputs as services: one protocol, explicit dependencies, one table in the app.

An output (the MQTT topics, Home Assistant discovery, WLED, realtime LEDs, the Prometheus endpoint...) is a class
with a `name`, `start()`, `close()` and `on_change(changed)`; one that talks over the MQTT connection may also
have `subscriptions`, `on_connect()` and `on_message(topic, payload)`. Each one is built by a factory from
`Deps` (the settings, the read-only view, the outbox, a wake callable, faults...), picking only what it needs;
the app lists the factories in one table (`bridge/app.py` SERVICES) and runs them all alike. Adding an output is
one module, one line in that table and its settings section. A service never imports the app.

`on_change` runs on the datagram path after each datagram that changed something: synchronous, no I/O, cheap;
work that takes time goes to the service's own task (started in `start`, supervised) through a bounded queue.
A failure in any of these is reported under `service.<name>` and stops nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bridge.faults import Faults
from bridge.publish.fieldread import Context
from bridge.publish.outbox import Outbox
from bridge.publish.policy import TopicPolicy
from bridge.state.changes import Changes


@runtime_checkable
class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def on_change(self, changed: Changes) -> None: ...


@runtime_checkable
class MqttService(Service, Protocol):
    """A service that also talks over the MQTT connection."""

    subscriptions: tuple[str, ...]

    def on_connect(self) -> None: ...

    def on_message(self, topic: str, payload: bytes) -> None: ...


class DatagramTime:
    """The monotonic receive time (ns) of the datagram being handled: set by the pipeline, read by outputs that
    measure latency from the datagram on."""

    __slots__ = ("ns",)

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


@dataclass(frozen=True)
class Deps:
    """What a service may be built from. A factory takes what its service needs and passes it on explicitly."""

    settings: Any  # the bridge's settings: each service takes its own section
    view: Any  # the read-only session state
    context: Context  # what session, bridge and lights fields read: the view, the bridge status, the lights
    outbox: Outbox  # where MQTT messages wait for the link
    policy: TopicPolicy  # root topic, include/exclude, QoS, expiry
    wake: Callable[[], None]  # something waits in the outbox: wake the MQTT link
    faults: Faults
    datagram_time: DatagramTime
    counters: Any  # the ingest counters (received, dropped by reason...), read by the metrics
    udp_send: Callable[[bytes, tuple[str, int]], None]  # a datagram from the bridge's own receiving socket
    service: Callable[[str], Any]  # another service by name (built earlier in the table), or None

    @property
    def status(self) -> Any:
        return self.context.status

    @property
    def lights(self) -> Any:
        return self.context.lights


Factory = Callable[[Deps], Service | None]  # None: the settings leave the service off


def service_stage(service: Service) -> str:
    """The name a service's failures are reported under: `service.homeassistant`, `service.wled`."""
    return f"service.{service.name}"


__all__ = ["DatagramTime", "Deps", "Factory", "MqttService", "Service", "service_stage"]
