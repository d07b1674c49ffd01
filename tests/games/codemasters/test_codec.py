"""Codemasters extradata 3: the real DiRT Rally recording, layout round trips, the synthetic stage, garbage."""

from __future__ import annotations

import itertools
import math
import random
import struct
from pathlib import Path

import pytest

from bridge.games.codemasters import codec
from bridge.games.codemasters.layouts import EXTRADATA3, WHEELS
from bridge.games.codemasters.synth import StageConfig, SyntheticStage
from bridge.games.dropped import Dropped


@pytest.fixture(scope="module")
def dirt(captures: Path) -> list[bytes]:
    path = captures / "dirt" / "dirt-rally-ps4-264.bin"
    if not path.is_file():
        pytest.skip(f"no DiRT capture in {captures}")
    raw = path.read_bytes()
    assert len(raw) % 264 == 0
    return [raw[i : i + 264] for i in range(0, len(raw), 264)]


def test_every_real_datagram_decodes_plausibly(dirt: list[bytes]) -> None:
    assert len(dirt) == 2627
    stage = [codec.decode(d) for d in dirt]
    assert all(stage), next(s for s in stage if not s)
    first, last = stage[0], stage[-1]
    assert first["track_length"] == last["track_length"] and 6000 < first["track_length"] < 7000
    # About 71 s from the start to 17 % of the stage, the stage clock never going back.
    assert first["lap_time"] == 0 and 70 < last["lap_time"] < 80
    assert 0.16 < last.progress < 0.18
    assert all(b["lap_time"] >= a["lap_time"] for a, b in itertools.pairwise(stage))
    assert all(b["run_time"] > a["run_time"] for a, b in itertools.pairwise(stage))
    # The engine: the car's maximum and idle are round numbers of rpm once read as rad/s.
    assert {round(s.max_rpm) for s in stage} == {8000} and {round(s.idle_rpm) for s in stage} == {2000}
    assert all(0 <= s.rpm <= s.max_rpm + 1 for s in stage)
    assert {s.gear for s in stage} <= set(range(0, 6)) and {s["max_gears"] for s in stage} == {5.0}
    assert max(s.speed_kmh for s in stage) < 200 and max(s.speed_kmh for s in stage) > 60
    for s in stage:
        assert all(0 <= s[k] <= 1 for k in ("throttle", "brake", "clutch"))
        assert all(15 <= s[f"brake_temp_{w}"] < 800 for w in WHEELS)
        assert s["race_position"] == 1
    assert max(s[f"brake_temp_{w}"] for s in stage for w in WHEELS) > 150  # heats up under braking
    out = stage[1500].to_dict()
    assert out["game"] == "codemasters" and out["packet"] == "extradata3"
    assert list(out)[2:] == list(EXTRADATA3.keys) and out["engine_rate"] == stage[1500]["engine_rate"]
    assert math.isclose(stage[1500].rpm, out["engine_rate"] * 30 / math.pi)
    assert all(codec.encode(s) == d for s, d in zip(stage, dirt))  # byte for byte


def test_round_trip_from_the_layout() -> None:
    rng = random.Random(5)
    for _ in range(100):
        fields = {k: struct.unpack("<f", struct.pack("<f", rng.uniform(-500, 500)))[0] for k in EXTRADATA3.keys}
        for k in ("throttle", "brake", "clutch"):
            fields[k] = rng.choice((0.0, 0.5, 1.0))
        for k in ("gear", "lap", "race_position", "max_gears", "total_laps"):
            fields[k] = float(rng.randint(-1, 10))
        for k in ("engine_rate", "max_engine_rate", "idle_engine_rate"):
            fields[k] = abs(fields[k])
        t = codec.decode(EXTRADATA3.pack(fields))
        assert t and EXTRADATA3.as_dict(t.values) == fields


@pytest.mark.parametrize("raw, expected", [(0.0, 0), (1.0, 1), (5.0, 5), (-1.0, -1), (10.0, -1)])
def test_gear_numbering(raw: float, expected: int) -> None:
    assert codec.decode(EXTRADATA3.pack({"gear": raw})).gear == expected


def test_the_synthetic_stage_is_consistent() -> None:
    stage = [codec.decode(d) for _, d in SyntheticStage(StageConfig(length_m=2000, rate_hz=30)).datagrams()]
    assert all(stage)
    assert stage[-1].progress == 1.0 and stage[-1]["last_lap_time"] > 30
    progress = [s.progress for s in stage]
    assert progress == sorted(progress)
    for s in stage[:-1]:
        assert s.idle_rpm - 1 <= s.rpm <= s.max_rpm and 1 <= s.gear <= s["max_gears"]
    # speed, gear and rpm agree: higher gears only at higher speeds
    by_gear = {}
    for s in stage[:-1]:
        by_gear.setdefault(s.gear, []).append(s.speed_kmh)
    means = [sum(v) / len(v) for _, v in sorted(by_gear.items())]
    assert means == sorted(means) and len(means) >= 3


def test_garbage_is_dropped_by_reason_never_raised() -> None:
    rng = random.Random(9)
    seen = set()
    for size in range(0, 300):
        for _ in range(3):
            data = rng.randbytes(size)
            result = codec.decode(data)
            assert isinstance(result, Dropped) and result.reason in codec.REASONS
            seen.add(result.reason)
    assert seen == set(codec.REASONS)
    pedal = EXTRADATA3.pack({"throttle": 7.0})
    assert codec.decode(pedal).detail == "throttle 7 is outside 0..1"
    half_gear = EXTRADATA3.pack({"gear": 2.5})
    assert codec.decode(half_gear).reason == "implausible"
