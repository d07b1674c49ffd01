"""Forza decoding: the real Forza Motorsport (2023) capture, round trips of every variant from the layouts, and
garbage rejected by reason, never by an exception."""

from __future__ import annotations

import itertools
import json
import math
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.decode_cli import to_json
from bridge.games.dropped import Dropped
from bridge.games.forza.codec import BAD_RACE_FLAG, WRONG_SIZE, Telemetry, build, decode, encode
from bridge.games.forza.enums import NEUTRAL_GEAR, car_class, drivetrain, gear_name
from bridge.games.forza.layouts import BY_KEY, SIZES, VARIANTS, Variant

CAPTURE_SIZE = 331
CAPTURE_DATAGRAMS = 1793


@pytest.fixture(scope="module")
def capture(captures: Path) -> list[Telemetry]:
    raw = (captures / "forza" / "fm2023-dash-331.bin").read_bytes()
    assert len(raw) == CAPTURE_SIZE * CAPTURE_DATAGRAMS
    decoded = [decode(raw[i : i + CAPTURE_SIZE]) for i in range(0, len(raw), CAPTURE_SIZE)]
    assert all(isinstance(t, Telemetry) for t in decoded), [t for t in decoded if not t][:3]
    return decoded  # type: ignore[return-value]


def test_every_real_datagram_decodes_as_motorsport_2023(capture: list[Telemetry]) -> None:
    assert len(capture) == CAPTURE_DATAGRAMS
    assert {t.variant.key for t in capture} == {"motorsport"}
    assert all(t.racing for t in capture)


def test_real_values_are_plausible(capture: list[Telemetry]) -> None:
    kmh = [t["Speed"] * 3.6 for t in capture]
    # The capture's README says 119-216 km/h: 119 is its first datagram; it brakes to 102 km/h further on.
    assert kmh[0] == pytest.approx(119.5, abs=0.1)
    assert min(kmh) >= 102 and 216 <= max(kmh) <= 217
    assert all(abs(b - a) < 2.5 for a, b in itertools.pairwise(kmh))  # no jump between frames
    assert {round(t["EngineMaxRpm"]) for t in capture} == {10_000}
    assert {round(t["EngineIdleRpm"]) for t in capture} == {800}
    assert all(t["EngineIdleRpm"] < t["CurrentEngineRpm"] <= t["EngineMaxRpm"] for t in capture)
    assert 8000 < max(t["CurrentEngineRpm"] for t in capture) < 8100
    steps = {b["TimestampMS"] - a["TimestampMS"] for a, b in itertools.pairwise(capture)}
    assert steps == {15, 16, 31, 32}  # one frame, or one frame dropped
    assert {t["LapNumber"] for t in capture} == {0} and {t["BestLap"] for t in capture} == {0.0}
    assert {t["Gear"] for t in capture} == {3, 4, 5, NEUTRAL_GEAR}  # neutral while changing gear
    assert all(0.98 < t["Fuel"] <= 1.0 for t in capture)  # a fraction, not litres
    fahrenheit = [t[f"TireTemp{w}"] for t in capture for w in ("FrontLeft", "RearRight")]
    assert min(fahrenheit) > 160 and max(fahrenheit) < 200  # 71-93 °C: warm racing tyres, in °F
    assert all(0 <= t["TireWearFrontLeft"] < 0.01 for t in capture)
    assert {(t["CarOrdinal"], t["TrackOrdinal"], t["NumCylinders"]) for t in capture} == {(445, 1640, 6)}
    assert car_class("motorsport", capture[0]["CarClass"]) == "A" and drivetrain(capture[0]["DrivetrainType"]) == "AWD"
    # Race time and the current lap move on with the timestamp.
    first, last = capture[0], capture[-1]
    elapsed = (last["TimestampMS"] - first["TimestampMS"]) / 1000
    assert last["CurrentRaceTime"] - first["CurrentRaceTime"] == pytest.approx(elapsed, abs=0.05)
    assert last["DistanceTraveled"] > first["DistanceTraveled"]


def test_real_datagrams_encode_back_byte_for_byte(captures: Path) -> None:
    raw = (captures / "forza" / "fm2023-dash-331.bin").read_bytes()
    for i in range(0, len(raw), CAPTURE_SIZE):
        chunk = raw[i : i + CAPTURE_SIZE]
        assert encode(decode(chunk)) == chunk  # type: ignore[arg-type]


def test_decode_json_shape(capture: list[Telemetry]) -> None:
    obj = json.loads(to_json(capture[0].to_dict()))
    assert list(obj)[:4] == ["game", "packet", "is_race_on", "timestamp_ms"]
    assert obj["game"] == "forza" and obj["packet"] == "motorsport"
    assert list(obj)[-5:] == [
        "tire_wear_front_left", "tire_wear_front_right", "tire_wear_rear_left", "tire_wear_rear_right",
        "track_ordinal",
    ]
    assert len(obj) == 2 + len(BY_KEY["motorsport"].fields)


