"""`rigbridge demo`: the synthetic race through the real pipeline to a real broker, with a live terminal view.

Zero set-up: the broker is the configured one if it answers; otherwise a `mosquitto` from PATH started for the
demo's lifetime with a temporary config; otherwise an embedded pure-Python broker (`amqtt`, the `broker`
extra). The bridge listens on a free loopback port, so a real game sending to 20777 is never disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bridge.app import Bridge
from bridge.config import Settings, load_settings
from bridge.games.registry import BY_KEY, Game
from bridge.games.sender import SendCounters, send_frames
from bridge.publish.catalog import by_path
from bridge.publish.fieldread import FieldReader
from bridge.publish.leds import led_colours

BROKER_CHOICES = ("auto", "configured", "mosquitto", "embedded")
BY_PATH = by_path()
VIEW_INTERVAL_S = 0.25


class DemoError(Exception):
    """The demo cannot run here; the message says what to install or change."""


@dataclass
class Broker:
    host: str
    port: int
    protocol: int  # 5, or 311 for the embedded broker (MQTT 3.1.1 only)
    description: str
    close: Callable[[], Awaitable[None]]


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _find_mosquitto() -> str | None:
    # Debian installs the broker in /usr/sbin, which is not on every user's PATH.
    return shutil.which("mosquitto", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))


async def _start_mosquitto(binary: str) -> Broker:
    directory = Path(tempfile.mkdtemp(prefix="rigbridge-demo-"))
    port = _free_port()
    config = directory / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "log_dest none"]
    if os.geteuid() == 0:
        lines.insert(0, "user root")  # its own user could not read this private temp directory
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not _answers("127.0.0.1", port, 0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise DemoError(f"{binary} did not start (config {config})")
        await asyncio.sleep(0.05)

    async def close() -> None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)

    return Broker("127.0.0.1", port, 5, f"mosquitto ({binary}) started for the demo", close)


async def _start_embedded() -> Broker:
    try:
        from amqtt.broker import Broker as AmqttBroker
    except ImportError as exc:
        raise DemoError(
            "no MQTT broker answered and mosquitto is not installed; install one of: "
            "the mosquitto package, or the embedded broker with `pip install 'rigbridge[broker]'`"
        ) from exc
    port = _free_port()
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    broker = AmqttBroker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    return Broker("127.0.0.1", port, 311, "embedded broker (amqtt, MQTT 3.1.1)", broker.shutdown)


async def choose_broker(settings: Settings, choice: str) -> Broker:
    m = settings.mqtt

    async def nothing() -> None:
        return None

    if choice in ("auto", "configured") and _answers(m.host, m.port):
        return Broker(m.host, m.port, m.protocol, f"configured broker {m.host}:{m.port}", nothing)
    if choice == "configured":
        raise DemoError(f"the configured broker {m.host}:{m.port} does not answer")
    binary = _find_mosquitto()
    if choice in ("auto", "mosquitto") and binary is not None:
        return await _start_mosquitto(binary)
    if choice == "mosquitto":
        raise DemoError("mosquitto is not installed (apt install mosquitto, brew install mosquitto, ...)")
    return await _start_embedded()


def demo_settings(settings: Settings, broker: Broker, game: str = "f1") -> Settings:
    """The user's settings pointed at the demo's broker and a private loopback UDP port, following `game`."""
    mqtt = settings.mqtt
    if broker.port != mqtt.port or broker.host != mqtt.host:  # a broker of our own: no credentials, no TLS
        mqtt = dataclasses.replace(mqtt, host=broker.host, port=broker.port, username=None, password=None,
                                   tls=dataclasses.replace(mqtt.tls, enabled=False))
    mqtt = dataclasses.replace(mqtt, protocol=broker.protocol, client_id="")
    return dataclasses.replace(
        settings,
        mqtt=mqtt,
        # The synthetic race stays out of the user's capture file and forward targets.
        udp=dataclasses.replace(settings.udp, bind="127.0.0.1", port=0, forward=(), allow_from=(), record=None,
                                game=game),
        metrics=dataclasses.replace(settings.metrics, enabled=False),
    )


# ------------------------------------------------------------------------------------------------ the view

_RESET, _DIM, _BOLD = "\033[0m", "\033[2m", "\033[1m"


def _colour(rgb: tuple[int, int, int], text: str) -> str:
    return f"\033[38;2;{rgb[0]};{rgb[1]};{rgb[2]}m{text}{_RESET}"


def rev_lights_bar(bits: int | None, colours: list[tuple[int, int, int]]) -> str:
    """The game's 15 rev lights as coloured blocks (bit 0 leftmost), unlit ones dim."""
    bits = bits or 0
    return "".join(
        _colour(colours[i % len(colours)], "■") if bits >> i & 1 else f"{_DIM}·{_RESET}" for i in range(15)
    )


