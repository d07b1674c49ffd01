"""Random packets of every layout survive build -> encode -> decode -> encode unchanged, value for value."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1.codec import (
    EventPacket,
    Packet,
    RecordView,
    build,
    build_event,
    decode,
    encode,
)
from bridge.games.f1.layouts import EVENT_DETAILS_OFFSET, LAYOUTS, Field, Record

PACKETS_PER_LAYOUT = 12
EVENTS_PER_CODE = 8
INT_RANGES = {
    "B": (0, 0xFF),
    "b": (-0x80, 0x7F),
    "H": (0, 0xFFFF),
    "h": (-0x8000, 0x7FFF),
    "I": (0, 0xFFFF_FFFF),
    "Q": (0, 0xFFFF_FFFF_FFFF_FFFF),
}
# Non-ASCII on purpose: accents, the ellipsis the game uses for cut names, a no-break space, CJK, an emoji.
ALPHABET = "abcXYZ019 -_.ÉéüßÅ…\u00a0漢字😀"
EVENT_CODE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SUSPECT_WRONG_LENGTH = {"2024-03-RDFL.bin", "2024-03-SCAR.bin"}


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def random_float(rng: random.Random, letter: str) -> float:
    """A finite float: raw random bit patterns (denormals, -0.0, huge values) or plain decimals."""
    kind = rng.random()
    if kind < 0.1:
        return rng.choice([0.0, -0.0, 1.0, -1.0, 3.4e38, -3.4e38, 1e-45])
    if kind < 0.55:
        size, fmt = (4, "<f") if letter == "f" else (8, "<d")
        while True:
            value = struct.unpack(fmt, rng.randbytes(size))[0]
            if math.isfinite(value):
                return value
    return rng.uniform(-1e6, 1e6)  # not representable in f32: decoded values are the f32 rounding


def random_text(rng: random.Random, size: int) -> str:
    """A short UTF-8 string that fits `size` bytes with no NUL (NUL ends a string on the wire)."""
    out = ""
    for _ in range(rng.randint(0, size)):
        ch = rng.choice(ALPHABET)
        if len((out + ch).encode("utf-8")) > size:
            break
        out += ch
    return out


def random_scalar(rng: random.Random, f: Field) -> Any:
    if f.type in INT_RANGES:
        lo, hi = INT_RANGES[f.type]
        return rng.choice([lo, hi, rng.randint(lo, hi), rng.randint(lo, hi)])
    if f.type in "fd":
        return random_float(rng, f.type)
    raise AssertionError(f"no generator for struct letter {f.type!r}")


def random_tree(rng: random.Random, record: Record, skip: int = 0) -> dict[str, Any]:
    """Random values for every field of `record` (after the first `skip` fields), by spec or snake name."""
    tree: dict[str, Any] = {}
    for f in record.fields[skip:]:
        name = f.name if rng.random() < 0.5 else f.key
        if f.record is not None and f.count == 1:
            tree[name] = random_tree(rng, f.record)
        elif f.record is not None:
            tree[name] = [random_tree(rng, f.record) for _ in range(f.count)]
        elif f.type == "s":
            tree[name] = random_text(rng, f.count)
        elif f.count > 1:
            tree[name] = [random_scalar(rng, f) for _ in range(f.count)]
        else:
            tree[name] = random_scalar(rng, f)
    return tree


def random_header(rng: random.Random) -> dict[str, Any]:
    return {
        "session_uid": rng.randint(0, 2**64 - 1),
        "session_time": f32(rng.uniform(0, 10_000)),
        "frame": rng.randint(0, 2**32 - 1),
        "overall_frame": rng.randint(0, 2**32 - 1),
        "player_car_index": rng.randint(0, 255),
        "secondary_player_car_index": rng.randint(0, 255),
        "game_year": rng.randint(0, 255),
        "game_version": (rng.randint(0, 255), rng.randint(0, 255)),
    }


def expect_equal(where: str, f: Field, decoded: Any, generated: Any) -> int:
    """Assert one field's decoded value equals what was generated; returns how many scalars were checked."""
    if f.type == "s":
        assert decoded == generated, where
        return 1
    if f.count > 1:
        assert isinstance(decoded, tuple) and len(decoded) == f.count, where
        for i, (d, g) in enumerate(zip(decoded, generated, strict=True)):
            expect_scalar(f"{where}[{i}]", f, d, g)
        return f.count
    expect_scalar(where, f, decoded, generated)
    return 1


