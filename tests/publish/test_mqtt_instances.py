"""Two bridges on one broker that should not be: the same client id (the broker hands the session over), and
two instances on the same rig root. Real bridges, a real mosquitto, the real `rigbridge run` where a Last Will
has to fire."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from pathlib import Path

import pytest

from bridge.publish.diagnosis import SHORT_SESSIONS_IN_A_ROW
from bridge.publish.mqtt import TAKEOVER_MIN_S
from tests.broker import Mosquitto, free_port
from tests.harness import BridgeThread, RigbridgeProcess, retained_snapshot, settings_for
from tests.publish.test_mqtt_broker import run_config, wait_status


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def status_of(port: int, root: str = "rigbridge/rig1") -> str | None:
    got = retained_snapshot(port, f"{root}/status", settle=0.3).get(f"{root}/status")
    return got.payload if got else None


def test_a_client_id_taken_over_backs_off_instead_of_fighting(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    # mosquitto 2.0 closes the connection it hands over without a DISCONNECT (MQTT 5 would say 0x8E): the link
    # notices its sessions cut short again and again, and gives way for long instead of taking the id back.
    caplog.set_level(logging.INFO)
    settings = settings_for(broker.port)
    settings = dataclasses.replace(settings, mqtt=dataclasses.replace(settings.mqtt, client_id="shared-id"))
    bridges = [BridgeThread(settings).start(), BridgeThread(settings).start()]
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(b.bridge.status.broker_state == "reconnecting" and
                                                      "took over" in caplog.text for b in bridges):
            time.sleep(0.1)
        settled = [b.bridge.link.connections for b in bridges]
        time.sleep(4.0)  # the normal backoff (0.2-1 s here) would have had it back several times by now
        later = [b.bridge.link.connections for b in bridges]
        connected = [b.bridge.status.broker_connected for b in bridges]
    finally:
        for b in bridges:
            b.stop()
    lines = [r for r in caplog.records if "another client with the same client id (shared-id) took over" in
             r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING, caplog.text
    delay = float(lines[0].getMessage().rsplit("retrying in ", 1)[1].split(" s")[0])
    assert delay >= TAKEOVER_MIN_S
    assert later == settled and sum(settled) <= 2 * SHORT_SESSIONS_IN_A_ROW + 2  # no more fighting
    assert sorted(connected) == [False, True]  # one holds the id; the other waits


def test_a_second_instance_on_the_rig_is_warned_about_and_never_marks_it_offline(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = BridgeThread(settings_for(broker.port)).start()
    second = BridgeThread(settings_for(broker.port)).start()  # the same rig root, its own client id
    stopped: list[BridgeThread] = []
    try:
        for bt, other in ((first, second), (second, first)):
            bt.wait(lambda b, o=other: o.bridge.settings.mqtt.client_id in b.link.peers.live.values(), 5,
                    "the other instance")
        warned = [bt.bridge.link.faults.count("mqtt.instances", "another_instance") for bt in (first, second)]
        first.stop()
        stopped.append(first)
        after_first = status_of(broker.port)
        second.wait(lambda b: not b.link.peers.live, 5, "the first instance's goodbye")
        still_connected = second.bridge.status.broker_connected
        second.stop()
        stopped.append(second)
        after_both = status_of(broker.port)
    finally:
        for bt in (first, second):
            if bt not in stopped:
                bt.stop()
    assert warned == [1, 1]  # each one saw the other, once
    assert after_first == "online" and still_connected  # the one still running stays online
    assert after_both == "offline"  # the last one to stop says so
    assert any("another rigbridge instance (client id" in r.getMessage() and "mqtt.rig" in r.getMessage()
               for r in caplog.records)
    assert any("leaving rigbridge/rig1/status online: another instance" in r.getMessage() for r in caplog.records)


def test_the_last_will_of_a_dead_instance_does_not_leave_a_running_one_offline(
    broker: Mosquitto, tmp_path: Path
) -> None:
    alive = BridgeThread(settings_for(broker.port, rig="proc")).start()
    try:
        with RigbridgeProcess(run_config(tmp_path, broker.port, free_port())) as dying:  # rig `proc`, keepalive 5
            wait_status(broker.port, "online", 15)
            alive.wait(lambda b: b.link.peers.live, 10, "the other instance")
            dying.signal(signal.SIGKILL)
            dying.wait(5)
            # Its Last Will (`offline`) comes within 1.5x keepalive; the running instance says `online` again.
            alive.wait(lambda b: not b.link.peers.live, 10, "the dead instance forgotten")
            time.sleep(0.5)
            after = status_of(broker.port, "rigbridge/proc")
    finally:
        alive.stop()
    assert after == "online"
    assert status_of(broker.port, "rigbridge/proc") == "offline"  # and the last one stopping says offline


def test_two_instances_stopping_at_once_leave_the_rig_offline(broker: Mosquitto) -> None:
    # Each waits for its own `bye` to come back through the broker: whichever `bye` the broker took second sees
    # the other's first, knows it is the last one, and publishes `offline`.
    bridges = [BridgeThread(settings_for(broker.port)).start() for _ in range(2)]
    try:
        for bt in bridges:
            bt.wait(lambda b: b.link.peers.live, 5, "the other instance")
        stoppers = [threading.Thread(target=bt.stop) for bt in bridges]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(20)
    finally:
        for bt in bridges:
            bt.stop()
    assert status_of(broker.port) == "offline"
