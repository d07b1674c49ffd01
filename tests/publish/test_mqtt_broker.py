"""MQTT publishing against a real mosquitto: end to end, availability, reconnects, outages, auth, TLS, expiry."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from functools import cache
from pathlib import Path

import pytest

from bridge.games.f1.codec import build, encode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.publish.catalog import CATALOG
from tests.broker import Mosquitto, free_port
from tests.harness import (
    BridgeThread,
    ProcessSubscriber,
    RigbridgeProcess,
    Subscriber,
    message_expiry,
    replay,
    retained_snapshot,
    send_frames,
    settings_for,
    write_capture,
)
from tools.catalogue import catalogue_payloads

SHORT_TRACK = 17  # Austria: ~69 s laps, the shortest full layout, so a short run completes a lap


@cache
def race_frames(seconds: float, fmt: int = 2025, cars: int = 20) -> list[tuple[float, list[bytes]]]:
    """The first `seconds` of a synthetic race on a short track (generated once per test session)."""
    frames = []
    config = SynthConfig(packet_format=fmt, cars=cars, laps=3, seed=7, track_id=SHORT_TRACK)
    for t, datagrams in SyntheticRace(config).frames():
        if t > seconds:
            break
        frames.append((t, datagrams))
    return frames


def quick_settings(port: int, **sections):
    from bridge.config import RateSettings

    publish = {"rates": RateSettings(fast=10.0, normal=5.0, slow=1.0), **sections.pop("publish", {})}
    return settings_for(port, publish=publish, **sections)


def expected_payloads(bt: BridgeThread) -> dict[str, str]:
    """What the catalogue says every topic should carry now, read from the bridge's own state on its loop."""

    def read() -> dict[str, str]:
        bridge = bt.bridge
        return catalogue_payloads(bridge.view, bridge.engine.context, bridge.engine.root)

    return bt.call(read)