# ---------------------------------------------------------------------------------------------------------
# Round trips from the layouts

_INTS = {"i": (-(2**31), 2**31 - 1), "I": (0, 2**32 - 1), "H": (0, 2**16 - 1), "B": (0, 255), "b": (-128, 127)}


def _value(letter: str) -> st.SearchStrategy:
    if letter == "f":
        return st.floats(width=32, allow_nan=False)
    low, high = _INTS[letter]
    return st.integers(low, high)


def _values(variant: Variant) -> st.SearchStrategy:
    rest = [_value(f.type) for f in variant.fields[1:]]
    return st.tuples(st.sampled_from((0, 1)), *rest)


def _offset(variant: Variant, name: str) -> int:
    return struct.calcsize("<" + "".join(f.type for f in variant.fields[: variant.index(name)]))


# Byte offsets in Turn 10's documentation (Dash) and the Horizon shift of 12 bytes after the Sled block.
DOCUMENTED_OFFSETS = {"CarOrdinal": 212, "NumCylinders": 228, "PositionX": 232, "Speed": 244, "TireTempFrontLeft": 256,
                      "Fuel": 276, "CurrentRaceTime": 296, "LapNumber": 300, "RacePosition": 302, "Gear": 307,
                      "NormalizedAIBrakeDifference": 310}


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.key)
def test_layout_sizes_and_documented_offsets(variant: Variant) -> None:
    assert variant.size == {"sled": 232, "dash": 311, "horizon": 324, "motorsport": 331}[variant.key]
    for name, offset in DOCUMENTED_OFFSETS.items():
        if variant.key == "sled" and offset >= 232:
            assert name not in variant.by_name
            continue
        shift = 12 if variant.key == "horizon" and offset >= 232 else 0
        assert _offset(variant, name) == offset + shift, name
    if variant.key == "motorsport":
        assert _offset(variant, "TireWearFrontLeft") == 311 and _offset(variant, "TrackOrdinal") == 327


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.key)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_values_round_trip(variant: Variant, data: st.DataObject) -> None:
    values = data.draw(_values(variant))
    datagram = variant.struct.pack(*values)
    decoded = decode(datagram)
    assert isinstance(decoded, Telemetry) and decoded.variant is variant
    assert encode(decoded) == datagram
    for f, sent, got in zip(variant.fields, values, decoded.values):
        assert got == (struct.unpack("<f", struct.pack("<f", sent))[0] if f.type == "f" else sent), f.name


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.key)
def test_build_by_either_name(variant: Variant) -> None:
    t = build(variant.key, {"IsRaceOn": 1, "current_engine_rpm": 6500.0, "NumCylinders": 8})
    decoded = decode(encode(t))
    assert decoded and decoded["CurrentEngineRpm"] == 6500.0 and decoded["num_cylinders"] == 8
    assert decoded.get("Speed", "absent") == ("absent" if variant.key == "sled" else 0.0)


# ---------------------------------------------------------------------------------------------------------
# Garbage


def test_every_other_size_is_wrong_size() -> None:
    rng = random.Random(13)
    for size in range(0, 1500):
        if size in SIZES:
            continue
        result = decode(rng.randbytes(size))
        assert isinstance(result, Dropped) and result.reason == WRONG_SIZE and result.size == size


@pytest.mark.parametrize("size", SIZES)
def test_garbage_of_a_forza_size_is_rejected_by_its_race_flag(size: int) -> None:
    rng = random.Random(size)
    for _ in range(500):
        data = rng.randbytes(size)
        flag = int.from_bytes(data[:4], "little", signed=True)
        result = decode(data)
        if flag in (0, 1):
            assert result
        else:
            assert isinstance(result, Dropped) and result.reason == BAD_RACE_FLAG
            assert str(flag) in result.to_dict()["detail"]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.key)
def test_non_finite_floats_decode_and_print_as_null(variant: Variant) -> None:
    nan = struct.pack("<I", 0x7FC00001)  # a NaN with a payload
    inf = struct.pack("<f", math.inf)
    floats = [f for f in variant.fields if f.type == "f"]
    data = bytearray(variant.struct.pack(*build(variant).values))
    for n, f in enumerate(floats):
        offset = _offset(variant, f.name)
        data[offset : offset + 4] = nan if n % 2 else inf
    result = decode(bytes(data))
    assert result
    obj = json.loads(to_json(result.to_dict()))
    assert all(obj[f.key] is None for f in floats)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=400))
def test_any_bytes_give_a_result_never_an_exception(data: bytes) -> None:
    result = decode(data)
    if result:
        json.loads(to_json(result.to_dict()))
    else:
        assert result.reason in (WRONG_SIZE, BAD_RACE_FLAG)


def test_gear_names_as_f1_names_them() -> None:
    assert [gear_name(g) for g in (0, 1, 6, NEUTRAL_GEAR)] == ["R", "1", "6", "N"]
    assert car_class("horizon", 4) == "S1" and car_class("motorsport", 4) == "S" and car_class("dash", 99) == "99"
