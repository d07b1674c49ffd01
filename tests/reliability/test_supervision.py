"""A failure inside a running bridge is counted, logged once with its traceback, and survived.

Each case injects one exception into one part of a real running `Bridge` (real UDP in from a paced synthetic race,
a real mosquitto, a real subscriber, the real metrics endpoint): a stage of the datagram handler, a long-lived task,
a reader, the metrics exporter. It then checks, from outside, that the part goes on (values keep arriving after
the failure), and that the failure is in `bridge.faults`, in `rigbridge_errors_total`, and in the log exactly once
with its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import bridge.publish.metrics.snapshot
from bridge.app import Bridge
from bridge.config import WledSettings
from tests.broker import MOSQUITTO, Mosquitto
from tests.harness import BridgeThread, Subscriber
from tests.publish.test_mqtt_broker import quick_settings, race_frames
from tests.reliability.helpers import Feeder, wait_until, window

pytestmark = pytest.mark.broker

RIG = "sup"
ROOT = f"rigbridge/{RIG}"


class LogRecords(logging.Handler):
    """Every record of the bridge's loggers, from whichever thread logs it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self.records.append(record)

    def matching(self, text: str) -> list[logging.LogRecord]:
        with self._guard:
            return [r for r in self.records if text in r.getMessage()]


class Once:
    """Wraps a callable so that its first call (that `when` accepts) raises `exc`; remembers when it did."""

    def __init__(self, fn: Callable[..., Any], exc: Exception, when: Callable[..., bool] = lambda *a, **k: True):
        self.fn, self.exc, self.when = fn, exc, when
        self.raised_at: float | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.raised_at is None and self.when(*args, **kwargs):
            self.raised_at = time.monotonic()
            raise self.exc
        return self.fn(*args, **kwargs)


class Rig:
    """One running bridge fed with a race, a subscriber on its topics, and its log."""

    def __init__(self, thread: BridgeThread, sub: Subscriber, log: LogRecords, broker: Mosquitto, feeder: Feeder,
                 closing: contextlib.ExitStack) -> None:
        self.thread, self.sub, self.log, self.broker, self.feeder = thread, sub, log, broker, feeder
        self.closing = closing

    @property
    def bridge(self) -> Bridge:
        assert self.thread.bridge is not None
        return self.thread.bridge

    def failed(self, where: str, kind: str, timeout: float = 10.0) -> None:
        """Wait until `faults` counted (where, kind) and its log line went out (the flusher runs every second)."""
        wait_until(lambda: self.bridge.faults.count(where, kind) >= 1, timeout, f"{where} {kind} in faults")
        wait_until(lambda: self.logged(where, kind), timeout, f"{where} {kind} in the log")

    def logged(self, where: str, kind: str) -> list[logging.LogRecord]:
        return [r for r in self.log.matching(f"{where} failed") if r.exc_info and r.exc_info[0] is not None
                and r.exc_info[0].__name__ == kind]

    def after(self, topic: str, since: float) -> list[str]:
        return [m.payload for m in self.sub.snapshot() if m.topic == f"{ROOT}/{topic}" and m.t > since]

    def keeps_publishing(self, topic: str, since: float, count: int = 3, timeout: float = 10.0) -> None:
        wait_until(lambda: len(set(self.after(topic, since))) >= count, timeout,
                   f"{count} new values of {topic} (faults: {dict(self.bridge.faults.counts)})")

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        assert self.bridge.metrics is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{self.bridge.metrics.port}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "rig"))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