@pytest.fixture(scope="module")
def race_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """80 s of a 20-car race (past the first lap) as a capture file, and how many datagrams it holds."""
    path = tmp_path_factory.mktemp("race") / "race.rbcap"
    return path, write_capture(path, race_frames(80.0))


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def test_synthetic_race_end_to_end(broker: Mosquitto, race_capture: tuple[Path, int]) -> None:
    capture, sent = race_capture
    sub = ProcessSubscriber(broker.port).start()
    bt = BridgeThread(quick_settings(broker.port)).start()
    try:
        replay(bt.udp_port, capture, speed=4.0)

        def all_accounted(b) -> bool:
            b.receiver.update_kernel_drops()
            return b.ingest.received + b.ingest.dropped["kernel_overflow"] >= sent

        bt.wait(all_accounted, 20, "all datagrams received or counted as dropped")
        time.sleep(3.0)  # every rate class came round, and game/receiving went false (2 s without data)
        bt.wait(lambda b: not b.engine.outbox.has_pending(), 10, "empty pending map")
        expected = expected_payloads(bt)
        received, drops = bt.bridge.ingest.received, dict(bt.bridge.ingest.dropped)
        laps_done = bt.call(lambda: len(bt.bridge.state.best_lap or ()))
    finally:
        bt.stop()
        sub.stop()
    assert received >= 0.9 * sent, (received, sent, drops)  # loopback at 4x real time on a shared 2-core box
    assert set(drops) <= {"kernel_overflow"}, drops  # every datagram that arrived decoded
    assert laps_done, "the run should complete a lap"
    messages = sub.snapshot()
    last = {m.topic: m for m in messages}
    root = "rigbridge/rig1"
    # Every catalogue topic for the player and each active car arrived, with the value the state holds.
    assert len(expected) > 500
    missing = sorted(set(expected) - set(last))
    assert missing == []
    by_path = {f.path: f for f in CATALOG}

    def field_of(topic: str):
        rel = topic[len(root) + 1 :]
        parts = rel.split("/")
        return by_path["/".join(["cars", "{car}", *parts[2:]]) if parts[0] == "cars" else rel]

    def agrees(topic: str, want: str) -> bool:
        got, f = last[topic].payload, field_of(topic)
        if got == want:
            return True  # a value within the deadband of the last one sent is not sent again
        rounding = 0.5 * 10 ** -f.precision if f.kind == "float" else 0  # both sides were rounded for display
        return f.deadband > 0 and abs(float(got) - float(want)) <= f.deadband + 2 * rounding + 1e-9

    # Bridge rates (messages/s...) move on their own clock; they are checked elsewhere, not against a snapshot.
    expected = {t: p for t, p in expected.items() if "/bridge/" not in t}
    wrong = {t: (last[t].payload, p) for t, p in expected.items() if not agrees(t, p)}
    assert wrong == {}
    assert sum(1 for t, p in expected.items() if last[t].payload == p) > 0.9 * len(expected)
    active_cars = {t.split("/")[3] for t in expected if t.startswith(f"{root}/cars/")}
    assert len(active_cars) == 20
    for path in ("player/best_lap_ms", "player/last_lap/sector3_ms", "session/best_lap_driver", "player/speed_kph"):
        assert f"{root}/{path}" in last, path
    # QoS as catalogued (subscribed with QoS 1, so the delivery QoS is the published one).
    for m in messages:
        if m.topic in expected and m.payload:
            assert m.qos == field_of(m.topic).qos, (m.topic, m.qos)
    # Nothing republished when unchanged.
    previous: dict[str, str] = {}
    for m in messages:
        assert previous.get(m.topic) != m.payload, f"{m.topic} republished unchanged: {m.payload}"
        previous[m.topic] = m.payload
    # Slow and normal fields at their rates (1 Hz and 5 Hz in this config): never more messages than turns.
    run_s = messages[-1].t - messages[0].t
    for topic, rate in [(f"{root}/cars/3/tyre_wear_pct", 1.0), (f"{root}/cars/3/gap_leader_ms", 5.0)]:
        count = sum(1 for m in messages if m.topic == topic)
        assert 3 <= count <= run_s * rate + 2, (topic, count, run_s)
    assert sum(1 for m in messages if m.topic == f"{root}/lights/rev_pct") > run_s * 5 * 3  # realtime: far more
    # Retained exactly where catalogued: a late subscriber gets the retained state, never realtime streams.
    retained = retained_snapshot(broker.port)
    assert f"{root}/session/track" in retained and f"{root}/cars/3/position" in retained
    assert f"{root}/status" in retained
    assert not any(t.startswith(f"{root}/lights/") for t in retained)
    assert f"{root}/player/throttle_pct" not in retained  # inputs stream, never retained


def test_rev_lights_are_published_for_every_packet_that_changes_them(broker: Mosquitto) -> None:
    sub = ProcessSubscriber(broker.port, "rigbridge/rig1/lights/rev_bits").start()
    bt = BridgeThread(quick_settings(broker.port)).start()
    bits = [(1 << (n % 16)) - 1 for n in range(1, 181)]  # 0b1, 0b11, ... rising and wrapping: each packet new

    def telemetry(n: int, value: int) -> bytes:
        return encode(build(2025, 6, {"carTelemetryData": [{"revLightsBitValue": value, "revLightsPercent": n % 101}]},
                            session_uid=5, frame=n + 1))

    try:
        send_frames(bt.udp_port, [(0.0, [telemetry(0, 0x7FFF)])])  # warm-up: the first snapshot is out of the way
        sub.wait_for(lambda ms: len(ms) >= 1, 5, "the warm-up value")
        send_frames(bt.udp_port, [((n + 1) / 60.0, [telemetry(n + 1, v)]) for n, v in enumerate(bits)])
        with contextlib.suppress(TimeoutError):
            sub.wait_for(lambda ms: len(ms) >= len(bits) + 1, 5, "a message per packet")
        received = bt.bridge.ingest.received
        skipped = bt.bridge.status.published["realtime"]
    finally:
        bt.stop()
        sub.stop()
    assert received == len(bits) + 1
    got = [int(p) for p in sub.payloads("rigbridge/rig1/lights/rev_bits")][1:]
    # One message per packet, in order. Latest-wins may skip a value only when the machine stalls the bridge
    # for longer than a frame (a busy CI box); never reorder, repeat, or lose the newest value.
    remaining = iter(bits)
    assert got[-1] == bits[-1] and all(value in remaining for value in got)  # a subsequence of what was sent
    assert len(got) >= 0.95 * len(bits), (len(got), skipped)


