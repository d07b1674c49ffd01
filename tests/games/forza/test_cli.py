"""`rigbridge decode` and `rigbridge synth --game forza` as a user runs them: real subprocesses, real UDP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1.codec import build as f1_build
from bridge.games.f1.codec import encode as f1_encode
from bridge.games.forza.codec import decode
from bridge.games.forza.layouts import BY_KEY
from bridge.games.forza.synth import race
from bridge.games.registry import identify
from bridge.ingest.capture import CaptureWriter

ROOT = Path(__file__).resolve().parents[3]


def rigbridge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=ROOT, timeout=timeout)


def objects(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def synthetic(variant: str, count: int) -> list[bytes]:
    out = []
    for _, (data,) in race(variant, laps=1, rate_hz=10).frames():
        out.append(data)
        if len(out) == count:
            break
    return out


def test_decode_splits_the_real_raw_recording(captures: Path) -> None:
    path = captures / "forza" / "fm2023-dash-331.bin"
    result = rigbridge("decode", str(path))
    assert result.returncode == 0 and result.stderr == ""
    decoded = objects(result)
    assert len(decoded) == 1793
    assert {(o["game"], o["packet"]) for o in decoded} == {("forza", "motorsport")}
    assert decoded[0]["timestamp_ms"] < decoded[-1]["timestamp_ms"]
    assert objects(rigbridge("decode", "--game", "forza", str(path))) == decoded


@pytest.mark.parametrize("variant", ["sled", "dash", "horizon"])
def test_decode_splits_raw_recordings_of_every_variant(variant: str, tmp_path: Path) -> None:
    datagrams = synthetic(variant, 300)
    path = tmp_path / f"{variant}.bin"
    path.write_bytes(b"".join(datagrams))
    assert path.stat().st_size > 65535  # more than one datagram can be
    decoded = objects(rigbridge("decode", str(path)))
    assert len(decoded) == 300 and {o["packet"] for o in decoded} == {variant}
    assert decoded == [decode(d).to_dict() for d in datagrams]  # type: ignore[union-attr]


def test_decode_reports_bad_chunks_of_a_forced_forza_file_by_reason(tmp_path: Path) -> None:
    datagrams = synthetic("dash", 3)
    datagrams[1] = b"\x07" + datagrams[1][1:]  # a race flag Forza never sends
    path = tmp_path / "damaged.bin"
    path.write_bytes(b"".join(datagrams))
    result = rigbridge("decode", "--game", "forza", str(path))
    assert result.returncode == 1
    decoded = objects(result)
    assert [o.get("packet") for o in decoded] == ["dash", None, "dash"]
    assert decoded[1] == {"game": "forza", "error": "bad_race_flag", "size": 311,
                          "detail": "IsRaceOn is 7, not 0 or 1", "file": str(path)}


def test_decode_refuses_a_large_file_of_no_forza_size_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "odd.bin"
    path.write_bytes(b"\1\0\0\0" * 20_000 + b"\0")
    result = rigbridge("decode", "--game", "forza", str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"rigbridge decode: {path}: 80001 bytes is not a whole number of Forza datagrams "
                             "(232, 311, 324, 331 bytes each)\n")


def test_decode_a_capture_of_both_games_and_a_single_forza_datagram(tmp_path: Path) -> None:
    f1 = f1_encode(f1_build(2025, 6, {"carTelemetryData": [{"speed": 250}]}))
    forza = synthetic("horizon", 1)[0]
    capture = tmp_path / "mixed.rbcap"
    with CaptureWriter(capture) as writer:
        for i, data in enumerate((f1, forza, f1)):
            writer.write(data, t_ns=i * 1_000_000)
    single = tmp_path / "one.bin"
    single.write_bytes(forza)
    result = rigbridge("decode", str(capture), str(single))
    assert result.returncode == 0, result.stderr
    decoded = objects(result)
    assert [o.get("packet") for o in decoded] == ["car_telemetry", "horizon", "car_telemetry", "horizon"]
    assert decoded[0]["header"]["packet_format"] == 2025 and "game" not in decoded[0]  # F1's shape unchanged
    # Forced to the other game, each datagram is refused by that game's reason.
    forced = objects(rigbridge("decode", "--game", "forza", str(capture)))
    assert [o.get("error") for o in forced] == ["wrong_size", None, "wrong_size"]
    forced = objects(rigbridge("decode", "--game", "f1", str(single)))
    assert forced[0]["error"] == "unknown_format"


def test_decode_help_says_how_raw_forza_files_are_read() -> None:
    result = rigbridge("decode", "--help")
    assert result.returncode == 0
    for text in ("--game", "232", "331", "back to back", "°F"):
        assert text in result.stdout


def receive(sock: socket.socket, seconds: float) -> list[bytes]:
    got = []
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(2048))
        except TimeoutError:
            if got:
                break
    return got


@pytest.mark.parametrize("variant", ["sled", "dash", "horizon", "motorsport"])
def test_synth_sends_forza_over_udp(variant: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "synth", "--game", "forza", "--variant", variant,
             "--to", f"127.0.0.1:{port}", "--duration", "1", "--speed", "5", "--rate", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        got = receive(sock, 20)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"Forza {variant}, 12 cars, 60 Hz" in err and "sent" in err
    assert len(got) > 100
    for data in got:
        assert len(data) == BY_KEY[variant].size
        game = identify(data)
        assert game is not None and game.key == "forza"
        assert game.decode(data).variant.key == variant
    decoded = [decode(d) for d in got]
    stamps = [p["TimestampMS"] for p in decoded]
    assert stamps == sorted(stamps)
    assert max(p["CurrentEngineRpm"] for p in decoded) > min(p["CurrentEngineRpm"] for p in decoded)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--game", "forza", "--format", "2024"], "--format is not an option of --game forza"),
        (["--variant", "dash"], "--variant is not an option of --game f1"),
        (["--game", "forza", "--variant", "gt7"], "--variant 'gt7': Forza's are sled, dash, horizon, motorsport"),
        (["--game", "forza", "--to", "nowhere"], 'expected "host:port"'),
    ],
)
def test_synth_bad_arguments_in_one_line(args: list[str], message: str) -> None:
    result = rigbridge("synth", *args, "--duration", "1")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_synth_forza_default_port_is_5300() -> None:
    # Nothing needs to listen (a game does not wait either): the first line names the destination.
    result = rigbridge("synth", "--game", "forza", "--duration", "0.05")
    assert result.returncode == 0, result.stderr
    assert "-> 127.0.0.1:5300" in result.stderr
