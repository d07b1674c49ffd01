"""The output services: one protocol, one table, started and closed alike, failures reported by service name."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator

import pytest

from bridge.app import SERVICES, Bridge
from bridge.config import RealtimeDevice, WledSettings
from bridge.publish.service import MqttService, Service
from bridge.state.changes import CAR_TELEMETRY, Changes
from tests.harness import settings_for

# On with these settings (the export and GT7's console link need a folder and a console: tested on their own).
EVERYTHING = ("mqtt", "homeassistant", "wled", "race_control", "led_realtime", "metrics")
ALWAYS = ("mqtt", "race_control")


@pytest.fixture
def everything_on() -> Iterator[Callable[[], Bridge]]:
    built: list[Bridge] = []

    def build() -> Bridge:
        settings = settings_for(1, homeassistant={"enabled": True}, metrics={"enabled": True},
                                lights={"wled": WledSettings(enabled=True, topics=("wled/strip",)),
                                        "realtime": (RealtimeDevice(("127.0.0.1", 9)),)})
        built.append(Bridge(settings))
        return built[-1]

    yield build
    for bridge in built:
        bridge.services["led_realtime"].shutdown()  # its sockets, opened when built


def test_every_output_is_a_service_of_the_table_in_its_order(everything_on: Callable[[], Bridge]) -> None:
    bridge = everything_on()
    assert len(SERVICES) == len(EVERYTHING) + 2  # + export, gt7_console
    assert tuple(bridge.services) == EVERYTHING  # the table's order: each sees a change in this order
    for name, service in bridge.services.items():
        assert isinstance(service, Service) and service.name == name
    facing = {name for name, s in bridge.services.items() if isinstance(s, MqttService)}
    assert facing == {"mqtt", "homeassistant", "wled", "race_control"}
    assert bridge.engine is bridge.services["mqtt"] and bridge.metrics is bridge.services["metrics"]


def test_settings_leave_services_off() -> None:
    bridge = Bridge(settings_for(1, homeassistant={"enabled": False}, metrics={"enabled": False}))
    assert tuple(bridge.services) == ALWAYS
    assert bridge.metrics is None


def test_services_start_and_close_and_a_failing_close_is_reported(everything_on: Callable[[], Bridge]) -> None:
    bridge = everything_on()
    wled = bridge.services["wled"]

    async def failing_close() -> None:
        raise RuntimeError("close failed")

    async def main() -> list[str]:
        for service in bridge.services.values():
            await service.start()
        running = sorted(t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task())
        wled.close = failing_close  # type: ignore[method-assign]
        await bridge._close_services(list(bridge.services.values()))
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert left == []
        return running

    running = asyncio.run(main())
    assert {"rigbridge-ticker", "rigbridge-leds"} <= set(running)
    assert bridge.faults.count("service.wled", "RuntimeError") == 1


def test_a_failing_service_is_reported_under_its_name_and_the_others_still_run(
        everything_on: Callable[[], Bridge]) -> None:
    bridge = everything_on()
    seen: list[str] = []
    ha = bridge.services["homeassistant"]
    led = bridge.services["led_realtime"]

    def boom(changed: Changes) -> None:
        raise KeyError("x")

    ha.on_change = boom  # type: ignore[method-assign]
    led.on_change = lambda changed: seen.append("led_realtime")  # type: ignore[method-assign]
    bridge.process = lambda state, packet: Changes.of(CAR_TELEMETRY)  # type: ignore[assignment,misc]
    bridge.decode = lambda data: dataclasses.make_dataclass("P", [("layout", object)])(  # type: ignore[assignment]
        dataclasses.make_dataclass("L", [("key", str)])("telemetry"))
    bridge.on_datagram(b"x", ("127.0.0.1", 1), 1)
    assert bridge.faults.count("service.homeassistant", "KeyError") == 1
    assert seen == []  # the datagram was given up at the failing stage...
    ha.on_change = lambda changed: None  # type: ignore[method-assign]
    bridge.on_datagram(b"x", ("127.0.0.1", 1), 2)
    assert seen == ["led_realtime"]  # ...and the next one went through every service