def test_mqtt_3_1_1_carries_values_and_retained_flags(broker: Mosquitto) -> None:
    # The sender encodes QoS 0 PUBLISH packets itself; under 3.1.1 they have no property section.
    sub = ProcessSubscriber(broker.port, "rigbridge/rig1/lights/rev_bits").start()
    bt = BridgeThread(quick_settings(broker.port, mqtt={"protocol": 311, "rig": "rig1"})).start()
    telemetry = encode(build(2025, 6, {"carTelemetryData": [{"revLightsBitValue": 0x3F, "gear": 4}]},
                             session_uid=8, frame=1))  # fmt: skip
    try:
        send_frames(bt.udp_port, [(0.0, [telemetry])])
        sub.wait_for(lambda ms: len(ms) >= 1, 10, "rev bits over MQTT 3.1.1")
        retained = retained_snapshot(broker.port, "rigbridge/rig1/#")
    finally:
        bt.stop()
        sub.stop()
    assert sub.payloads("rigbridge/rig1/lights/rev_bits") == [str(0x3F)]
    assert retained["rigbridge/rig1/status"].payload == "online"  # a QoS 1 publish of paho's
    # The retained QoS 0 telemetry (the sender's own packets) is there with its value.
    uid, fmt = retained["rigbridge/rig1/session/uid"], retained["rigbridge/rig1/game/format"]
    assert (uid.payload, uid.qos, fmt.payload, fmt.qos) == ("8", 0, "2025", 0)


def test_the_broker_connection_sends_small_messages_at_once(broker: Mosquitto) -> None:
    # Nagle's algorithm would hold a rev-light message back until the broker's delayed ACK of the one before.
    bt = BridgeThread(quick_settings(broker.port)).start()
    try:
        nodelay = bt.call(
            lambda: bt.bridge.link.client._client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        )
    finally:
        bt.stop()
    assert nodelay


def run_config(tmp_path: Path, broker_port: int, udp_port: int, extra: str = "") -> Path:
    config = tmp_path / "rigbridge.yaml"
    config.write_text(
        f"""
udp: {{bind: 127.0.0.1, port: {udp_port}}}
mqtt: {{host: 127.0.0.1, port: {broker_port}, rig: proc, keepalive: 5, reconnect_min_s: 0.2, reconnect_max_s: 1.0}}
metrics: {{enabled: false}}
{extra}
"""
    )
    return config


