"""The metrics endpoint of a running bridge: bind address, HTTP and HTTPS, consistency under load, failures."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import Bridge
from bridge.config import MetricsTlsSettings, default_settings, load_settings
from bridge.ingest.udp import PortInUseError
from bridge.publish.metrics import server as metrics_server
from tests.broker import Mosquitto, free_port
from tests.harness import BridgeThread, settings_for

pytestmark = pytest.mark.broker


def scrape(port: int, scheme: str = "http", context: ssl.SSLContext | None = None, path: str = "/metrics"
           ) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}{path}", timeout=10, context=context) as response:
        return response.status, response.headers["Content-Type"], response.read().decode("utf-8")


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "rig")))] = s.value
    return out


def total(v: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, skip: set[str] = frozenset()
          ) -> float:
    return sum(value for (n, labels), value in v.items() if n == name and not set(dict(labels).values()) & skip)


def test_default_settings_keep_metrics_on_loopback(tmp_path: Path) -> None:
    assert default_settings().metrics.bind == "127.0.0.1"
    config = tmp_path / "rigbridge.yaml"
    config.write_text("mqtt: {host: 127.0.0.1, rig: r}\n")
    settings = load_settings(str(config))
    assert settings.metrics.enabled and settings.metrics.bind == "127.0.0.1" and settings.metrics.port == 9464


def test_running_bridge_serves_on_loopback_only(mosquitto: Mosquitto) -> None:
    settings = settings_for(mosquitto.port)  # the default metrics.bind, port 0
    assert settings.metrics.bind == "127.0.0.1"
    bt = BridgeThread(settings).start()
    try:
        exporter = bt.bridge.metrics
        assert exporter is not None
        assert exporter.address[0] == "127.0.0.1"
        assert exporter._server.socket.getsockname()[0] == "127.0.0.1"  # the listening socket
        status, content_type, text = scrape(exporter.port)
        assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
        assert f'rigbridge_info{{rig="rig1",version="{bt.bridge.status.version}"}} 1' in text
    finally:
        bt.stop()


def test_endpoint_http_behaviour_and_two_bridges_in_one_process(mosquitto: Mosquitto) -> None:
    first = BridgeThread(settings_for(mosquitto.port, rig="first")).start()
    second = BridgeThread(settings_for(mosquitto.port, rig="second")).start()
    try:
        port = first.bridge.metrics.port
        assert port != second.bridge.metrics.port
        time.sleep(0.6)  # the lag probe runs every 250 ms
        _, _, text = scrape(port)
        _, _, other = scrape(second.bridge.metrics.port, path="/")
        assert 'rigbridge_info{rig="first"' in text and 'rig="second"' not in text
        assert 'rigbridge_info{rig="second"' in other and 'rig="first"' not in other
        v = values(text)
        assert v[("rigbridge_event_loop_lag_seconds_count", ())] >= 2
        assert v[("rigbridge_mqtt_connected", ())] == 1
        assert v[("rigbridge_mqtt_state", (("state", "connected"),))] == 1
        assert v[("process_resident_memory_bytes", ())] > 0
        # Every sample of every family carries the rig label.
        for family in text_string_to_metric_families(text):
            assert all(s.labels.get("rig") == "first" for s in family.samples), family.name
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("HEAD", "/metrics")
        head = conn.getresponse()
        assert head.status == 200 and head.read() == b"" and int(head.headers["Content-Length"]) > 1000
        conn.request("POST", "/metrics", body=b"x")
        post = conn.getresponse()
        assert post.status == 405 and post.read() == b""
        conn.request("GET", "/elsewhere")
        missing = conn.getresponse()
        assert missing.status == 404 and b"/metrics" in missing.read()
        conn.close()
    finally:
        first.stop()
        second.stop()
    # Stopped: the port is closed and the server thread is gone.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not [t for t in threading.enumerate() if t.name == "rigbridge-metrics"]


def test_a_scrape_during_a_burst_is_consistent(mosquitto: Mosquitto, race: list[tuple[float, list[bytes]]]
                                               ) -> None:
    bt = BridgeThread(settings_for(mosquitto.port)).start()
    garbage = [b"", b"\x00" * 10, os.urandom(700), b"\xe9\x07" + os.urandom(40)]  # too short, unknown, wrong...
    datagrams = [d for _, frame in race[:1500] for d in frame]
    burst = [d for n, d in enumerate(datagrams) for d in ((d, garbage[n % 4]) if n % 5 == 0 else (d,))]
    stop = threading.Event()

    def send() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for n, data in enumerate(burst):
                sock.sendto(data, ("127.0.0.1", bt.udp_port))
                if n % 50 == 49:
                    time.sleep(0.002)  # fast, but not so fast that the kernel drops most of it
                if stop.is_set():
                    return
        finally:
            sock.close()

    sender = threading.Thread(target=send)
    scrapes = []
    try:
        port = bt.bridge.metrics.port
        sender.start()
        while sender.is_alive():
            scrapes.append(values(scrape(port)[2]))
        bt.wait(lambda b: b.ingest.received + b.ingest.dropped["kernel_overflow"] >= len(burst) * 0.5, 10, "burst")
        scrapes.append(values(scrape(port)[2]))
    finally:
        stop.set()
        sender.join(10)
        bt.stop()
    during = [v for v in scrapes if 0 < v[("rigbridge_datagrams_received_total", ())] < len(burst)]
    assert len(during) >= 3, [v[("rigbridge_datagrams_received_total", ())] for v in scrapes]
    for v in scrapes:
        received = v[("rigbridge_datagrams_received_total", ())]
        decoded = total(v, "rigbridge_datagrams_decoded_total")
        dropped = total(v, "rigbridge_datagrams_dropped_total", skip={"kernel_overflow"})
        assert decoded + dropped == received, (decoded, dropped, received)
        for h in ("rigbridge_pipeline_latency_seconds", "rigbridge_event_loop_lag_seconds"):
            buckets = sorted(((float(dict(labels)["le"]), value) for (n, labels), value in v.items()
                              if n == f"{h}_bucket"))
            assert [c for _, c in buckets] == sorted(c for _, c in buckets)
            assert buckets[-1][1] == v[(f"{h}_count", ())]
    last = scrapes[-1]
    assert total(last, "rigbridge_datagrams_dropped_total", skip={"kernel_overflow"}) > 0
    assert last[("rigbridge_datagrams_dropped_total", (("reason", "too_short"),))] > 0


def test_a_scrape_while_the_loop_is_busy_answers_without_bridge_figures(
        mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_server, "SNAPSHOT_TIMEOUT_S", 0.3)
    bt = BridgeThread(settings_for(mosquitto.port)).start()
    try:
        port = bt.bridge.metrics.port
        bt._loop.call_soon_threadsafe(time.sleep, 1.0)  # a loop that does not answer
        time.sleep(0.05)
        status, _, text = scrape(port)
        assert status == 200
        v = values(text)
        assert ("rigbridge_datagrams_received_total", ()) not in v
        assert v[("rigbridge_metrics_snapshot_failures_total", ())] == 1
        assert v[("process_cpu_seconds_total", ())] > 0
        time.sleep(1.0)
        v = values(scrape(port)[2])
        assert ("rigbridge_datagrams_received_total", ()) in v
        assert v[("rigbridge_metrics_snapshot_failures_total", ())] == 1
        lag = sorted((float(dict(labels)["le"]), value) for (n, labels), value in v.items()
                     if n == "rigbridge_event_loop_lag_seconds_bucket")
        assert dict(lag)[0.25] < dict(lag)[float("inf")]  # the 1 s stall shows as one long lag
    finally:
        bt.stop()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_tls(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    settings = settings_for(mosquitto.port, metrics={"tls": MetricsTlsSettings(str(cert), str(key))})
    bt = BridgeThread(settings).start()
    try:
        port = bt.bridge.metrics.port
        # A client that connects and says nothing does not hold up the others (handshakes run per request).
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            context = ssl.create_default_context(cafile=str(cert))
            status, _, text = scrape(port, "https", context)
            assert status == 200 and 'rigbridge_info{rig="rig1"' in text
            with pytest.raises(urllib.error.URLError) as untrusted:
                scrape(port, "https", ssl.create_default_context())  # not trusted without the certificate
            assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
            with pytest.raises((http.client.HTTPException, ConnectionError, urllib.error.URLError)):
                scrape(port, "http")  # plain HTTP gets no metrics
        assert scrape(port, "https", context)[0] == 200
    finally:
        bt.stop()


def test_metrics_port_in_use_stops_the_start_with_a_clear_message() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    settings = settings_for(free_port())
    settings = dataclasses.replace(settings, metrics=dataclasses.replace(settings.metrics, port=taken))
    bridge = Bridge(settings)
    try:
        with pytest.raises(PortInUseError, match=f"metrics port 127.0.0.1:{taken} is already in use"):
            asyncio.run(bridge.run())
    finally:
        holder.close()
    assert bridge.receiver._sock is None  # the UDP socket was released on the way out


def test_disabled_metrics_serve_nothing(mosquitto: Mosquitto) -> None:
    bt = BridgeThread(settings_for(mosquitto.port, metrics={"enabled": False})).start()
    try:
        assert bt.bridge.metrics is None
        assert not [t for t in threading.enumerate() if t.name == "rigbridge-metrics"]
    finally:
        bt.stop()
