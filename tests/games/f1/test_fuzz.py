"""Hostile input: `decode()` never raises, reports every rejection by reason, and decodes what is well formed.

More than 100,000 datagrams, derived from the real captures and from built packets of every (format, id):
truncated, extended, bit-flipped (header and body), pure random bytes, random bodies behind a valid header, and
invalid UTF-8 in every name field. A seeded RNG keeps every run identical.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from bridge.decode_cli import to_json
from bridge.games.f1.codec import (
    BAD_EVENT,
    REASONS,
    TOO_SHORT,
    WRONG_SIZE,
    DecodeError,
    EventPacket,
    Packet,
    build,
    build_event,
    decode,
    encode,
    text,
)
from bridge.games.f1.layouts import COUNTED_ARRAYS, EVENT_PACKET_ID, HEADER_SIZE, LAYOUTS
from tools.captures import captures_root

DATAGRAMS = 100_000
TIME_BUDGET_S = 20.0
SUSPECT_WRONG_LENGTH = {"2024-03-RDFL.bin", "2024-03-SCAR.bin"}
CODE_BYTES = range(29, 33)  # the event's 4-letter code

HOSTILE_NAMES = [
    b"\xff\xfe\xfd",  # never valid UTF-8
    b"\xc3",  # a 2-byte sequence cut after its first byte
    b"MAX \xe2\x80",  # the ellipsis the game appends, cut short
    b"\xed\xa0\x80\xed\xbf\xbf",  # UTF-16 surrogates encoded as UTF-8
    b"\xc0\xaf\xe0\x80\xaf",  # overlong encodings
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"ok\x00\xff\xfe garbage after the terminator",
    b"\x00" * 8,
    "Pérez…\u00a0漢字😀".encode(),
]


def real_datagrams(root: Path) -> tuple[list[bytes], list[bytes]]:
    """(valid datagrams, datagrams the decoder must reject) from the full-datagram captures."""
    valid, invalid = [], []
    for path in sorted(root.glob("*.bin")):
        data = path.read_bytes()
        if path.name.startswith("2022") or path.name in SUSPECT_WRONG_LENGTH:
            invalid.append(data)
        else:
            valid.append(data)
    return valid, invalid


def png_datagrams(root: Path) -> list[bytes]:
    out = []
    for path in sorted(root.glob("*.payload.bin")):
        fmt = 2000 + int(path.name[2:4])
        pid = int(path.name[8:10])
        head = encode(build(fmt, pid)) if pid != EVENT_PACKET_ID else encode(build_event(fmt, "SSTA"))
        out.append(head[:HEADER_SIZE] + path.read_bytes())
    return out


def built_datagrams(rng: random.Random) -> list[bytes]:
    """Every (format, id): a zeroed packet and two random bodies; every event code of every format."""
    out = []
    for (fmt, pid), layout in sorted(LAYOUTS.packets.items()):
        if pid == EVENT_PACKET_ID:
            for code in sorted(layout.events):
                out.append(encode(build_event(fmt, code, frame=rng.randint(0, 1000))))
                raw = bytearray(encode(build_event(fmt, code)))
                raw[33:] = rng.randbytes(12)  # leftover bytes in the union, as the game sends them
                out.append(bytes(raw))
            continue
        zero = encode(build(fmt, pid, frame=1, player_car_index=19))
        out.append(zero)
        for _ in range(2):
            out.append(zero[:HEADER_SIZE] + rng.randbytes(layout.size - HEADER_SIZE))
    return out


def name_datagrams(rng: random.Random) -> list[tuple[bytes, str, list[bytes]]]:
    """Participants and LobbyInfo of every format with hostile bytes in every name: (datagram, array, names)."""
    out = []
    for (fmt, pid), layout in sorted(LAYOUTS.packets.items()):
        if pid not in (4, 9):
            continue
        array = "participants" if pid == 4 else "lobbyPlayers"
        arr = layout.record[array]
        assert arr.record is not None
        size = arr.record["name"].count
        for round_ in range(6):
            names = []
            for slot in range(arr.count):
                kind = (slot + round_) % (len(HOSTILE_NAMES) + 3)
                if kind < len(HOSTILE_NAMES):
                    names.append(HOSTILE_NAMES[kind][:size])
                elif kind == len(HOSTILE_NAMES):
                    names.append(bytes([rng.randint(1, 255) for _ in range(size)]))  # no terminator at all
                elif kind == len(HOSTILE_NAMES) + 1:
                    names.append(("…" * size).encode()[:size])  # cut in the middle of a character
                else:
                    names.append(rng.randbytes(rng.randint(0, size)))
            packet = build(fmt, pid, {array: [{"name": n} for n in names]})
            out.append((encode(packet), array, names))
    return out


def check_result(data: bytes, result: Packet | DecodeError) -> dict:
    """What must hold for any input: a Packet or a DecodeError with a known reason; to_dict() works."""
    if isinstance(result, Packet):
        assert result
        assert len(data) == result.layout.size
        d = result.to_dict()
        assert d["packet"] == result.layout.key and d["header"]["packet_format"] == result.packet_format
    else:
        assert isinstance(result, DecodeError), type(result)
        assert not result
        assert result.reason in REASONS, result.reason
        d = result.to_dict()
        assert d["error"] == result.reason and d["size"] == len(data)
    return d


def flip_bits(rng: random.Random, data: bytes, lo: int, hi: int, flips: int) -> tuple[bytes, set[int]]:
    out = bytearray(data)
    where = set()
    for _ in range(flips):
        i = rng.randrange(lo, hi)
        out[i] ^= 1 << rng.randrange(8)
        where.add(i)
    return bytes(out), where


def test_fuzz_decode() -> None:
    """Runs on built packets alone when the real captures are absent, and on both when they are present."""
    rng = random.Random(20240229)
    valid = built_datagrams(rng)
    invalid_real: list[bytes] = []
    root = captures_root()
    if root is not None:
        valid_real, invalid_real = real_datagrams(root / "f1-game-packet-parser")
        assert len(valid_real) > 60 and len(invalid_real) > 20
        valid += valid_real + png_datagrams(root / "pits-n-giggles")
        assert len(valid) > 400
    for data in valid:
        assert decode(data), data[:8]
    names = name_datagrams(rng)
    kinds: dict[str, int] = {}
    last_dict: list[dict] = [{}]
    outcomes: dict[str, int] = {}

    def run(kind: str, data: bytes) -> Packet | DecodeError:
        result = decode(data)
        last_dict[0] = check_result(data, result)
        kinds[kind] = kinds.get(kind, 0) + 1
        key = "ok" if result else result.reason  # type: ignore[union-attr]
        outcomes[key] = outcomes.get(key, 0) + 1
        return result

    sizes = sorted({layout.size for layout in LAYOUTS.packets.values()})
    formats = sorted(LAYOUTS.formats)
    layouts = sorted(LAYOUTS.packets.items())
    started = time.process_time()
    n = 0
    for data in invalid_real:  # F1 22 datagrams and wrong-length events stay rejected, whatever their body
        for _ in range(50):
            n += 1
            mutated, _ = flip_bits(rng, data, HEADER_SIZE, len(data), rng.randint(0, 8))
            result = run("rejected real", mutated)
            assert not result and result.reason in ("unknown_format", WRONG_SIZE)  # type: ignore[union-attr]
    while n < DATAGRAMS:
        n += 1
        roll = rng.random()
        base = rng.choice(valid)
        fmt, pid = base[0] | base[1] << 8, base[6]
        if roll < 0.25:  # truncated
            cut = rng.randrange(0, len(base))
            result = run("truncated", base[:cut])
            want = TOO_SHORT if cut < HEADER_SIZE else WRONG_SIZE
            assert not result and result.reason == want  # type: ignore[union-attr]
        elif roll < 0.40:  # extended
            result = run("extended", base + rng.randbytes(rng.randint(1, 600)))
            assert not result and result.reason == WRONG_SIZE  # type: ignore[union-attr]
        elif roll < 0.55:  # bit flips in the body of a valid-size datagram
            data, where = flip_bits(rng, base, HEADER_SIZE, len(base), rng.randint(1, 12))
            result = run("body flips", data)
            if pid == EVENT_PACKET_ID and where & set(CODE_BYTES):
                assert result or result.reason == BAD_EVENT  # type: ignore[union-attr]
            else:
                assert result, (fmt, pid, result)
                assert (result.packet_format, result.packet_id) == (fmt, pid)
                if pid == EVENT_PACKET_ID:
                    assert isinstance(result, EventPacket) and result.code == base[29:33].decode()
        elif roll < 0.61:  # bit flips in the header
            data, where = flip_bits(rng, base, 0, HEADER_SIZE, rng.randint(1, 3))
            result = run("header flips", data)
            if not where & {0, 1, 6}:  # format and id untouched: still the same, valid packet
                assert result and (result.packet_format, result.packet_id) == (fmt, pid)
        elif roll < 0.80:  # pure random bytes
            run("random", rng.randbytes(rng.choice([rng.randint(0, 64), rng.randint(0, 2048)])))
        elif roll < 0.90:  # random bytes of a plausible size, with a supported format
            size = rng.choice(sizes) + rng.randint(-2, 2)
            data = bytearray(rng.randbytes(size))
            data[0:2] = rng.choice(formats).to_bytes(2, "little")
            run("random with format", bytes(data))
        elif roll < 0.97:  # any body behind a valid header decodes
            (fmt, pid), layout = rng.choice(layouts)
            data = bytearray(rng.randbytes(layout.size))
            data[0:2] = fmt.to_bytes(2, "little")
            data[6] = pid
            result = run("random body", bytes(data))
            if pid == EVENT_PACKET_ID and not all(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" for c in data[29:33]):
                assert not result and result.reason == BAD_EVENT  # type: ignore[union-attr]
            else:
                assert result and (result.packet_format, result.packet_id) == (fmt, pid)
        else:  # invalid UTF-8 in names, plus flips elsewhere
            data, array, raw_names = rng.choice(names)
            if rng.random() < 0.5:
                data, _ = flip_bits(rng, data, HEADER_SIZE, len(data), rng.randint(1, 6))
                raw_names = []
            result = run("hostile names", data)
            assert result
            for i, view in enumerate(result[array]):  # type: ignore[index]
                name = view["name"]
                assert isinstance(name, str) and "\0" not in name
                if raw_names:
                    assert name == raw_names[i].split(b"\0", 1)[0].decode("utf-8", "replace")
            to_json(last_dict[0])

    elapsed = time.process_time() - started  # CPU time: other jobs on the machine do not count
    assert n >= 100_000
    assert sum(kinds.values()) == n
    assert min(kinds.values()) > 1000, kinds
    assert set(outcomes) == {"ok", *REASONS}, outcomes
    assert outcomes["ok"] > n // 5, outcomes
    assert elapsed < TIME_BUDGET_S, f"{n} datagrams took {elapsed:.1f} s"


def test_every_name_field_survives_invalid_utf8() -> None:
    rng = random.Random(5)
    checked = 0
    for data, array, raw_names in name_datagrams(rng):
        packet = decode(data)
        assert packet, packet
        views = packet[array]
        assert len(views) == len(raw_names)
        for view, raw in zip(views, raw_names, strict=True):
            name = view["name"]
            expected = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
            assert name == expected == text(raw)
            if b"\xff" in raw.split(b"\0", 1)[0]:
                assert "\ufffd" in name
            checked += 1
        line = to_json(packet.to_dict())
        assert "\\u0000" not in line
    assert checked > 500


def test_text_helper() -> None:
    assert text(b"VERSTAPPEN\0\0\0") == "VERSTAPPEN"
    assert text(b"ok\0\xff") == "ok"
    assert text(b"\xffx") == "\ufffdx"
    assert text(b"") == ""
    assert text(b"P\xc3\xa9rez") == "Pérez"


def test_decoder_rejects_by_reason() -> None:
    good = encode(build(2024, 6))
    assert decode(b"").reason == TOO_SHORT  # type: ignore[union-attr]
    assert decode(good[:28]).reason == TOO_SHORT  # type: ignore[union-attr]
    bad_format = bytearray(good)
    bad_format[0:2] = (2022).to_bytes(2, "little")
    err = decode(bytes(bad_format))
    assert not err and err.reason == "unknown_format" and err.packet_format == 2022  # type: ignore[union-attr]
    bad_id = bytearray(good)
    bad_id[6] = 15  # LapPositions does not exist in 2024
    err = decode(bytes(bad_id))
    assert not err and err.reason == "unknown_packet_id" and err.packet_id == 15  # type: ignore[union-attr]
    err = decode(good + b"\0")
    assert not err and err.reason == WRONG_SIZE and err.to_dict()["size"] == len(good) + 1  # type: ignore[union-attr]
    event = bytearray(encode(build_event(2024, "SSTA")))
    event[29:33] = b"ss\x00\xff"
    err = decode(bytes(event))
    assert not err and err.reason == BAD_EVENT  # type: ignore[union-attr]
    assert decode(bytearray(good)) and decode(memoryview(good))


# -- counts larger than their arrays (spec pitfall 4) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "pid", "name", "value", "capacity"),
    [
        (2025, 11, "numTyreStints", 9, 8),  # seen in a real F1 25 packet
        (2024, 11, "numTyreStints", 200, 8),
        (2023, 11, "numLaps", 255, 100),
        (2026, 11, "numLaps", 101, 100),
        (2023, 1, "numMarshalZones", 255, 21),
        (2024, 1, "numMarshalZones", 22, 21),
        (2023, 1, "numWeatherForecastSamples", 255, 56),
        (2024, 1, "numWeatherForecastSamples", 65, 64),
        (2024, 1, "numSessionsInWeekend", 13, 12),
        (2026, 1, "numActiveAeroZonesFull", 255, 8),
        (2026, 1, "numDRSZones", 200, 4),
    ],
)
def test_overstated_counts_decode_and_clamp(fmt: int, pid: int, name: str, value: int, capacity: int) -> None:
    packet = build(fmt, pid, {name: value})
    decoded = decode(encode(packet))
    assert decoded, decoded
    assert decoded[name] == value  # the raw value is kept
    assert decoded.count(name) == capacity
    assert decoded.layout.record[COUNTED_ARRAYS[name]].count == capacity
    assert len(decoded.to_dict()[decoded.layout.record[COUNTED_ARRAYS[name]].key]) == capacity
    within = decode(encode(build(fmt, pid, {name: capacity - 1})))
    assert within.count(name) == capacity - 1  # type: ignore[union-attr]


def test_every_top_level_count_clamps_in_every_format() -> None:
    checked = 0
    for (fmt, pid), layout in sorted(LAYOUTS.packets.items()):
        for count_name, array in COUNTED_ARRAYS.items():
            if count_name not in layout.record.by_name or array not in layout.record.by_name:
                continue
            capacity = layout.record[array].count
            for value in (0, 1, capacity, capacity + 1, 255):
                decoded = decode(encode(build(fmt, pid, {count_name: value})))
                assert decoded, (fmt, pid, count_name)
                assert decoded.count(count_name) == min(value, capacity), (fmt, pid, count_name, value)
                checked += 1
    assert checked >= 5 * 20