@contextlib.contextmanager
def running(directory: Path, seconds: float = 60.0, **sections: Any) -> Iterator[Rig]:
    """A broker, a bridge on its own thread, a subscriber and a feeder sending `seconds` of race at 60 Hz."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (.ci/run installs the Debian package)")
    log = LogRecords()
    logger = logging.getLogger("rigbridge")
    previous = logger.level
    logger.addHandler(log)
    logger.setLevel(logging.INFO)
    with contextlib.ExitStack() as stack:
        stack.callback(logger.setLevel, previous)
        stack.callback(logger.removeHandler, log)
        broker = Mosquitto(directory / "broker").start()
        stack.callback(broker.stop)
        sub = Subscriber(broker.port, f"{ROOT}/#").start()
        stack.callback(sub.stop)
        thread = BridgeThread(quick_settings(broker.port, mqtt={"rig": RIG}, **sections)).start()
        stack.callback(thread.stop)
        # From lights out (9 s) on: every car moves, so fast fields such as the lap distance change all the time.
        feeder = Feeder(thread.udp_port, window(race_frames(seconds + 10.0), 10.0, seconds + 10.0)).start()
        stack.callback(feeder.stop)
        rig = Rig(thread, sub, log, broker, feeder, stack)
        wait_until(lambda: rig.after("player/lap_distance_m", 0.0), 10, "telemetry through the bridge")
        yield rig
        assert thread.error is None, thread.error


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """One running bridge for the cases that do not restart anything (each injects into a different part)."""
    wled = WledSettings(enabled=True, topics=("wled/sup",))  # a second reader: WLED shift lights
    with running(tmp_path_factory.mktemp("supervision"), 90.0, lights={"wled": wled}) as shared:
        yield shared


# ------------------------------------------------------------------------------------------------- tasks


def test_the_rate_ticker_survives_an_exception(rig: Rig) -> None:
    """One IndexError in the engine's tick used to end the ticker: every on-change, fast, normal and slow field
    stopped for the rest of the session, with nothing logged."""
    engine = rig.bridge.engine
    tick = Once(engine.tick, IndexError("list index out of range"))
    engine.tick = tick  # type: ignore[method-assign]
    try:
        rig.failed("task.ticker", "IndexError")
        assert tick.raised_at is not None
        rig.keeps_publishing("player/lap_distance_m", tick.raised_at)  # a fast field: read by the ticker
        rig.keeps_publishing("bridge/messages_per_s", tick.raised_at, count=2)  # a slow one
    finally:
        del engine.tick
    assert rig.bridge.faults.count("task.ticker") == 1
    assert len(rig.logged("task.ticker", "IndexError")) == 1


def test_the_rates_task_survives_an_exception(rig: Rig) -> None:
    receiver = rig.bridge.receiver
    update = Once(receiver.update_kernel_drops, OSError("/proc/net/udp unreadable"))
    receiver.update_kernel_drops = update  # type: ignore[method-assign]
    try:
        rig.failed("task.rates", "OSError")
        assert update.raised_at is not None
        rig.keeps_publishing("bridge/packets_per_s", update.raised_at, count=1)
        rig.keeps_publishing("bridge/messages_per_s", update.raised_at, count=2)
    finally:
        del receiver.update_kernel_drops
    assert rig.bridge.faults.count("task.rates") == 1
    assert len(rig.logged("task.rates", "OSError")) == 1


def test_the_faults_log_writer_survives_an_exception(rig: Rig) -> None:
    faults = rig.bridge.faults
    flush = Once(faults.flush, RuntimeError("log handler broke"))
    faults.flush = flush  # type: ignore[method-assign]
    try:
        rig.failed("task.faults", "RuntimeError")  # logged by the restarted writer itself
    finally:
        del faults.flush
    assert len(rig.logged("task.faults", "RuntimeError")) == 1


def test_the_metrics_lag_probe_and_the_server_thread_survive_an_exception(rig: Rig) -> None:
    exporter = rig.bridge.metrics
    assert exporter is not None
    lag = exporter.lag
    observe = Once(lag.observe, ValueError("bad sample"))
    lag.observe = observe  # type: ignore[method-assign]
    server = exporter._server  # the real server's loop is where the failure goes
    assert server is not None
    service = Once(server.service_actions, OSError("poll failed"))
    server.service_actions = service  # type: ignore[method-assign]
    try:
        rig.failed("task.metrics.lag", "ValueError")
        rig.failed("task.metrics.server", "OSError")
        count = lag.count
        wait_until(lambda: lag.count >= count + 3, 5, "lag samples after the failure")
        figures = rig.scrape()  # the restarted server answers
    finally:
        del lag.observe, server.service_actions
    assert figures[("rigbridge_errors_total", (("kind", "ValueError"), ("where", "task.metrics.lag")))] == 1
    assert figures[("rigbridge_errors_total", (("kind", "OSError"), ("where", "task.metrics.server")))] == 1
    assert figures[("rigbridge_event_loop_lag_seconds_count", ())] >= count + 3
    assert len(rig.logged("task.metrics.lag", "ValueError")) == 1
    assert len(rig.logged("task.metrics.server", "OSError")) == 1


def test_the_home_assistant_timer_survives_an_exception(rig: Rig) -> None:
    """Home Assistant's rate-limited states run on a loop timer; one exception used to end the timer for good."""
    ha = rig.bridge.services["homeassistant"]
    flush = Once(ha.flush, ZeroDivisionError("rate"))
    ha.flush = flush  # type: ignore[method-assign]
    try:
        rig.failed("loop.HomeAssistant._tick", "ZeroDivisionError")
        assert flush.raised_at is not None
        since = flush.raised_at
        wait_until(lambda: len({m.payload for m in rig.sub.snapshot() if m.t > since and m.topic ==
                                f"{ROOT}/ha/player/speed_kph"}) >= 3, 10, "Home Assistant states after the failure")
    finally:
        del ha.flush
    assert rig.bridge.faults.count("loop.HomeAssistant._tick") == 1