def render(
    bridge: Bridge, broker: Broker, counters: SendCounters, elapsed: float, colours: list[tuple[int, int, int]]
) -> list[str]:
    view, status = bridge.view, bridge.status
    reader = FieldReader(view, bridge.engine.context)
    session = [reader.render(f) for f in SESSION_FIELDS]
    player = view.player
    lines = [
        f"{_BOLD}rigbridge demo{_RESET}  {elapsed:5.1f} s   broker: {broker.description} "
        f"({status.broker_state})",
        f"session  {session[0] or '-'} · {session[1] or '-'} · {session[2] or '-'} laps · weather "
        f"{session[3] or '-'} · safety car {session[4] or '-'}",
    ]
    cars = sorted((c for c in view.active_cars if c.position), key=lambda c: c.position)[:5]
    for car in cars:
        gap = car.gap_leader_ms
        gap_text = "leader" if car.position == 1 else f"+{(gap or 0) / 1000:.3f}"
        lines.append(f"  P{car.position:<2} {car.name or '?':<16} lap {car.lap or 0:<3} {gap_text:>9}  "
                     f"{car.speed_kph or 0:>3} km/h")
    if player is not None:
        lines.append(
            f"player   {player.speed_kph or 0:>3} km/h  gear {player.gear or 0}  {player.rpm or 0:>5} rpm  "
            f"{rev_lights_bar(_rev_bits(bridge), colours)}  P{player.position or '-'}"
        )
    else:
        lines.append("player   (spectating)")
    lines.append(
        f"traffic  {status.packets_per_s:6.0f} packets/s   {status.messages_per_s:6.0f} messages/s   "
        f"sent {counters.datagrams} datagrams"
    )
    lines.append(f"{_DIM}watch the topics: mosquitto_sub -h {broker.host} -p {broker.port} -t "
                 f"'{bridge.engine.policy.root.split('/')[0]}/#' -v{_RESET}")
    return lines


def _rev_bits(bridge: Bridge) -> int | None:
    """The game's rev-light bits, or the bits of the percentage made from rpm (games without their own)."""
    bits: int | None = bridge.view.player.rev_lights_bits if bridge.view.player is not None else None
    if bits is not None:
        return bits
    pct = bridge.lights.rev_pct
    return None if pct is None else (1 << round(pct * 15 / 100)) - 1


SESSION_FIELDS = [
    BY_PATH[p] for p in ("session/track", "session/type", "session/total_laps", "session/weather", "session/safety_car")
]  # the view shows exactly what is published


async def _show(bridge: Bridge, broker: Broker, counters: SendCounters, out: TextIO, started: float) -> None:
    live = out.isatty()
    colours = led_colours(bridge.settings.lights)
    drawn = 0
    while True:
        lines = render(bridge, broker, counters, time.monotonic() - started, colours)
        if live:
            out.write((f"\033[{drawn}F" if drawn else "") + "".join(f"\033[2K{line}\n" for line in lines))
            drawn = len(lines)
        out.flush()
        await asyncio.sleep(VIEW_INTERVAL_S if live else 5.0)


async def run_demo(settings: Settings, *, duration: float | None, broker_choice: str, out: TextIO,
                   game: Game = BY_KEY["f1"]) -> int:
    assert game.synth is not None, f"{game.key} has no synthetic race"
    broker = await choose_broker(settings, broker_choice)
    bridge = Bridge(demo_settings(settings, broker, game.key))
    counters = SendCounters()
    print(f"rigbridge demo: {broker.description}; watch the topics with:\n"
          f"  mosquitto_sub -h {broker.host} -p {broker.port} -t '{bridge.settings.mqtt.base_topic}/#' -v", file=out)
    started = time.monotonic()
    runner = asyncio.ensure_future(bridge.run())
    tasks: list[asyncio.Future[object]] = []
    try:
        while not bridge.receiver.running and not runner.done():  # wait for the bind
            await asyncio.sleep(0.02)
        if runner.done():
            runner.result()
        target = ("127.0.0.1", bridge.receiver.address[1])
        race, config = game.synth(int(started) % 1000 + 1)
        tasks.append(asyncio.ensure_future(send_frames(race, config, target, counters=counters, stop=bridge.stopping)))
        tasks.append(asyncio.ensure_future(_show(bridge, broker, counters, out, started)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(runner), duration)
        bridge.stop()
        await runner
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not runner.done():
            bridge.stop()
            await asyncio.gather(runner, return_exceptions=True)
        await broker.close()
    published = sum(bridge.status.published.values())
    print(f"\nrigbridge demo: {counters.datagrams} datagrams sent, {bridge.ingest.received} received, "
          f"{published} messages published to {broker.description}", file=out)
    return 0 if published > 0 else 1


def demo_main(
    config_path: str | None,
    *,
    duration: float | None,
    broker: str,
    game: str = "f1",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run the demo; the view goes to `out`, a reason it cannot run to `err` in one line (exit 1, 2 for bad input)."""
    from bridge.config import ConfigError
    from bridge.limits import duration_problem
    from bridge.publish.mqtt import FatalMqttError

    demo_games = [key for key, g in BY_KEY.items() if g.synth is not None]
    if game not in demo_games:
        print(f"rigbridge demo: --game must be one of: {', '.join(demo_games)} (got {game!r})", file=err)
        return 2
    if duration is not None and (problem := duration_problem(duration)):
        print(f"rigbridge demo: --duration {problem}", file=err)
        return 2
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        print(f"rigbridge demo: invalid configuration:\n{exc}", file=err)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run_demo(settings, duration=duration, broker_choice=broker, out=out, game=BY_KEY[game]))
    except DemoError as exc:
        print(f"rigbridge demo: {exc}", file=err)
        return 1
    except FatalMqttError as exc:
        print(f"rigbridge demo: the broker refused the bridge: {exc}", file=err)
        return 1
    except OSError as exc:  # a socket, the broker process, or a file named in the config
        print(f"rigbridge demo: {exc.strerror or exc}", file=err)
        return 1
    except KeyboardInterrupt:  # Ctrl-C is how a demo without --duration ends
        return 0
