"""Broker faults against the real `rigbridge run`: killed and restarted (with and without persistence),
unreachable at start, slow, stalled, and dead without the TCP connection noticing.

Each case keeps the game's telemetry flowing at real time through the fault and afterwards compares what a
subscriber sees with a reference state built from the very datagrams that were sent.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.broker import Mosquitto, free_port
from tests.harness import ProcessSubscriber, RigbridgeProcess
from tests.reliability.helpers import (
    ROOT,
    RSS_BOUND_MB,
    Feeder,
    Frames,
    RssWatch,
    SlowProxy,
    bridge_config,
    disagreements,
    log_times,
    payloads_between,
    reference,
    retained,
    start_bridge,
    wait_until,
    window,
)

pytestmark = pytest.mark.broker

QUIET_S = 2.5  # after the last datagram: every rate class (slowest 1 Hz here) has come round


def connections(text: str) -> int:
    return text.count(" connected")  # "broker 127.0.0.1:port connected", once per (re)connect


def stop_cleanly(proc: RigbridgeProcess) -> None:
    proc.signal(signal.SIGTERM)
    assert proc.wait(15) == 0, proc.output()


@pytest.mark.slow
@pytest.mark.parametrize("persistence", [False, True], ids=["without-persistence", "with-persistence"])
def test_broker_killed_and_restarted(
    tmp_path: Path, closing: contextlib.ExitStack, race: Frames, persistence: bool
) -> None:
    broker = Mosquitto(tmp_path / "broker", persistence=persistence).start()
    closing.callback(broker.stop)
    udp = free_port(socket.SOCK_DGRAM)
    proc = closing.enter_context(start_bridge(bridge_config(tmp_path, broker.port, udp), broker.port))
    watch = RssWatch(proc.process.pid).start()
    closing.callback(watch.stop)
    feeder = Feeder(udp, window(race, 0.0, 19.0 if persistence else 15.0)).start()
    closing.callback(feeder.stop)

    time.sleep(5.0)  # the session is known and every topic went out once
    before = retained(broker.port)
    assert len(before) > 300
    if persistence:
        # A clean stop writes the broker's store to disk: the restart after the kill below brings back these
        # values, by then ~6 s old, and the bridge has to overwrite every one of them.
        broker.stop()
        broker.start()
        wait_until(lambda: connections(proc.output()) >= 2, 10, "reconnect after the clean restart")
        time.sleep(2.5)
        assert (broker.directory / "mosquitto.db").exists()
    rss_before = watch.baseline()
    fault_at = time.time()
    broker.kill()  # SIGKILL: nothing saved, no goodbyes
    time.sleep(2.5)  # the bridge retries (0.2-1 s backoff) and keeps decoding meanwhile
    assert proc.poll() is None, proc.output()
    # Hold the bridge still while the broker comes back, to see what the broker alone restored.
    proc.signal(signal.SIGSTOP)
    connected = connections(proc.output())
    try:
        broker.start()
        restored = retained(broker.port, settle=0.5)
    finally:
        proc.signal(signal.SIGCONT)
    sub = ProcessSubscriber(broker.port, f"{ROOT}/#", directory=tmp_path).start()
    closing.callback(sub.stop)
    wait_until(lambda: connections(proc.output()) > connected, 10, "reconnect after the kill")
    feeder.join()
    time.sleep(QUIET_S)
    after = retained(broker.port)
    latest = sub.last()
    want = reference(feeder.sent)
    peak = watch.peak(since=fault_at)
    assert proc.poll() is None

    if persistence:  # the broker came back with the old store: stale values the bridge had to replace
        assert set(before) <= set(restored)
        stale = {t for t, m in restored.items() if t in want and m.payload != want[t]}
        assert stale, "the restored store should hold values older than the bridge's"
    else:  # the broker came back empty: everything retained had to come from the bridge's memory
        assert restored == {}
    assert after[f"{ROOT}/status"].payload == "online"
    assert sorted(set(before) - set(after)) == []  # the retained snapshot is complete again
    assert disagreements(after, want, retained_only=True) == {}  # ... with the latest value of every topic
    assert disagreements(latest, want) == {}  # and a subscriber's latest values, streams included
    assert after[f"{ROOT}/bridge/dropped"].payload == "0"  # every datagram decoded through the outage
    assert peak - rss_before <= RSS_BOUND_MB, (rss_before, peak)
    stop_cleanly(proc)


@pytest.mark.slow
def test_broker_unreachable_at_start(tmp_path: Path, closing: contextlib.ExitStack, race: Frames) -> None:
    port = free_port()  # nothing listens there yet
    udp = free_port(socket.SOCK_DGRAM)
    proc = closing.enter_context(start_bridge(bridge_config(tmp_path, port, udp), None))
    feeder = Feeder(udp, window(race, 0.0, 11.0)).start()
    closing.callback(feeder.stop)
    time.sleep(1.5)
    watch = RssWatch(proc.process.pid).start()
    closing.callback(watch.stop)
    rss_before = watch.baseline()
    time.sleep(3.5)  # 5 s without a broker, retrying all along
    assert proc.poll() is None, proc.output()
    assert "unreachable" in proc.output()

    broker = Mosquitto(tmp_path / "broker", port=port).start()
    closing.callback(broker.stop)
    appeared = time.time()
    sub = ProcessSubscriber(port, f"{ROOT}/#", directory=tmp_path).start()
    closing.callback(sub.stop)
    wait_until(lambda: connections(proc.output()) >= 1, 10, "connection once the broker is there")
    feeder.join()
    time.sleep(QUIET_S)
    after = retained(port)
    latest = sub.last()
    want = reference(feeder.sent)
    log = proc.output()

    assert log_times(log, " connected")[0] - appeared <= 1.0 + 2.0  # backoff capped at 1 s, plus scheduling
    assert log.count("reconnecting") == 1  # one line per change of state, not one per attempt
    assert after[f"{ROOT}/status"].payload == "online"
    assert len(after) > 300
    assert disagreements(after, want, retained_only=True) == {}
    assert disagreements(latest, want) == {}
    assert after[f"{ROOT}/bridge/dropped"].payload == "0"
    assert watch.peak() - rss_before <= RSS_BOUND_MB
    stop_cleanly(proc)


@pytest.mark.slow
def test_slow_broker_then_a_short_stall(tmp_path: Path, closing: contextlib.ExitStack, race: Frames) -> None:
    """200 ms on every chunk, then 6 s of nothing at all: the link survives (keepalive 20 s), the bridge keeps
    decoding (what it publishes meanwhile waits in its socket's send buffer), and once data flows again the
    subscriber gets the latest values."""
    broker = Mosquitto(tmp_path / "broker").start()
    closing.callback(broker.stop)
    proxy = SlowProxy(broker.port, delay=0.2).start()
    closing.callback(proxy.stop)
    sub = ProcessSubscriber(broker.port, f"{ROOT}/#", directory=tmp_path).start()  # straight to the broker
    closing.callback(sub.stop)
    udp = free_port(socket.SOCK_DGRAM)
    config = bridge_config(tmp_path, proxy.port, udp, keepalive=20)
    proc = closing.enter_context(start_bridge(config, broker.port))
    watch = RssWatch(proc.process.pid).start()
    closing.callback(watch.stop)
    feeder = Feeder(udp, window(race, 0.0, 19.0)).start()
    closing.callback(feeder.stop)

    time.sleep(8.0)  # cars moving (lights out at 9 s) by the time the stall starts
    rss_before = watch.baseline()
    stall_at = time.time()
    proxy.stall()
    time.sleep(6.0)
    stall_end = time.time()
    proxy.resume()
    feeder.join()
    time.sleep(QUIET_S + 0.5)  # 200 ms each way on top
    messages = sub.snapshot()
    after = retained(broker.port)
    want = reference(feeder.sent)
    log = proc.output()

    during = [m.topic for m in messages if m.topic.startswith(ROOT) and stall_at + 0.5 <= m.t <= stall_end]
    assert during == []  # the stall was complete
    assert any(m.t > stall_end for m in messages if m.topic.startswith(ROOT))
    assert connections(log) == 1 and "reconnecting" not in log, log  # a stall shorter than keepalive: same link
    assert disagreements(sub.last(), want) == {}  # decoded all along: latest values, not the ones before the stall
    assert disagreements(after, want, retained_only=True) == {}
    assert after[f"{ROOT}/bridge/dropped"].payload == "0"
    assert watch.peak(since=stall_at) - rss_before <= RSS_BOUND_MB
    stop_cleanly(proc)


@pytest.mark.slow
def test_broker_stalled_longer_than_keepalive_is_a_dead_link(
    tmp_path: Path, closing: contextlib.ExitStack, race: Frames
) -> None:
    """Keepalive 5 s, a 10 s stall: the QoS 1 heartbeat goes unanswered, the bridge gives the link up within
    1.5x keepalive, reconnects once data flows (the proxy drops the dead connections), and republishes."""
    broker = Mosquitto(tmp_path / "broker").start()
    closing.callback(broker.stop)
    proxy = SlowProxy(broker.port, delay=0.2).start()
    closing.callback(proxy.stop)
    sub = ProcessSubscriber(broker.port, f"{ROOT}/#", directory=tmp_path).start()
    closing.callback(sub.stop)
    udp = free_port(socket.SOCK_DGRAM)
    proc = closing.enter_context(start_bridge(bridge_config(tmp_path, proxy.port, udp, keepalive=5), broker.port))
    watch = RssWatch(proc.process.pid).start()
    closing.callback(watch.stop)
    feeder = Feeder(udp, window(race, 0.0, 19.0)).start()
    closing.callback(feeder.stop)

    time.sleep(4.0)
    before = retained(broker.port)
    rss_before = watch.baseline()
    stall_at = time.time()
    proxy.stall()
    time.sleep(10.0)
    stall_end = time.time()
    proxy.resume(drop=True)
    wait_until(lambda: connections(proc.output()) >= 2, 10, "reconnect after the stall")
    feeder.join()
    time.sleep(QUIET_S + 0.5)
    messages = sub.snapshot()
    after = retained(broker.port)
    want = reference(feeder.sent)
    log = proc.output()

    given_up = [t for t in log_times(log, "reconnecting") if t >= stall_at]
    assert given_up, log
    assert given_up[0] - stall_at <= 1.5 * 5 + 1.0, log  # dead link noticed within ~1.5x keepalive
    assert given_up[0] < stall_end  # by the heartbeat, not by the proxy dropping the connection
    status = payloads_between(messages, f"{ROOT}/status", stall_at)
    assert "offline" in status and status[-1] == "online", status  # the Will, then a new `online`
    assert status.index("offline") < len(status) - 1
    assert sorted(set(before) - set(after)) == []
    assert disagreements(after, want, retained_only=True) == {}
    assert disagreements(sub.last(), want) == {}
    assert after[f"{ROOT}/bridge/dropped"].payload == "0"
    assert watch.peak(since=stall_at) - rss_before <= RSS_BOUND_MB
    stop_cleanly(proc)