def test_a_reader_failing_on_a_message_costs_no_reconnect(rig: Rig) -> None:
    """A reader's exception on an incoming message used to end the MQTT session: a reconnect per bad message."""
    ha = rig.bridge.services["homeassistant"]
    on_message = Once(ha.on_message, UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))
    ha.on_message = on_message  # type: ignore[method-assign]
    reconnects = rig.bridge.status.reconnects
    try:
        rig.sub.client.publish(f"{rig.bridge.settings.homeassistant.discovery_prefix}/status", "online", qos=1)
        rig.failed("service.homeassistant", "UnicodeDecodeError")
        assert on_message.raised_at is not None
        rig.keeps_publishing("player/speed_kph", on_message.raised_at)
    finally:
        del ha.on_message
    assert rig.bridge.status.reconnects == reconnects
    assert len(rig.logged("service.homeassistant", "UnicodeDecodeError")) == 1


def test_a_failed_metrics_snapshot_is_counted_and_the_next_scrape_has_the_figures(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    take = Once(bridge.publish.metrics.snapshot.take_snapshot, KeyError("missing"))
    monkeypatch.setattr(bridge.publish.metrics.snapshot, "take_snapshot", take)
    first = rig.scrape()
    second = rig.scrape()
    assert ("rigbridge_datagrams_received_total", ()) not in first
    assert second[("rigbridge_datagrams_received_total", ())] > 0
    assert second[("rigbridge_metrics_snapshot_failures_total", ())] == 1
    assert second[("rigbridge_errors_total", (("kind", "KeyError"), ("where", "metrics.snapshot")))] == 1
    rig.failed("metrics.snapshot", "KeyError")
    assert len(rig.logged("metrics.snapshot", "KeyError")) == 1


# ------------------------------------------------------------------------------------------------- the hot path


@pytest.mark.parametrize(
    ("stage", "inject"),
    [
        ("decode", lambda b, mp, once: mp.setattr(b, "decode", once(b.decode))),
        ("writer", lambda b, mp, once: mp.setattr(b, "process", once(b.process))),
        ("service.mqtt", lambda b, mp, once: mp.setattr(b.engine, "on_change", once(b.engine.on_change))),
        ("service.homeassistant", lambda b, mp, once: mp.setattr(
            b.services["homeassistant"], "on_change", once(b.services["homeassistant"].on_change))),
        ("service.wled", lambda b, mp, once: mp.setattr(
            b.services["wled"], "on_change", once(b.services["wled"].on_change))),
    ],
)
def test_a_failing_stage_of_the_datagram_handler_is_counted_logged_and_survived(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, stage: str, inject: Callable[..., None]
) -> None:
    """A catalogue or reader exception on the hot path used to count as `handler_error` and be logged nowhere."""
    wrappers: list[Once] = []

    def once(fn: Callable[..., Any]) -> Once:
        wrappers.append(Once(fn, AttributeError(f"{stage}: 'CarView' object has no attribute 'x'")))
        return wrappers[-1]

    dropped_before = rig.bridge.ingest.dropped["handler_error"]
    inject(rig.bridge, monkeypatch, once)
    rig.failed(stage, "AttributeError")
    (wrapper,) = wrappers
    assert wrapper.raised_at is not None
    rig.keeps_publishing("player/speed_kph", wrapper.raised_at)  # the next datagrams went through
    assert rig.bridge.faults.count(stage, "AttributeError") == 1
    assert len(rig.logged(stage, "AttributeError")) == 1
    # Only a datagram that failed before it was decoded counts as dropped: the others were counted as decoded.
    assert rig.bridge.ingest.dropped["handler_error"] - dropped_before == (1 if stage == "decode" else 0)
    assert rig.scrape()[("rigbridge_errors_total", (("kind", "AttributeError"), ("where", stage)))] == 1


# ------------------------------------------------------------------------------------------------- own bridges


def test_the_watchdog_survives_an_exception_and_still_announces_the_pause(tmp_path: Path) -> None:
    """The watchdog failing on the very change it announces: restarted, it announces it again (it used to note the
    change first, fail to publish it, and never publish it after)."""
    with running(tmp_path, 30.0, udp={"receive_timeout_s": 1.0}) as one:
        engine = one.bridge.engine
        mark = Once(engine.mark, RuntimeError("engine refused"), lambda group: group == "game")
        engine.mark = mark  # type: ignore[method-assign]
        one.feeder.stop()  # the game pauses: after 1 s the watchdog announces it, and fails doing so
        one.failed("task.watchdog", "RuntimeError")
        assert mark.raised_at is not None
        wait_until(lambda: "false" in one.after("game/receiving", mark.raised_at or 0.0), 5,
                   "game/receiving false announced by the restarted watchdog")
        del engine.mark
        assert one.bridge.faults.count("task.watchdog") == 1
        assert len(one.logged("task.watchdog", "RuntimeError")) == 1


def test_a_reader_failing_on_connect_costs_neither_the_connection_nor_the_bridge(tmp_path: Path) -> None:
    """A reader's exception after a reconnect used to end `rigbridge run` with a traceback."""
    with running(tmp_path, 30.0) as one:
        reader = one.bridge.services["homeassistant"]
        on_connect = Once(reader.on_connect, KeyError("discovery"))
        reader.on_connect = on_connect  # type: ignore[method-assign]
        reconnects = one.bridge.status.reconnects
        one.broker.restart()
        one.sub = Subscriber(one.broker.port, f"{ROOT}/#").start()
        one.closing.callback(one.sub.stop)
        one.failed("service.homeassistant", "KeyError")
        wait_until(lambda: one.bridge.status.reconnects > reconnects, 10, "a reconnect")
        assert on_connect.raised_at is not None
        one.keeps_publishing("player/speed_kph", on_connect.raised_at)
        assert one.bridge.status.broker_connected
        assert one.thread.error is None
        assert one.bridge.status.reconnects == reconnects + 1  # one reconnect, for the restart: no loop
        del reader.on_connect
