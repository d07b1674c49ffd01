"""`rigbridge decode` on GT7, Codemasters and OutGauge datagrams, through the registry, as a real subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.games.codemasters.synth import SyntheticStage
from bridge.games.gt7 import crypto
from bridge.games.gt7.layouts import PACKET_368
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7
from bridge.games.outgauge.synth import GaugeConfig, SyntheticGauge
from bridge.games.registry import identify

ROOT = Path(__file__).resolve().parents[2]


def decode(*files: Path) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "bridge", "decode", *map(str, files)], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)  # fmt: skip
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_each_new_game_prints_as_its_own(tmp_path: Path) -> None:
    files = {
        "gt7": next(SyntheticGt7(Gt7SynthConfig(heartbeat=b"B")).packets())[1],
        "gt7_368_clear": next(SyntheticGt7(Gt7SynthConfig(variant=PACKET_368)).plain_packets())[1],
        "codemasters": next(SyntheticStage().datagrams())[1],
        "lfs": next(SyntheticGauge(GaugeConfig(with_id=True)).datagrams())[1],
        "beamng": next(SyntheticGauge(GaugeConfig(source="beamng")).datagrams())[1],
    }
    paths = []
    for name, data in files.items():
        paths.append(tmp_path / f"{name}.bin")
        paths[-1].write_bytes(data)
    code, out, err = decode(*paths)
    assert code == 0, err
    assert [(o["game"], o["packet"]) for o in out] == [
        ("gt7", "B"), ("gt7", "368"), ("codemasters", "extradata3"), ("outgauge", "outgauge_id"),
        ("outgauge", "outgauge"),
    ]  # fmt: skip
    assert out[0]["heartbeat"] == "B" and out[1]["heartbeat"] is None
    assert (out[3]["source"], out[4]["source"], out[4]["time_ms"], out[4]["car"]) == ("lfs", "beamng", 0, "beam")


def test_the_real_encrypted_gt7_packet(captures: Path) -> None:
    path = captures / "gt7" / "encrypted-296.bin"
    if not path.is_file():
        pytest.skip(f"no GT7 captures in {captures}")
    code, [out], err = decode(path)
    assert code == 0, err
    assert (out["game"], out["lap"], out["best_lap_ms"], round(out["speed"] * 3.6)) == ("gt7", 4, 139_965, 200)


def test_a_damaged_gt7_packet_is_reported_not_raised(tmp_path: Path) -> None:
    _, plain = next(SyntheticGt7().plain_packets())
    damaged = bytearray(crypto.encrypt(plain, 99, b"~"))
    damaged[0x40] ^= 1  # the IV: no key decrypts it any more
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(damaged))
    code, [out], err = decode(path)
    assert code == 1 and "Traceback" not in err
    assert out["error"] and out["size"] == 344


def test_decode_with_the_game_named(tmp_path: Path) -> None:
    """`--game gt7` decodes by GT7's rules even what no signature claims, with GT7's reason."""
    _, plain = next(SyntheticGt7().plain_packets())
    damaged = bytearray(crypto.encrypt(plain, 99, b"~"))
    damaged[0x40] ^= 1
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(damaged))
    proc = subprocess.run([sys.executable, "-m", "bridge", "decode", "--game", "gt7", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] == "bad_magic"


def synth(*args: str, port: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", "synth", *args, "--to", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    "args, game, size",
    [(["--game", "gt7", "--variant", "296"], "gt7", 296), (["--game", "codemasters"], "codemasters", 264),
     (["--game", "outgauge", "--variant", "beamng"], "outgauge", 92)],
)  # fmt: skip
def test_synth_command_sends_the_game(args: list[str], game: str, size: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    try:
        proc = synth(*args, "--duration", "0.5", "--speed", "4", port=sock.getsockname()[1])
        assert proc.returncode == 0, proc.stderr
        data = sock.recv(2048)
    finally:
        sock.close()
    assert len(data) == size and identify(data).key == game


@pytest.mark.parametrize(
    "args, message",
    [
        (["--game", "gt7", "--format", "2024"], "--format is not an option of --game gt7"),
        (["--game", "codemasters", "--variant", "lfs"], "--variant is not an option of --game codemasters"),
        (["--game", "outgauge", "--variant", "296"], "--variant '296': OutGauge's are lfs, beamng, lfs-id, beamng-id"),
        (["--game", "gt7", "--cars", "5"], "--cars is not an option of --game gt7"),
    ],
)
def test_synth_refuses_another_games_option_in_one_line(args: list[str], message: str) -> None:
    proc = synth(*args, "--duration", "0.2", port=9)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