def wait_status(port: int, expected: str, timeout: float) -> float:
    """Seconds until a new subscriber sees `status == expected` (retained)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        got = retained_snapshot(port, "rigbridge/proc/status", settle=0.2)
        if got.get("rigbridge/proc/status") and got["rigbridge/proc/status"].payload == expected:
            return time.monotonic() - start
    raise TimeoutError(f"status never became {expected!r}")


def test_sigkill_leaves_offline_via_the_will_and_sigterm_exits_cleanly(broker: Mosquitto, tmp_path: Path) -> None:
    config = run_config(tmp_path, broker.port, free_port())
    with RigbridgeProcess(config) as proc:
        wait_status(broker.port, "online", 15)
        killed_at = time.monotonic()
        proc.signal(signal.SIGKILL)
        proc.wait(5)
        wait_status(broker.port, "offline", 5 * 1.5)
        assert time.monotonic() - killed_at <= 5 * 1.5
    with RigbridgeProcess(config) as proc:
        wait_status(broker.port, "online", 15)
        proc.signal(signal.SIGTERM)
        assert proc.wait(15) == 0, proc.output()
        status = retained_snapshot(broker.port, "rigbridge/proc/status", settle=0.3)["rigbridge/proc/status"]
        assert status.payload == "offline"


def test_broker_restart_without_persistence_restores_the_retained_snapshot(broker: Mosquitto) -> None:
    bt = BridgeThread(quick_settings(broker.port)).start()
    try:
        send_frames(bt.udp_port, race_frames(20.0), speed=10.0)
        time.sleep(1.5)
        before = retained_snapshot(broker.port)
        assert len(before) > 200
        broker.restart()  # no persistence: the broker forgets every retained message
        bt.wait(lambda b: b.link.connections >= 2, 15, "reconnect")
        time.sleep(1.5)
        after = retained_snapshot(broker.port)
        now = expected_payloads(bt)
        reconnects = bt.bridge.status.reconnects
    finally:
        bt.stop()
    assert reconnects >= 1
    assert after["rigbridge/rig1/status"].payload == "online"
    missing = sorted(set(before) - set(after))
    assert missing == []
    # Everything came back from memory, at the state's current value (no new UDP input was sent).
    race = {t: m.payload for t, m in after.items() if "/bridge/" not in t and t in now}
    assert len(race) > 200
    assert race == {t: now[t] for t in race}


@pytest.mark.slow
def test_broker_outage_keeps_memory_bounded_and_sends_latest_values_after(broker: Mosquitto) -> None:
    bt = BridgeThread(quick_settings(broker.port)).start()
    frames = race_frames(60.0)
    try:
        send_frames(bt.udp_port, frames[:120], speed=1.0)
        broker.stop()
        bt.wait(lambda b: not b.status.broker_connected, 10, "disconnect")
        topics_possible = len(expected_payloads(bt)) + 256  # one message per topic, plus the bounded event queue
        decoded_before = sum(bt.bridge.ingest.decoded.values())
        # 30 s of full-rate input while the broker is away, sampling the pending map as it goes.
        outage = [f for f in frames[120:] if f[0] - frames[120][0] <= 30.0]
        sizes: list[int] = []
        sent = 0
        start = time.monotonic()
        for i in range(0, len(outage), 300):
            sent += send_frames(bt.udp_port, outage[i : i + 300], speed=1.0)
            sizes.append(bt.call(lambda: bt.bridge.engine.outbox.pending_size()))
        elapsed = time.monotonic() - start
        bt.wait(lambda b: sum(b.ingest.decoded.values()) - decoded_before >= sent, 5, "every datagram decoded")
        drops = dict(bt.bridge.ingest.dropped)
        expected_now = expected_payloads(bt)
        sub_port = broker.port
        broker.start()
        sub = Subscriber(sub_port).start()
        bt.wait(lambda b: b.status.broker_connected, 15, "reconnect")
        time.sleep(2.0)
        sub.stop()
    finally:
        bt.stop()
    assert drops == {}  # the writer kept up the whole time: it never waits for the network
    assert elapsed < 33
    assert len(sizes) >= 6 and max(sizes) <= topics_possible, (max(sizes), topics_possible)
    first: dict[str, str] = {}
    for m in sub.snapshot():
        first.setdefault(m.topic, m.payload)
    stale = {t: (first[t], p) for t, p in expected_now.items() if t in first and first[t] != p and "bridge/" not in t
             and "game/" not in t}
    assert stale == {}
    assert len(first) > 200


def _password_file(directory: Path, user: str, password: str) -> Path:
    path = directory / "passwd"
    path.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, capture_output=True)
    path.chmod(0o600)
    return path


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
def test_credentials_wrong_exit_nonzero_right_ones_connect(tmp_path: Path) -> None:
    passwd = _password_file(tmp_path, "rig", "s3cret")
    broker = Mosquitto(tmp_path / "auth", extra=f"allow_anonymous false\npassword_file {passwd}").start()
    try:
        secret = tmp_path / "password.txt"
        secret.write_text("wrong\n")
        config = run_config(tmp_path, broker.port, free_port())
        config.write_text(config.read_text().replace("mqtt: {", f"mqtt: {{username: rig, password_file: {secret}, "))
        with RigbridgeProcess(config) as proc:
            assert proc.wait(20) == 3
            out = proc.output()
        assert "rejected the login for user rig" in out and "wrong" not in out
        secret.write_text("s3cret\n")
        with RigbridgeProcess(config) as proc:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                got = retained_snapshot(broker.port, "rigbridge/proc/status", settle=0.3, username="rig",
                                        password="s3cret")
                if got.get("rigbridge/proc/status") and got["rigbridge/proc/status"].payload == "online":
                    break
            else:
                raise AssertionError(f"bridge with the right password never came online:\n{proc.output()}")
            proc.signal(signal.SIGTERM)
            assert proc.wait(15) == 0
    finally:
        broker.stop()


def _make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl command."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=rigbridge test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
def test_tls_verifies_by_default_and_insecure_only_when_asked(tmp_path: Path) -> None:
    ca, cert, key = _make_ca(tmp_path)
    plain = free_port()  # a second listener without TLS, for the test's own subscriber
    broker = Mosquitto(tmp_path / "tls", extra=f"certfile {cert}\nkeyfile {key}\ncafile {ca}\n"
                                                f"listener {plain} 127.0.0.1").start()  # fmt: skip
    telemetry = encode(build(2025, 6, {"carTelemetryData": [{"revLightsBitValue": 0x1F}]}, session_uid=3, frame=1))
    try:
        cases = [
            (f"tls: {{enabled: true, ca_file: {ca}}}", True),  # verified with the test CA
            ("tls: {enabled: true}", False),  # system CAs do not know the test CA: refused
            ("tls: {enabled: true}, tls_insecure: true", True),  # explicitly insecure
        ]
        for tls, should_connect in cases:
            udp_port = free_port()
            config = run_config(tmp_path, broker.port, udp_port)
            config.write_text(config.read_text().replace("mqtt: {", "mqtt: {" + tls + ", "))
            with RigbridgeProcess(config) as proc:
                if should_connect:
                    deadline = time.monotonic() + 15
                    while "connected" not in proc.output() and proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.1)
                    assert proc.poll() is None, proc.output()
                    assert f"broker 127.0.0.1:{broker.port} connected" in proc.output()
                    # Telemetry crosses the TLS connection: a QoS 0 batch written by the sender itself.
                    sub = ProcessSubscriber(plain, "rigbridge/proc/lights/rev_bits").start()
                    try:
                        send_frames(udp_port, [(0.0, [telemetry])])
                        sub.wait_for(lambda ms: len(ms) >= 1, 10, "rev bits through TLS")
                    finally:
                        sub.stop()
                    assert sub.payloads("rigbridge/proc/lights/rev_bits") == [str(0x1F)]
                    proc.signal(signal.SIGTERM)
                    assert proc.wait(15) == 0, proc.output()
                else:
                    assert proc.wait(20) == 3, proc.output()
                    assert "could not be verified" in proc.output() and "tls_insecure" in proc.output()
    finally:
        broker.stop()


def test_mqtt5_message_expiry_on_retained_telemetry(broker: Mosquitto) -> None:
    bt = BridgeThread(quick_settings(broker.port, publish={"expiry_s": 120})).start()
    try:
        send_frames(bt.udp_port, race_frames(3.0), speed=5.0)
        time.sleep(1.0)
        retained = retained_snapshot(broker.port)
    finally:
        bt.stop()
    track = retained["rigbridge/rig1/session/track"]
    assert message_expiry(track.properties) is not None and 100 <= message_expiry(track.properties) <= 120
    assert message_expiry(retained["rigbridge/rig1/status"].properties) is None  # availability never expires


def test_two_rigs_share_one_broker_without_collisions(broker: Mosquitto) -> None:
    a = BridgeThread(quick_settings(broker.port, mqtt={"rig": "rig-a"})).start()
    b = BridgeThread(quick_settings(broker.port, mqtt={"rig": "rig-b"})).start()
    try:
        frames = race_frames(3.0)
        send_frames(a.udp_port, frames, speed=5.0)
        send_frames(b.udp_port, frames, speed=5.0)
        time.sleep(1.5)
        retained = retained_snapshot(broker.port)
        ids = {a.bridge.settings.mqtt.client_id, b.bridge.settings.mqtt.client_id}
        reconnects = (a.bridge.status.reconnects, b.bridge.status.reconnects)
    finally:
        a.stop()
        b.stop()
    assert len(ids) == 2 and all("rig-" in i for i in ids)
    assert reconnects == (0, 0)  # a client id collision would kick one of them off, again and again
    assert retained["rigbridge/rig-a/status"].payload == retained["rigbridge/rig-b/status"].payload == "online"
    rig_a = {t.split("/", 2)[2] for t in retained if t.startswith("rigbridge/rig-a/")}
    rig_b = {t.split("/", 2)[2] for t in retained if t.startswith("rigbridge/rig-b/")}
    assert len(rig_a) > 100 and rig_a == rig_b

