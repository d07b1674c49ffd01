"""The bridge linked to a PlayStation (`games.gt7.console`), against a fake console on loopback: real UDP both
ways, packets encrypted with the game's scheme, a real mosquitto. The fake streams only while heartbeats
arrive; the bridge keeps it streaming, forwards the packets still encrypted, says when the console goes
silent (log and `game/receiving`) and picks the stream up again after the console restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import time
from pathlib import Path
from typing import Any

from bridge.config import load_settings
from bridge.games.gt7 import codec
from bridge.games.gt7.console import Gt7ConsoleService
from bridge.games.gt7.layouts import MAGIC
from bridge.games.registry import GT7
from bridge.settings import GamesSettings, Gt7Settings
from tests.broker import Mosquitto
from tests.games.gt7.fake_playstation import FakePlayStation
from tests.harness import BridgeThread, Subscriber, settings_for

ROOT = "rigbridge/rig1"
PATIENCE_S = 2.5  # the fake console's: heartbeats come every 1.6 s at most (or every 100 packets)
SILENCE_S = 1.0


def console_of(thread: BridgeThread) -> Gt7ConsoleService:
    assert thread.bridge is not None
    return next(s for s in thread.bridge.services.values() if isinstance(s, Gt7ConsoleService))


def received(thread: BridgeThread) -> int:
    assert thread.bridge is not None
    return thread.bridge.ingest.received


def receiving_payloads(sub: Subscriber) -> list[str]:
    return sub.payloads(f"{ROOT}/game/receiving")


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)


def test_the_setting_links_the_bridge_to_gt7_on_the_consoles_port(tmp_path: Path) -> None:
    path = tmp_path / "rigbridge.yaml"
    path.write_text("games:\n  gt7:\n    console: 192.168.1.50\n")
    settings = load_settings(str(path))
    assert (settings.udp.game, settings.udp.port, settings.games.gt7.console_port) == ("gt7", 33740, 33739)
    path.write_text("udp:\n  port: 40000\ngames:\n  gt7:\n    console: ps5.local\n")
    assert load_settings(str(path)).udp.port == 40000  # a port given stays
    path.write_text("udp:\n  port: 40000\n")
    assert load_settings(str(path)).games.gt7.console is None


def test_the_bridge_keeps_the_console_streaming_reports_silence_and_recovers(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    sub = Subscriber(broker.port, f"{ROOT}/#").start()
    forward = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forward.bind(("127.0.0.1", 0))
    forward.settimeout(2.0)

    async def scenario() -> None:
        fake = await FakePlayStation(rate_hz=60, patience_s=PATIENCE_S).start()
        await asyncio.sleep(0.3)
        assert fake.sent == 0  # the control: no heartbeat, no packets
        settings = settings_for(broker.port, udp={"game": "gt7", "receive_timeout_s": 0.5,
                                                  "forward": (("127.0.0.1", forward.getsockname()[1]),)})  # fmt: skip
        settings = dataclasses.replace(
            settings, games=GamesSettings(Gt7Settings(console="127.0.0.1", console_port=fake.port))
        )
        thread = await asyncio.to_thread(lambda: BridgeThread(settings).start())
        try:
            console = console_of(thread)
            bridge = thread.bridge
            assert bridge is not None
            thread.call(lambda: setattr(console.watch, "silence_s", SILENCE_S))
            # Kept alive: longer than the console's patience, the packets never stop.
            await wait_until(lambda: received(thread) > 0, 5, "first packet")
            arrivals: list[float] = []
            start = time.monotonic()
            while time.monotonic() - start < 2 * PATIENCE_S:
                before = received(thread)
                await asyncio.sleep(0.1)
                if received(thread) > before:
                    arrivals.append(time.monotonic())
            gaps = [b - a for a, b in itertools.pairwise(arrivals)]
            assert arrivals and max(gaps) < 1.0, "the stream stopped: a heartbeat came too late"
            assert fake.heartbeats[b"~"] >= 3 and set(fake.heartbeats) == {b"~"}
            assert console.watch.answering is True and bridge.game is GT7
            # Forwarded as the console sent them: encrypted, decrypting with the "~" key.
            raw, _ = await asyncio.to_thread(forward.recvfrom, 4096)
            assert len(raw) == 344 and raw[:4] != MAGIC
            packet = codec.decode(raw)
            assert isinstance(packet, codec.Packet) and packet.heartbeat == b"~"
            await asyncio.to_thread(sub.wait_for, lambda ms: any(m.topic == f"{ROOT}/player/speed_kph" for m in ms),
                                    5, "speed")  # fmt: skip
            assert sub.last()[f"{ROOT}/game/name"].payload == "gt7" and receiving_payloads(sub)[-1] == "true"

            # The console goes away: said once in the log, and `game/receiving` goes false.
            await fake.stop()
            faults = bridge.faults
            await wait_until(lambda: faults.count(console.where, "no_answer") == 1, 5, "silence warning")
            message = next(r.message for r in faults.queue if "does not answer" in r.message)
            assert f"127.0.0.1:{fake.port}" in message
            await asyncio.to_thread(sub.wait_for, lambda ms: receiving_payloads(sub)[-1:] == ["false"], 5,
                                    "game/receiving false")  # fmt: skip
            beats = sum(fake.heartbeats.values())
            await asyncio.sleep(2.0)
            assert faults.count(console.where, "no_answer") == 1  # not once per heartbeat

            # The console restarts on the same address: the heartbeats that went on bring the stream back.
            sent_before = fake.sent
            await fake.start()
            await wait_until(lambda: fake.sent > sent_before + 60, 5, "stream after the restart")
            assert fake.boots == 2 and sum(fake.heartbeats.values()) > beats
            await asyncio.to_thread(sub.wait_for, lambda ms: receiving_payloads(sub)[-1:] == ["true"], 5,
                                    "game/receiving true again")  # fmt: skip
            assert console.watch.answering is True and console.watch.silences == 1
            assert bridge.state.stale_dropped.total() == 0  # ids starting again are a restart, not stale
        finally:
            await asyncio.to_thread(thread.stop)
            await fake.stop()

    try:
        asyncio.run(scenario())
    finally:
        forward.close()
        sub.stop()
        broker.stop()


def test_an_unresolvable_console_is_reported_and_retried() -> None:
    from bridge.faults import Faults
    from bridge.state.session import SessionState
    from bridge.state.view import readonly

    faults = Faults()
    sent: list[bytes] = []

    async def scenario() -> Gt7ConsoleService:
        service = Gt7ConsoleService(Gt7Settings(console="no-such-console.invalid"), readonly(SessionState()), faults,
                                    lambda data, addr: sent.append(data), interval_s=0.1, silence_s=0.3)  # fmt: skip
        await service.start()
        await asyncio.sleep(0.6)
        await service.close()
        return service

    service = asyncio.run(scenario())
    assert faults.count(service.where, "unresolved") >= 2 and not sent and service.address is None