def expect_scalar(where: str, f: Field, decoded: Any, generated: Any) -> None:
    if f.type == "f":
        want = f32(generated)
        assert decoded == want and math.copysign(1, decoded) == math.copysign(1, want), (where, decoded, want)
    else:
        assert decoded == generated, (where, decoded, generated)
        assert type(decoded) is type(generated), where


def check_tree(where: str, record: Record, get: Any, tree: dict[str, Any]) -> int:
    checked = 0
    for name, generated in tree.items():
        f = record[name]
        decoded = get(name)
        if f.record is not None and f.count == 1:
            assert isinstance(decoded, RecordView), where
            checked += check_tree(f"{where}.{f.name}", f.record, decoded.__getitem__, generated)
        elif f.record is not None:
            assert isinstance(decoded, list) and len(decoded) == f.count, where
            for i, (view, item) in enumerate(zip(decoded, generated, strict=True)):
                checked += check_tree(f"{where}.{f.name}[{i}]", f.record, view.__getitem__, item)
        else:
            checked += expect_equal(f"{where}.{f.name}", f, decoded, generated)
    return checked


HEADER_FIELDS = len(LAYOUTS.header.fields)


@pytest.mark.parametrize(("fmt", "pid"), sorted(LAYOUTS.packets), ids=lambda v: str(v))
def test_random_packets_round_trip(fmt: int, pid: int) -> None:
    rng = random.Random(f"roundtrip-{fmt}-{pid}")
    layout = LAYOUTS.get(fmt, pid)
    for n in range(PACKETS_PER_LAYOUT):
        header = random_header(rng)
        body = random_tree(rng, layout.record, skip=HEADER_FIELDS)
        if pid == 3:  # the event packet needs a well-formed code to decode
            for name in ("eventStringCode", "event_string_code", "eventDetails", "event_details"):
                body.pop(name, None)
            body["eventStringCode"] = "".join(rng.choices(EVENT_CODE_LETTERS, k=4))
            body["eventDetails"] = list(rng.randbytes(12))
        packet = build(fmt, pid, body, **header)
        data = encode(packet)
        assert len(data) == layout.size

        decoded = decode(data)
        assert decoded, f"{fmt}/{pid} #{n}: {decoded!r}"
        assert type(decoded) is (EventPacket if pid == 3 else Packet)
        assert encode(decoded) == data, f"{fmt}/{pid} #{n}"

        # Header values, through the properties and by name.
        assert (decoded.packet_format, decoded.packet_id) == (fmt, pid)
        assert decoded.session_uid == header["session_uid"] == decoded["sessionUID"]
        assert decoded.session_time == header["session_time"]
        assert (decoded.frame, decoded.overall_frame) == (header["frame"], header["overall_frame"])
        assert decoded.player_car_index == header["player_car_index"]
        assert decoded.secondary_player_car_index == header["secondary_player_car_index"]
        assert decoded["gameYear"] == header["game_year"]
        assert decoded.game_version == "{}.{:02d}".format(*header["game_version"])
        assert decoded["packetVersion"] == 1

        checked = check_tree(f"{fmt}/{pid}#{n}", layout.record, decoded.__getitem__, body)
        assert checked >= len(body)
        # The flat tuple agrees with the built packet except where floats were rounded to f32 on the wire.
        assert len(decoded.values) == len(packet.values) == layout.record.width
        decoded.to_dict()  # builds without error for any values


def test_generators_cover_every_struct_letter() -> None:
    letters: set[str] = set()

    def walk(record: Record) -> None:
        for f in record.fields:
            if f.record is not None:
                walk(f.record)
            else:
                letters.add(f.type)

    for layout in LAYOUTS.packets.values():
        walk(layout.record)
        for event in layout.events.values():
            walk(event.record)
    assert letters <= set(INT_RANGES) | {"f", "d", "s"}
    assert {"B", "b", "H", "h", "I", "Q", "f", "d", "s"} <= letters


def test_float_generator_reaches_rounding_and_special_values() -> None:
    rng = random.Random(7)
    values = [random_float(rng, "f") for _ in range(2000)]
    assert all(math.isfinite(v) for v in values)
    assert any(v != f32(v) for v in values)  # some need rounding to f32
    assert any(v == f32(v) and v != 0 for v in values)
    assert any(math.copysign(1, v) < 0 and v == 0 for v in values)


