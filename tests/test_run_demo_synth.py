"""The commands as a user runs them: `rigbridge run` fed by `rigbridge synth`, and the zero-set-up demo."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import Mosquitto, free_port
from tests.harness import RigbridgeProcess, retained_snapshot


def test_run_fed_by_synth_publishes_and_stops_cleanly(mosquitto: Mosquitto, tmp_path: Path) -> None:
    udp = free_port()
    config = tmp_path / "rigbridge.yaml"
    config.write_text(
        f"udp: {{bind: 127.0.0.1, port: {udp}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, rig: simrig}}\n"
        "metrics: {enabled: false}\n"
    )
    with RigbridgeProcess(config) as bridge:
        deadline = time.monotonic() + 15
        while "listening for F1 telemetry" not in bridge.output():
            assert time.monotonic() < deadline and bridge.poll() is None, bridge.output()
            time.sleep(0.1)
        synth = subprocess.run(
            [sys.executable, "-m", "bridge", "synth", "--to", f"127.0.0.1:{udp}", "--rate", "20", "--cars", "12",
             "--format", "2024", "--duration", "6", "--speed", "2"],
            capture_output=True, text=True, timeout=60,
        )
        assert synth.returncode == 0, synth.stderr
        assert "sent" in synth.stderr
        time.sleep(1.0)
        retained = retained_snapshot(mosquitto.port, "rigbridge/simrig/#")
        bridge.signal(signal.SIGTERM)
        assert bridge.wait(15) == 0, bridge.output()
        final = retained_snapshot(mosquitto.port, "rigbridge/simrig/status", settle=0.3)
    root = "rigbridge/simrig"
    assert retained[f"{root}/status"].payload == "online"
    assert retained[f"{root}/game/format"].payload == "2024"
    assert retained[f"{root}/session/active_cars"].payload == "12"
    cars = {t.split("/")[3] for t in retained if t.startswith(f"{root}/cars/")}
    assert cars == {str(i) for i in range(12)}
    assert retained[f"{root}/player/name"].payload
    assert final[f"{root}/status"].payload == "offline"


def test_synth_rejects_bad_arguments() -> None:
    result = subprocess.run([sys.executable, "-m", "bridge", "synth", "--to", "nowhere", "--duration", "1"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and 'expected "host:port"' in result.stderr


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "demo.yaml"
    config.write_text(f"mqtt: {{host: 127.0.0.1, port: {free_port()}}}\n")  # nothing answers there
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "bridge", "demo", "-c", str(config), "--duration", "5", *args],
                            capture_output=True, text=True, timeout=60)
    result.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return result


@pytest.mark.parametrize("broker,describes", [("auto", "mosquitto"), ("embedded", "embedded broker")])
def test_demo_runs_without_a_running_broker(tmp_path: Path, broker: str, describes: str) -> None:
    if broker == "auto":
        from bridge.demo import _find_mosquitto

        if _find_mosquitto() is None:
            pytest.skip("mosquitto is not installed (.ci/run installs it)")
    result = _demo(tmp_path, "--broker", broker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert describes in result.stdout
    assert 5 <= result.elapsed < 30  # type: ignore[attr-defined]
    summary = result.stdout.strip().splitlines()[-1]
    published = int(summary.split(" messages published")[0].rsplit(" ", 1)[1])
    assert published > 100, summary


def test_demo_names_the_games_it_can_show(tmp_path: Path) -> None:
    result = _demo(tmp_path, "--game", "gt8")
    assert result.returncode == 2 and result.stderr.startswith("rigbridge demo: --game must be one of: f1")
    assert len(result.stderr.strip().splitlines()) == 1
