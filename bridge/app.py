"""The pipeline, built from the settings: UDP in, decode, the single writer, and the output services.

    receiver -> forward (raw) -> decode -> the running game's writer -> Changes
             -> every service's on_change (MQTT topics, Home Assistant, WLED, realtime LEDs, metrics)
             -> outbox -> MQTT link (network)

Everything runs on one event loop. The datagram handler is synchronous end to end: decode, write the state,
let each service take what changed, wake the link; no await, no I/O. The MQTT link, the services' own tasks,
the UDP watchdog, the stats logger and the faults log writer are their own tasks. SIGINT/SIGTERM drain the
pending values, publish `offline` and exit 0; SIGHUP reloads the forwarding targets.

The outputs are listed once, in SERVICES below; each is built from explicit dependencies (`Deps`), started
and closed alike by `run`. Nothing fails silently and nothing dies of one failure: an exception in a stage of the
datagram handler, in a service or in a task goes to `self.faults` (counted by where and type, logged once with
its traceback, then once a minute), the datagram is given up or the task restarted (`supervise`), and the bridge
goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from bridge.config import Settings, load_settings
from bridge.export.service import ExportService
from bridge.faults import Faults
from bridge.games.gt7.console import Gt7ConsoleService
from bridge.games.registry import BY_KEY, LIVE, Game, identify_live
from bridge.ingest.forward import Forwarder
from bridge.ingest.recorder import PipelineRecorder
from bridge.ingest.stats import HANDLER_ERROR, IngestStats
from bridge.ingest.udp import UdpReceiver
from bridge.publish.engine import PublishEngine
from bridge.publish.fieldread import Context
from bridge.publish.homeassistant import HomeAssistant
from bridge.publish.led_realtime import LedRealtime
from bridge.publish.leds import Lights
from bridge.publish.metrics import MetricsExporter
from bridge.publish.mqtt import MqttLink
from bridge.publish.outbox import Outbox
from bridge.publish.policy import TopicPolicy
from bridge.publish.race_control import RaceControlFeed
from bridge.publish.service import DatagramTime, Deps, Factory, Service, service_stage
from bridge.publish.wled import Wled
from bridge.state.aids.hooks import process_aids_settings
from bridge.state.changes import BRIDGE, GAME, Changes
from bridge.state.session import SessionState
from bridge.state.view import readonly
from bridge.status import BridgeStatus
from bridge.supervise import supervise

log = logging.getLogger("rigbridge")


def switched(service: Any) -> Any:
    """A service with an `enabled` flag of its own, or None (left off) when its settings disable it."""
    return service if service.enabled else None


Writer = Callable[[SessionState, Any], Changes]  # the running game's writer: folds a record in, says what changed

# The output services, in the order they see each change and are started (closed in reverse). One line each: the
# factory returns None when the service's settings section leaves it off.
SERVICES: tuple[Factory, ...] = (
    PublishEngine.from_deps,  # "mqtt": the catalogue's topics (always on)
    HomeAssistant.from_deps,  # "homeassistant": discovery and rate-limited states
    Wled.from_deps,  # "wled": the LED frame over WLED's MQTT JSON API
    RaceControlFeed.from_deps,  # "race_control": the race-control messages, in order
    LedRealtime.from_deps,  # "led_realtime": the LED frame over UDP, on the datagram path
    MetricsExporter.from_deps,  # "metrics": the Prometheus endpoint (after led_realtime, whose stats it shows)
    lambda d: switched(ExportService(d.settings.export, d.view, d.faults)),  # "export": a JSON file per session
    lambda d: switched(Gt7ConsoleService(d.settings.games.gt7, d.view, d.faults, d.udp_send)),  # "gt7_console"
)

SUMMARY_INTERVAL_S = 60.0
WATCHDOG_INTERVAL_S = 0.25
FAULTS_FLUSH_S = 1.0


class Bridge:
    """One rig's bridge. `run()` until `stop()` (or a signal)."""

    def __init__(self, settings: Settings, *, config_path: str | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.faults = Faults()  # every caught exception and refused input, counted; logged by its own task
        chosen = BY_KEY.get(settings.udp.game)  # None for auto: the first datagram names the game (`start_game`)
        tables = (chosen or LIVE[0]).tables
        assert tables is not None, "a live game registers its value table"
        self.state = SessionState(tables)
        self.view = readonly(self.state)
        process_aids_settings(self.state, settings.tyres.wear_limit_pct, settings.pit.loss_s)  # racer's aids
        self.status = BridgeStatus()
        self.ingest = IngestStats()
        self.lights = Lights(self.view, settings.lights)
        self.outbox = Outbox()
        self.datagram_time = DatagramTime()
        self.services = self._build_services(settings)
        self.engine: PublishEngine = self.services["mqtt"]
        self._stages = [(service_stage(s), s) for s in self.services.values()]  # (fault name, service)
        mqtt_facing = [s for s in self.services.values() if hasattr(s, "on_connect")]
        self.link = MqttLink(
            settings,
            self.outbox,
            self.status,
            policy=self.deps.policy,
            on_connect=self._on_connect,
            on_message=self._on_message,
            subscriptions=tuple(t for s in mqtt_facing for t in s.subscriptions),
            faults=self.faults,
        )
        # Always there, even with no targets, so a SIGHUP can add some.
        self.forwarder = Forwarder(settings.udp.forward, self.ingest, faults=self.faults)
        self.receiver = UdpReceiver(settings.udp, self.on_datagram, self.ingest, self.forwarder, faults=self.faults)
        self.stopping = asyncio.Event()
        self.recorder = PipelineRecorder(settings.udp.record) if settings.udp.record else None
        # The running game: the first game whose signature a datagram matches, followed until the bridge stops
        # (one game at a time). Until then a datagram no game claims is refused with the first game's reason.
        self.game: Game | None = None
        self.decode: Callable[[bytes], Any] = self._first_datagram  # the running game's decoder
        self.process: Writer = cast(Writer, LIVE[0].process)
        if chosen is not None:
            self.start_game(chosen)

    def _build_services(self, settings: Settings) -> dict[str, Any]:
        services: dict[str, Any] = {}
        self.deps = Deps(
            settings=settings,
            view=self.view,
            context=Context(self.view, self.status, self.lights),
            outbox=self.outbox,
            policy=TopicPolicy(settings),
            wake=self._wake,
            faults=self.faults,
            datagram_time=self.datagram_time,
            counters=self.ingest,
            udp_send=self._send_from_udp_port,
            service=services.get,
        )
        for factory in SERVICES:
            service = factory(self.deps)
            if service is not None:
                services[service.name] = service
        return services

    def _send_from_udp_port(self, data: bytes, addr: tuple[str, int]) -> None:
        """A datagram from the bridge's receiving socket (GT7's heartbeat must come from the port it sends to)."""
        self.receiver.send(data, addr)

    def _wake(self) -> None:
        """Services publish outside the packet path too (timers, subscriptions): wake the link."""
        link = getattr(self, "link", None)  # built after the services, which do not wake it while being built
        if link is not None:
            link.wake()

    @property
    def metrics(self) -> MetricsExporter | None:
        """The Prometheus endpoint; `.port` is the bound port once running (metrics.port 0: any free one)."""
        return self.services.get("metrics")

    def start_game(self, game: Game) -> None:
        """Follow `game`: its decoder and its writer from now on."""
        assert game.process is not None, f"{game.key} has no writer"
        self.game = game
        self.decode = game.decode
        self.process = game.process

    def _first_datagram(self, data: bytes) -> Any:
        game = identify_live(data)
        if game is None:
            return LIVE[0].decode(data)
        self.start_game(game)
        return game.decode(data)

    # ------------------------------------------------------------------------------------------ hot path

    def on_datagram(self, data: bytes, addr: tuple[Any, ...], t_ns: int) -> None:
        """Decode, write, pick what to publish. Synchronous: nothing here awaits or does I/O.

        A failure in any stage is reported to `faults` under the stage's name and the datagram is given up; the
        next one goes through as usual. One try around the whole handler, with the stage kept in a local, costs
        nothing while nothing fails.
        """
        stage = "recorder"
        try:
            if self.recorder is not None:
                self.recorder.put(data, t_ns)  # raw, before decoding: undecodable datagrams are recorded too
            stage = "decode"
            packet = self.decode(data)
            if not packet:
                self.ingest.dropped[packet.reason] += 1
                return
            self.ingest.decoded[packet.layout.key] += 1
            self.status.source = addr[0]
            stage = "writer"
            changed = self.process(self.state, packet)
            if changed:
                self.datagram_time.ns = t_ns
                for name, service in self._stages:
                    stage = name  # kept for the report, should this service fail
                    service.on_change(changed)
                stage = "outbox"
                if self.outbox.has_pending():
                    self.link.wake()
        except Exception as exc:  # reported by stage; one bad datagram must not stop the others
            self._datagram_failed(stage, exc, data)

    def _datagram_failed(self, stage: str, exc: Exception, data: bytes) -> None:
        if stage in ("recorder", "decode"):
            self.ingest.dropped[HANDLER_ERROR] += 1  # not decoded: the drop keeps received == decoded + dropped
        self.faults.error(stage, exc, f"{stage} failed on a datagram of {len(data)} bytes "
                                      f"(the bridge goes on with the next one): {exc!r}")

    async def _on_connect(self, client: object) -> None:
        for stage, service in self._stages:
            on_connect = getattr(service, "on_connect", None)
            if on_connect is None:
                continue
            try:
                on_connect()
            except Exception as exc:  # one service's bug must not cost the connection
                self.faults.error(stage, exc, f"{stage} failed after connecting (the bridge goes on): {exc!r}")

    def _on_message(self, message: object) -> None:
        topic, payload = str(message.topic), message.payload  # type: ignore[attr-defined]
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        for stage, service in self._stages:
            if any(topic == t for t in getattr(service, "subscriptions", ())):
                try:
                    service.on_message(topic, data)
                except Exception as exc:  # a bad message must not cost the connection
                    self.faults.error(stage, exc, f"{stage} failed on a message on {topic} (ignored): {exc!r}")

    # ------------------------------------------------------------------------------------------ tasks

    async def _watchdog(self) -> None:
        """`game/receiving` goes false when no datagram arrived for `udp.receive_timeout_s`."""
        timeout = self.settings.udp.receive_timeout_s
        announced: bool | None = None  # what the engine was last told; a restarted watchdog tells it again
        while True:
            last = self.ingest.last_datagram_monotonic
            receiving = last is not None and time.monotonic() - last < timeout
            if receiving != announced:
                if receiving != self.status.receiving:
                    log.info("game telemetry %s", "arriving" if receiving else f"silent for {timeout:g} s")
                self.status.receiving = receiving
                self.engine.mark(GAME)
                self.link.wake()
                announced = receiving
            await asyncio.sleep(WATCHDOG_INTERVAL_S)

    async def _rates(self) -> None:
        """Once a second: rates for the bridge topics; once a minute: the summary log line."""
        last_received = self.ingest.received
        last_published = sum(self.status.published.values())
        last_summary = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            self.receiver.update_kernel_drops()
            received, published = self.ingest.received, sum(self.status.published.values())
            self.status.packets_per_s = float(received - last_received)
            self.status.messages_per_s = float(published - last_published)
            self.status.dropped_total = self.ingest.dropped_total
            self.status.pending = self.outbox.pending_size()
            last_received, last_published = received, published
            self.engine.mark(BRIDGE)
            now = time.monotonic()
            if now - last_summary >= SUMMARY_INTERVAL_S:
                last_summary = now
                log.info(self.summary())

    async def _flush_faults(self) -> None:
        """The log lines of caught failures and refusals, written off the hot path."""
        while True:
            await asyncio.sleep(FAULTS_FLUSH_S)
            self.faults.flush()

    def tasks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """The bridge's own long-lived tasks beside the MQTT link and the services', by name; each runs under
        `supervise`."""
        return {"watchdog": self._watchdog, "rates": self._rates, "faults": self._flush_faults}

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        """What escaped a timer or callback (a reader's timer, a library's callback) goes to `faults` too."""
        exc = context.get("exception")
        if not isinstance(exc, Exception):
            loop.default_exception_handler(context)  # a warning without an exception (a task destroyed pending...)
            return
        handle, task = context.get("handle"), context.get("future") or context.get("task")
        code = getattr(handle, "_callback", None) or (task.get_coro() if isinstance(task, asyncio.Task) else None)
        where = f"loop.{getattr(code, '__qualname__', 'callback')}"  # named by code: a bounded set
        self.faults.error(where, exc, f"{where} failed: {context.get('message', 'in the event loop')}: {exc!r}")

    def summary(self) -> str:
        drops = ", ".join(f"{k} {v}" for k, v in sorted(self.ingest.dropped.items())) or "none"
        recording = ""
        if self.recorder is not None:
            recording = f", recording {'stopped: ' + self.recorder.error if self.recorder.error else 'on'}"
        return (
            f"{self.status.packets_per_s:.0f} packets/s, drops: {drops}, "
            f"{self.status.messages_per_s:.0f} messages/s, broker {self.status.broker_state}{recording}"
        )

    # ------------------------------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        self.stopping.set()

    def reload(self) -> None:
        """SIGHUP: re-read the config file and swap the forwarding targets; an invalid file changes nothing.

        Reading the file resolves host names, which may wait on DNS: that runs in the forwarder's worker thread,
        and only the swap runs on the loop.
        """
        from bridge.config import ConfigError

        config_path = self.config_path
        if config_path is None:
            log.warning("reload ignored: the bridge was started without a config file")
            return

        def read_targets() -> tuple[tuple[str, int], ...]:
            return load_settings(config_path).udp.forward

        def done(exc: BaseException | None) -> None:
            if isinstance(exc, ConfigError):
                log.error("reload ignored, forwarding targets unchanged: invalid configuration:\n%s", exc)
            elif exc is not None:  # a bad edit must not stop a running bridge
                self.faults.error("reload", exc, f"reload ignored, forwarding targets unchanged: {exc!r}")
            else:
                left_out = len(self.forwarder.problems)
                log.info(
                    "reload: forwarding to %d target(s)%s",
                    len(self.forwarder.targets),
                    f"; {left_out} problem(s), each logged as a warning" if left_out else "",
                )

        self.forwarder.reload_in_thread(read_targets, done)

    async def _close_services(self, services: list[Service]) -> None:
        """Close in reverse order of starting; a failure is reported under the service's name and the rest close."""
        for service in reversed(services):
            try:
                await service.close()
            except Exception as exc:  # one service's failure must not keep the others open
                stage = service_stage(service)
                self.faults.error(stage, exc, f"{stage} failed to close (the others close anyway): {exc!r}")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        await self.receiver.start()
        started: list[Service] = []
        try:
            for service in self.services.values():
                await service.start()
                started.append(service)
        except BaseException:  # a service that cannot start (the metrics port taken) stops the bridge at start
            await self._close_services(started)
            self.receiver.close()
            raise
        host, port = self.receiver.address
        log.info("listening for F1 telemetry on %s:%s; %s", host, port, self.settings.summary())
        # Everything built so far lives as long as the process: keep it out of the collector's full passes,
        # which otherwise stall the loop for tens of milliseconds now and then.
        gc.freeze()
        previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._loop_exception)
        helpers = [asyncio.create_task(supervise(name, body, self.faults), name=f"rigbridge-{name}")
                   for name, body in self.tasks().items()]
        try:
            await self.link.run(self.stopping)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self.receiver.close()
            if self.forwarder is not None:
                self.forwarder.close()
            if self.recorder is not None:
                self.recorder.close()
            await self._close_services(list(self.services.values()))
            loop.set_exception_handler(previous_handler)
            self.faults.flush()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_main(config_path: str | None) -> int:
    """`rigbridge run`: exit 0 on a clean stop, 2 on a bad config, 3 when the broker refuses us at start."""
    from bridge.config import ConfigError
    from bridge.ingest.udp import PortInUseError
    from bridge.publish.mqtt import FatalMqttError

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        print(f"rigbridge: invalid configuration:\n{exc}", flush=True)
        return 2
    configure_logging(settings.log.level)
    bridge = Bridge(settings, config_path=config_path)
    try:
        asyncio.run(bridge.run())
    except PortInUseError as exc:
        log.error("%s", exc)
        return 4
    except FatalMqttError as exc:
        log.error("%s", exc)
        return 3
    return 0


def default_config_path() -> str | None:
    for candidate in (Path("rigbridge.yaml"), Path("config/rigbridge.yaml")):
        if candidate.is_file():
            return str(candidate)
    return None


__all__ = ["Bridge", "run_main"]
