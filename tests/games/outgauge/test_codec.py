"""OutGauge: both sizes, Live for Speed and BeamNG.drive flavours, the dashboard lights by name, garbage."""

from __future__ import annotations

import random
import struct

import pytest

from bridge.games.dropped import Dropped
from bridge.games.outgauge import codec
from bridge.games.outgauge.layouts import LIGHTS, PLAIN, WITH_ID
from bridge.games.outgauge.synth import GaugeConfig, SyntheticGauge

# A datagram written by hand from Live for Speed's InSim documentation, field by field.
LFS_HAND_MADE = struct.pack(
    "<I4sHBBfffffffIIfff16s16s",
    123_456,  # time
    b"FBM\0",  # car
    1 << 14,  # OG_KM
    4,  # gear: third
    3,  # plid
    30.0,  # speed m/s
    6500.0,  # rpm
    0.2,  # turbo
    88.0,  # engine temp
    0.5,  # fuel
    3.5,  # oil pressure
    97.0,  # oil temp
    (1 << 0) | (1 << 2) | (1 << 4) | (1 << 10),  # the car has: shift, handbrake, TC, ABS
    (1 << 0) | (1 << 10),  # on now: shift and ABS
    0.75,
    0.25,
    0.0,
    b"Fuel 50%",
    b"BB 62%",
)


def test_a_live_for_speed_datagram_decodes_by_name() -> None:
    g = codec.decode(LFS_HAND_MADE)
    assert g and g.source == "lfs" and g.car == "FBM" and g.time_ms == 123_456
    assert g.gear == 3 and g.speed_kmh == pytest.approx(108.0) and g["rpm"] == 6500.0
    assert g.lights == {"shift": True, "handbrake": False, "tc": False, "abs": True}  # only what the car has
    assert g.light("shift") and g.light("abs") and not g.light("pit_limiter")
    assert g.flag_names == ["prefers_km"]
    out = g.to_dict()
    assert out["game"] == "outgauge" and out["packet"] == "outgauge" and out["display1"] == "Fuel 50%"
    with_id = codec.decode(LFS_HAND_MADE + struct.pack("<i", 42))
    assert with_id and with_id["id"] == 42 and with_id.to_dict()["packet"] == "outgauge_id"
    assert codec.encode(g) == LFS_HAND_MADE and codec.encode(with_id) == LFS_HAND_MADE + struct.pack("<i", 42)


def test_beamng_zero_time_and_car_name() -> None:
    stream = [codec.decode(d) for _, d in SyntheticGauge(GaugeConfig(source="beamng")).datagrams()]
    assert all(stream)
    assert {g.source for g in stream} == {"beamng"} and {g.car for g in stream} == {"beam"}
    assert {g.time_ms for g in stream} == {None}  # BeamNG sends 0: no clock, not a clock at 0
    assert stream[0].to_dict()["time_ms"] == 0  # as sent; the state reads `time_ms` (None)


@pytest.mark.parametrize("gear_raw, gear", [(0, -1), (1, 0), (2, 1), (7, 6)])
def test_gear_numbering(gear_raw: int, gear: int) -> None:
    data = bytearray(LFS_HAND_MADE)
    data[10] = gear_raw
    assert codec.decode(bytes(data)).gear == gear


def test_the_synthetic_lap_lights_the_dashboard_plausibly() -> None:
    stream = [codec.decode(d) for _, d in SyntheticGauge(GaugeConfig(laps=1)).datagrams()]
    assert all(stream)
    times = [g.time_ms for g in stream]
    assert times == sorted(times)
    assert stream[0].light("handbrake") and stream[0].gear == 0 and stream[0].speed_kmh == 0
    on = {name: sum(g.light(name) for g in stream) for name in LIGHTS}
    assert on["shift"] and on["abs"] and on["tc"]
    for g in stream:
        if g.light("shift"):
            assert g["rpm"] > 6000
        if g.light("abs"):
            assert g["brake"] > 0.5
    moving = [g for g in stream if g.speed_kmh > 5]
    by_gear = {}
    for g in moving:
        by_gear.setdefault(g.gear, []).append(g.speed_kmh)
    means = [sum(v) / len(v) for _, v in sorted(by_gear.items())]
    assert means == sorted(means) and len(means) >= 3


@pytest.mark.parametrize("layout", [PLAIN, WITH_ID], ids=lambda layout: layout.name)
def test_round_trip_from_the_layout(layout) -> None:
    rng = random.Random(layout.size)
    for _ in range(100):
        fields = {k: struct.unpack("<f", struct.pack("<f", rng.uniform(-300, 9000)))[0]
                  for k, letter in zip(layout.keys, layout.letters) if letter == "f"}  # fmt: skip
        for k in ("throttle", "brake", "clutch", "fuel"):
            fields[k] = rng.choice((0.0, 0.25, 1.0))
        fields.update(time_ms=rng.getrandbits(32), car=rng.randbytes(3) + b"\0", flags=rng.getrandbits(16),
                      gear_raw=rng.randint(0, 11), plid=rng.getrandbits(8), dash_lights=rng.getrandbits(32),
                      show_lights=rng.getrandbits(32), display1=b"abc".ljust(16, b"\0"),
                      display2=bytes(16))  # fmt: skip
        if "id" in layout.index:
            fields["id"] = rng.randint(-(2**31), 2**31 - 1)
        g = codec.decode(layout.pack(fields))
        assert g and layout.as_dict(g.values) == fields


def test_garbage_is_dropped_by_reason_never_raised() -> None:
    rng = random.Random(13)
    seen = set()
    for size in range(0, 200):
        for _ in range(5):
            result = codec.decode(rng.randbytes(size))
            assert isinstance(result, Dropped) and result.reason in codec.REASONS
            seen.add(result.reason)
    assert seen == set(codec.REASONS)
    no_nul = bytearray(LFS_HAND_MADE)
    no_nul[60:76] = b"x" * 16
    assert codec.decode(bytes(no_nul)).detail == "display1 is not NUL-terminated text"
