"""GT7: real packets (a 368-byte recording and one encrypted 296-byte packet), layout round trips, garbage."""

from __future__ import annotations

import gzip
import math
import random
import struct
from pathlib import Path

import pytest

from bridge.games.dropped import Dropped
from bridge.games.gt7 import codec, crypto
from bridge.games.gt7.layouts import BY_SIZE, IV_OFFSET, MAGIC, VARIANTS, Variant
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7

REPLAY_SIZE = 368


@pytest.fixture(scope="module")
def gt7_captures(captures: Path) -> Path:
    folder = captures / "gt7"
    if not folder.is_dir():
        pytest.skip(f"no GT7 captures in {captures}")
    return folder


@pytest.fixture(scope="module")
def replay(gt7_captures: Path) -> list[bytes]:
    data = gzip.decompress((gt7_captures / "replay-368-decrypted.gz").read_bytes())
    assert len(data) % REPLAY_SIZE == 0
    return [data[i : i + REPLAY_SIZE] for i in range(0, len(data), REPLAY_SIZE)]


def test_every_packet_of_the_real_recording_decodes_plausibly(replay: list[bytes]) -> None:
    assert len(replay) == 6914
    packets = [codec.decode(p) for p in replay]
    assert all(packets), next(p for p in packets if not p)
    assert all(codec.encode(p) == raw for p, raw in zip(packets, replay))  # byte for byte
    assert {p.variant.name for p in packets} == {"368"} and {p.heartbeat for p in packets} == {None}
    ids = [p.packet_id for p in packets]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous, as documented
    assert {p["lap"] for p in packets} == {1, 2}
    assert {p.last_lap_ms for p in packets} == {None, 115_244}  # one completed lap, 1:55.244
    top = max(p.speed_kmh for p in packets)
    assert 310 < top < 325  # "up to 318 km/h"
    for p in packets:
        assert 0 <= p["rpm"] <= p["rpm_limiter"] * 1.05
        assert p["rpm_warning"] < p["rpm_limiter"]
        assert 0 <= p.gear <= 8 and (p.suggested_gear is None or 0 <= p.suggested_gear <= 8)
        assert 0 <= p.throttle <= 1 and 0 <= p.brake <= 1
        assert 0 < p["fuel"] <= p["fuel_capacity"]
        assert all(20 < p[f"tyre_temp_{w}"] < 150 for w in ("fl", "fr", "rl", "rr"))
        assert 60 < p["water_temp"] < 130 and 60 < p["oil_temp"] < 150
        assert p["car_id"] == 3582
        assert not p.flag("paused") and not p.flag("loading")
    # Speed, gear and rpm agree: rpm / (wheel speed x gear ratio) is the final drive, the same all along.
    finals = [
        p["rpm"] / (p.speed_kmh / 3.6 / p["tyre_radius_rl"] * 60 / (2 * math.pi) * p[f"gear_ratio_{p.gear}"])
        for p in packets
        if p.speed_kmh > 60 and 1 <= p.gear <= 8 and p["clutch_engagement"] > 0.99
    ]
    finals.sort()
    assert finals[len(finals) // 4] > 0.9 * finals[len(finals) * 3 // 4]  # wheelspin and lift-offs aside


def test_the_recording_decrypts_after_being_encrypted_again(replay: list[bytes]) -> None:
    for i, plain in enumerate(replay):
        iv = (i * 2_654_435_761) & 0xFFFFFFFF  # a chosen IV per packet
        sent = crypto.encrypt(plain, iv, b"~")
        assert sent[:4] != MAGIC and struct.unpack_from("<I", sent, IV_OFFSET)[0] == iv
        packet = codec.decode(sent)
        assert packet and packet.heartbeat == b"~"
        original = codec.decode(plain)
        differ = [k for k, a, b in zip(original.variant.keys, original.values, packet.values) if a != b]
        assert differ in ([], ["iv"])  # the IV takes the place of that field, as in the console's packets


def test_the_real_encrypted_packet_decodes_to_its_documented_values(gt7_captures: Path) -> None:
    data = (gt7_captures / "encrypted-296.bin").read_bytes()
    assert len(data) == 296 and data[:4] != MAGIC
    assert codec.matches(data)
    p = codec.decode(data)
    assert p, p
    assert p.variant.name == "A" and p.heartbeat == b"A"
    assert p["lap"] == 4
    assert p.best_lap_ms == 139_965  # 2:19.965
    assert 195 < p.speed_kmh < 205
    assert 0 < p["rpm"] < p["rpm_limiter"] and 1 <= p.gear <= 8
    iv = struct.unpack_from("<I", data, IV_OFFSET)[0]
    assert crypto.encrypt(codec.encode(p), iv, b"A") == data  # encrypted back byte for byte
    out = p.to_dict()
    assert out["game"] == "gt7" and out["packet"] == "A" and out["best_lap_ms"] == 139_965
    assert (out["gear"], out["suggested_gear"]) == (p.gear, 2) and "in_gear" in out["flag_names"]
    assert "magic" not in out and "iv" not in out and not any(k.startswith("unknown_") for k in out)


def _random_values(variant: Variant, rng: random.Random) -> dict:
    fields = {}
    for key, letter in zip(variant.keys, variant.letters):
        if letter == "f":
            fields[key] = struct.unpack("<f", struct.pack("<f", rng.uniform(-1e4, 1e4)))[0]
        elif letter.endswith("s"):
            fields[key] = bytes(rng.getrandbits(8) for _ in range(int(letter[:-1])))
        else:
            bits = struct.calcsize(letter) * 8
            lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if letter.islower() else (0, (1 << bits) - 1)
            fields[key] = rng.randint(lo, hi)
    fields["magic"] = MAGIC
    return fields


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_round_trip_from_the_layout(variant: Variant) -> None:
    rng = random.Random(variant.size)
    for _ in range(50):
        fields = _random_values(variant, rng)
        plain = variant.pack(fields)
        p = codec.decode_plain(plain)
        assert p and p.variant is variant
        assert variant.as_dict(p.values) == fields
        for heartbeat in crypto.SEEDS:
            q = codec.decode(crypto.encrypt(plain, rng.getrandbits(32), heartbeat))
            assert q and q.heartbeat == heartbeat
            assert {k: v for k, v in variant.as_dict(q.values).items() if k != "iv"} == {
                k: v for k, v in fields.items() if k != "iv"
            }


def test_layout_offsets_match_the_public_descriptions() -> None:
    variant = BY_SIZE[344]
    offsets = {}
    at = 0
    for key, letter in zip(variant.keys, variant.letters):
        offsets[key] = at
        at += struct.calcsize("<" + letter)
    expected = {"rpm": 0x3C, "iv": 0x40, "speed": 0x4C, "packet_id": 0x70, "best_lap_ms": 0x78, "flags": 0x8E,
                "gears": 0x90, "car_id": 0x124, "steering_rad": 0x128, "throttle_input_raw": 0x13C,
                "energy_recovery": 0x150}  # fmt: skip
    assert {k: offsets[k] for k in expected} == expected


def test_garbage_is_dropped_by_reason_never_raised() -> None:
    rng = random.Random(7)
    seen = set()
    for size in range(0, 400):
        for _ in range(3):
            data = bytes(rng.getrandbits(8) for _ in range(size))
            result = codec.decode(data)
            assert isinstance(result, Dropped) and result.reason in codec.REASONS
            assert not codec.matches(data)
            seen.add(result.reason)
            assert result.to_dict()["game"] == "gt7"
    assert seen == set(codec.REASONS)
    assert codec.decode(b"").reason == "too_short"
    assert codec.decode(bytes(297)).reason == "wrong_size"
    assert codec.decode_plain(bytes(296)).reason == "bad_magic"


def test_a_damaged_packet_is_refused_by_its_magic() -> None:
    _, sent = next(SyntheticGt7(Gt7SynthConfig(heartbeat=b"B")).packets())
    assert codec.decode(sent)
    damaged = bytes([sent[0] ^ 0x01]) + sent[1:]
    assert codec.decode(damaged).reason == "bad_magic"
    moved_iv = bytearray(sent)
    moved_iv[IV_OFFSET] ^= 0x80
    assert codec.decode(bytes(moved_iv)).reason == "bad_magic"