@pytest.mark.parametrize("fmt", sorted(LAYOUTS.formats))
def test_every_event_code_round_trips(fmt: int) -> None:
    layout = LAYOUTS.get(fmt, 3)
    rng = random.Random(f"events-{fmt}")
    assert len(layout.events) >= 19
    for code, event in sorted(layout.events.items()):
        for n in range(EVENTS_PER_CODE):
            details = random_tree(rng, event.record)
            header = random_header(rng)
            packet = build_event(fmt, code, details, **header)
            data = encode(packet)
            assert len(data) == 45
            assert data[29:33] == code.encode("ascii")
            assert data[EVENT_DETAILS_OFFSET + event.struct.size :] == bytes(45 - 33 - event.struct.size)

            decoded = decode(data)
            assert isinstance(decoded, EventPacket), (fmt, code, decoded)
            assert decoded.code == code and decoded.known and decoded.event is event
            assert encode(decoded) == data
            assert decoded.session_uid == header["session_uid"]
            check_tree(f"{fmt}/{code}#{n}", event.record, decoded.detail, details)
            as_dict = decoded.details()
            assert set(as_dict) == {f.key for f in event.record.fields}
            for f in event.record.fields:
                assert as_dict[f.key] == decoded.detail(f.name)
            assert decoded.to_dict()["event_details"] == as_dict
            assert decoded.to_dict()["event_string_code"] == code


@pytest.mark.parametrize("fmt", sorted(LAYOUTS.formats))
def test_unknown_event_codes_pass_through(fmt: int) -> None:
    packet = build_event(fmt, "OVEN", frame=5)
    decoded = decode(encode(packet))
    assert isinstance(decoded, EventPacket)
    assert decoded.code == "OVEN" and not decoded.known
    assert decoded.details() == {"raw": [0] * 12}
    assert decoded.to_dict()["event_details"] == {"raw": [0] * 12}
    with pytest.raises(ValueError):
        build_event(fmt, "OVEN", {"vehicleIdx": 1})


def test_build_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        build(2024, 4, {"participants": [{"name": "x" * 49}]})
    with pytest.raises(ValueError):
        build(2025, 4, {"participants": [{"name": "é" * 17}]})  # 34 bytes for char[32]
    with pytest.raises(ValueError):
        build(2024, 6, {"carTelemetryData": [{}] * 23})
    with pytest.raises(ValueError):
        build(2024, 6, {"carTelemetryData": [{"tyresPressure": [1.0] * 5}]})
    with pytest.raises(struct.error):
        encode(build(2024, 6, {"carTelemetryData": [{"speed": 70000}]}))
    fits = build(2025, 4, {"participants": [{"name": "é" * 16}]})
    assert decode(encode(fits))["participants"][0]["name"] == "é" * 16


# -- real datagrams rebuilt from their decoded form ---------------------------------------------------------------
# (byte-for-byte encode(decode(d)) == d of these files is covered by test_codec_smoke.py)


def header_kwargs(header: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_uid": header["session_uid"],
        "session_time": header["session_time"],
        "frame": header["frame_identifier"],
        "overall_frame": header["overall_frame_identifier"],
        "player_car_index": header["player_car_index"],
        "secondary_player_car_index": header["secondary_player_car_index"],
        "game_year": header["game_year"],
        "game_version": (header["game_major_version"], header["game_minor_version"]),
    }


@pytest.mark.parametrize("year", ["2023", "2024"])
def test_real_datagrams_rebuild_from_their_dict(parser_captures: Path, year: str) -> None:
    """`to_dict()` loses nothing: `build()` from it gives back the real datagram (events: up to their member)."""
    files = sorted(parser_captures.glob(f"{year}-*.bin"))
    assert len(files) >= 30
    rebuilt = 0
    for path in files:
        if path.name in SUSPECT_WRONG_LENGTH:
            continue
        data = path.read_bytes()
        packet = decode(data)
        assert packet, path.name
        tree = packet.to_dict()
        header = header_kwargs(tree.pop("header"))
        assert tree.pop("packet") == packet.layout.key
        if isinstance(packet, EventPacket):
            again = build_event(packet.packet_format, tree["event_string_code"], tree["event_details"], **header)
            used = EVENT_DETAILS_OFFSET + (packet.event.struct.size if packet.event else 0)
            # Union bytes outside the code's member are leftovers from earlier events (spec section 6).
            assert encode(again)[:used] == data[:used], path.name
        else:
            again = build(packet.packet_format, packet.packet_id, tree, **header)
            assert encode(again) == data, path.name
        assert again.to_dict() == packet.to_dict() or isinstance(packet, EventPacket)
        rebuilt += 1
    assert rebuilt == len(files) - len(SUSPECT_WRONG_LENGTH & {p.name for p in files})
