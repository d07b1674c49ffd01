"""The bridge itself killed with SIGKILL and started again: the Will says `offline`, the new process says
`online` and rebuilds the retained snapshot from the telemetry that follows."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.broker import Mosquitto, free_port
from tests.harness import ProcessSubscriber
from tests.reliability.helpers import (
    ROOT,
    RSS_BOUND_MB,
    Feeder,
    Frames,
    bridge_config,
    disagreements,
    feed,
    payloads_between,
    reference,
    retained,
    rss_mb,
    start_bridge,
    wait_until,
    window,
)

pytestmark = pytest.mark.broker


@pytest.mark.slow
def test_bridge_killed_and_restarted(
    tmp_path: Path, closing: contextlib.ExitStack, mosquitto: Mosquitto, race: Frames
) -> None:
    udp = free_port(socket.SOCK_DGRAM)
    config = bridge_config(tmp_path, mosquitto.port, udp)
    first = closing.enter_context(start_bridge(config, mosquitto.port))
    feed(udp, window(race, 0.0, 6.0))
    time.sleep(1.5)
    before = retained(mosquitto.port)
    assert len(before) > 300 and before[f"{ROOT}/status"].payload == "online"
    first_rss = rss_mb(first.process.pid)
    sub = ProcessSubscriber(mosquitto.port, f"{ROOT}/status", directory=tmp_path).start()
    closing.callback(sub.stop)

    killed_at = time.time()
    first.signal(signal.SIGKILL)
    first.wait(5)
    wait_until(lambda: "offline" in sub.payloads(f"{ROOT}/status"), 1.5 * 5, "offline (the Will)")
    offline_after = time.time() - killed_at
    assert retained(mosquitto.port, settle=0.3)[f"{ROOT}/status"].payload == "offline"

    second = closing.enter_context(start_bridge(config, None))  # same UDP port: SIGKILL released it
    wait_until(lambda: sub.payloads(f"{ROOT}/status")[-1:] == ["online"], 15, "online from the new process")
    # The new process knows nothing until the game speaks: the snapshot comes back from the next datagrams
    # (Participants every 5 s, Session twice a second, the per-frame packets).
    resumed = Feeder(udp, window(race, 6.0, 12.0)).start()
    closing.callback(resumed.stop)
    resumed.join()
    time.sleep(2.5)
    after = retained(mosquitto.port)
    want = reference(resumed.sent)

    assert offline_after <= 1.5 * 5  # within 1.5x keepalive; the broker sees the socket close at once
    assert payloads_between(sub.snapshot(), f"{ROOT}/status") == ["online", "offline", "online"]
    assert after[f"{ROOT}/status"].payload == "online"
    assert sorted(set(before) - set(after)) == []  # the snapshot is complete again
    assert disagreements(after, want, retained_only=True) == {}
    assert after[f"{ROOT}/bridge/dropped"].payload == "0"
    assert rss_mb(second.process.pid) - first_rss <= RSS_BOUND_MB
    second.signal(signal.SIGTERM)
    assert second.wait(15) == 0, second.output()
