"""Recording while running: every datagram reaches the capture, and a full disk never disturbs the pipeline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.games.f1.codec import build, encode
from bridge.ingest.capture import CaptureReader
from bridge.ingest.recorder import PipelineRecorder
from tests.broker import Mosquitto
from tests.harness import BridgeThread, Subscriber, send_frames, settings_for


def frames(count: int) -> list[tuple[float, list[bytes]]]:
    out = []
    for n in range(count):
        lights = {"carTelemetryData": [{"revLightsPercent": n % 100}]}
        telemetry = encode(build(2025, 6, lights, session_uid=9, frame=n + 1))
        out.append((n / 60.0, [telemetry, b"not a datagram %d" % n]))
    return out


def test_recording_captures_every_datagram_in_order(mosquitto: Mosquitto, tmp_path: Path) -> None:
    capture = tmp_path / "session.rbcap"
    sent = frames(120)
    bt = BridgeThread(settings_for(mosquitto.port, udp={"record": str(capture)})).start()
    try:
        send_frames(bt.udp_port, sent)
        bt.wait(lambda b: b.ingest.received >= 240, 5, "all datagrams")
    finally:
        bt.stop()
    records = list(CaptureReader(capture))
    assert [r.data for r in records] == [d for _, ds in sent for d in ds]  # undecodable ones included
    gaps = [(b.t_ns - a.t_ns) / 1e9 for a, b in zip(records[::2], records[2::2])]
    assert 0.5 / 60 < sorted(gaps)[len(gaps) // 2] < 2 / 60  # timestamps keep the 60 Hz rhythm


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_disk_full_while_recording_stops_recording_not_the_pipeline(mosquitto: Mosquitto) -> None:
    sub = Subscriber(mosquitto.port, "rigbridge/rig1/lights/rev_pct").start()
    bt = BridgeThread(settings_for(mosquitto.port, udp={"record": "/dev/full"})).start()
    try:
        send_frames(bt.udp_port, frames(180))
        bt.wait(lambda b: b.recorder.error is not None, 5, "the recording error")
        time.sleep(0.5)
        summary = bt.bridge.summary()
        published = len(sub.payloads("rigbridge/rig1/lights/rev_pct"))
        decoded = bt.bridge.ingest.decoded["car_telemetry"]
    finally:
        bt.stop()
        sub.stop()
    assert "No space left on device" in bt.bridge.recorder.error
    assert "recording stopped" in summary
    assert decoded == 180 and published >= 170  # the pipeline did not notice


def test_a_slow_disk_drops_from_the_recording_only(tmp_path: Path) -> None:
    recorder = PipelineRecorder(tmp_path / "x.rbcap", max_queue=10)
    recorder._thread.join(0)  # the writer thread is running; flood faster than it drains
    for n in range(5000):
        recorder.put(b"x" * 100, n)
    recorder.close()
    assert recorder.recorded + recorder.dropped == 5000
    assert len(list(CaptureReader(tmp_path / "x.rbcap"))) == recorder.recorded
