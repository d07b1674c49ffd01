"""A synthetic race through the live bridge (real UDP, a real mosquitto) writes its session file; `rigbridge
export` on a recording of the same race writes the same document."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1.synth import race
from tests.broker import Mosquitto
from tests.export.conftest import load
from tests.harness import BridgeThread, Subscriber, send_frames, settings_for, write_capture

pytestmark = pytest.mark.broker


def without_clock(document: dict[str, Any]) -> dict[str, Any]:
    """The document minus the wall-clock start (live: the bridge's clock; offline: the capture's)."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    del copy["session"]["started_at"]
    return copy


def run_export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", "export", *args], capture_output=True, text=True,
                          timeout=120)


def test_live_race_file_and_offline_export_agree(mosquitto: Mosquitto, tmp_path: Path,
                                                 validate: Callable[[Any], None]) -> None:
    synthetic = race(2025, cars=6, laps=3, rate_hz=20, seed=3)
    live_dir = tmp_path / "live"  # created by the service at its first write
    settings = settings_for(mosquitto.port, export={"dir": str(live_dir), "idle_s": 30.0})
    bt = BridgeThread(settings).start()
    subscriber = Subscriber(mosquitto.port, "rigbridge/rig1/#").start()
    try:
        sent = send_frames(bt.udp_port, synthetic.frames(), speed=15.0)
        bt.wait(lambda b: b.ingest.received >= sent, 10, "every datagram")
        service = bt.bridge.services["export"] if bt.bridge else None
        assert service is not None and service.name == "export"
        bt.wait(lambda b: service.written >= 1 and not service.pending, 10, "the session file")
        assert bt.bridge is not None and bt.bridge.ingest.dropped_total == 0
        subscriber.wait_for(lambda ms: any(m.topic == "rigbridge/rig1/session/results" for m in ms), 10,
                            "session/results")
        errors = dict(bt.bridge.faults.errors)
        published = subscriber.snapshot()
    finally:
        subscriber.stop()
        bt.stop()
    assert errors == {}
    files = sorted(live_dir.iterdir())
    assert [p.suffix for p in files] == [".json"], files  # one session, one file, no temporary left
    live = load(files[0])
    validate(live)
    session = live["session"]
    assert (session["game"], session["format"], session["type"], session["ended_by"]) == (
        "f1", 2025, "race", "session_end")
    assert session["classified"] and session["uid"] == str(synthetic.session_uid)
    assert files[0].name.endswith(f"_{session['track']}_race.json")
    # The content: every car, every lap, the classification, a pit stop each, the event log with names.
    assert len(live["cars"]) == 6 and len(live["classification"]["cars"]) == 6
    for car in live["cars"]:
        assert [lap["lap"] for lap in car["laps"]] == [1, 2, 3], car["index"]
        assert len(car["pit_stops"]) == 1 and len(car["stints"]) == 2
        assert car["name"] and car["position"] in range(1, 7)
    overtakes = [e for e in live["events"] if e["code"] == "OVTK"]
    assert overtakes and all(e["drivers"]["overtaking_vehicle_idx"] for e in overtakes)
    assert live["events"][0]["code"] == "SSTA" and live["events"][-1]["code"] == "SEND"

    # The file says what was published: one lap message per car and lap, and the classification.
    lap_messages = {
        (m.topic.split("/")[3], json.loads(m.payload)["lap"], json.loads(m.payload)["time_ms"])
        for m in published if m.topic.startswith("rigbridge/rig1/cars/") and m.topic.endswith("/lap_completed")
    }
    assert lap_messages == {(str(c["index"]), lap["lap"], lap["time_ms"]) for c in live["cars"] for lap in c["laps"]}
    results = [json.loads(m.payload) for m in published if m.topic == "rigbridge/rig1/session/results"]
    assert results[-1] == live["classification"]

    capture = tmp_path / "race.rbcap"
    write_capture(capture, synthetic.frames())
    result = run_export(str(capture), "-o", str(tmp_path / "offline"))
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.splitlines()]
    assert [p.name[18:] for p in written] == [files[0].name[18:]]  # the same name after the start time
    offline = load(written[0])
    validate(offline)
    assert without_clock(offline) == without_clock(live)
