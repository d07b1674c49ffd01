"""Hostile datagrams through the whole pipeline in this process: nothing may raise, anywhere.

A seeded mutator takes real datagrams (the real game captures in `../shared/captures`, and synthetic races in
every supported format, 2023 to 2026, with 20 to 24 car slots) and sends them, mutated or not, through the
bridge's own datagram handler: decode -> the writer -> the publish engine -> Home Assistant and WLED readers.
Between datagrams it runs the engine's rate classes (`tick`) and Home Assistant's rate-limited states, now and
then what a reconnect does (the engine's snapshot, every reader's `on_connect`), takes the pending messages as
the MQTT link would (checks their payloads and encodes them as MQTT packets), and takes a metrics snapshot and
renders it.

Mutations: bit flips, truncations, extensions, a header of another format, splices of two datagrams, extreme
floats (NaN, +-inf, the float32 extremes, denormals), extreme integers, frame identifiers 0 and 0xFFFFFFFF, player
car indices out of range, and the session UID of the running session on datagrams of another format (a slot
count change mid-session, 22 <-> 24).

Any exception fails the case, including one the bridge caught and counted (`bridge.faults.errors` must stay
empty): a counted exception is still a bug. On failure it prints the seed and writes the last datagrams to a
capture file (`rigbridge decode FILE` shows them). Run it longer, or with another seed:

    RIGBRIDGE_FUZZ_SECONDS=600 RIGBRIDGE_FUZZ_SEED=12345 \
        .venv/bin/python -m pytest tests/reliability/test_fuzz_pipeline.py -s
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
import random
import re
import struct
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.app import Bridge
from bridge.games.f1.codec import decode
from bridge.games.f1.layouts import HEADER_SIZE, LAYOUTS, SUPPORTED_FORMATS
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.publish.metrics import ColumnCache, Sources, TextFormat, families, take_snapshot
from bridge.publish.wire import PublishEncoder
from tests.harness import settings_for, write_capture
from tools.captures import captures_root

SECONDS = float(os.environ.get("RIGBRIDGE_FUZZ_SECONDS", "45"))
SEED = int(os.environ.get("RIGBRIDGE_FUZZ_SEED", "20777"))
RIG = "fuzz"
KEEP = 400  # datagrams kept for the capture written on failure
HEADER_VALUES = len(LAYOUTS.header.fields)

# Header offsets (little-endian): format u16 @0, packet id u8 @6, session UID u64 @7, session time f32 @15,
# frame u32 @19, overall frame u32 @23, player car u8 @27, secondary player u8 @28.
FORMAT_AT, ID_AT, UID_AT, FRAME_AT, OVERALL_AT, PLAYER_AT = 0, 6, 7, 19, 23, 27
FLOATS_F = (math.nan, -math.nan, math.inf, -math.inf, 3.4028234663852886e38, -3.4028234663852886e38, 1.4e-45, -0.0,
            1e30, -1e30, 16777217.0)
FLOATS_D = (math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0)
INT_RANGES = {"b": (-128, 127), "B": (0, 255), "h": (-(2**15), 2**15 - 1), "H": (0, 2**16 - 1),
              "i": (-(2**31), 2**31 - 1), "I": (0, 2**32 - 1), "q": (-(2**63), 2**63 - 1), "Q": (0, 2**64 - 1)}
_CODE = re.compile(r"(\d*)([a-zA-Z?])")


def value_types(fmt: str) -> list[str]:
    """One struct letter per value of a compiled layout's format (`32s` is one value)."""
    out: list[str] = []
    for count, letter in _CODE.findall(fmt):
        if letter == "s":
            out.append("s")
        else:
            out.extend([letter] * int(count or 1))
    return out


# ------------------------------------------------------------------------------------------------- the corpus


def real_datagrams(root: Path) -> list[bytes]:
    """Every real datagram of the captures: whole ones, and header-less bodies given a header of their year."""
    parser = root / "f1-game-packet-parser"
    whole = [p.read_bytes() for p in sorted(parser.glob("*.bin"))]
    headers = {int(p.name[:4]): p.read_bytes()[:HEADER_SIZE] for p in sorted(parser.glob("202[34]-00.bin"))}
    bodies = []
    for p in sorted((root / "pits-n-giggles").glob("f1*_pid*.payload.bin")):
        year = 2000 + int(p.name[2:4])  # f123_... and f124_...
        header = bytearray(headers.get(year, headers[max(headers)]))
        header[ID_AT] = int(p.name.split("_pid")[1][:2])
        bodies.append(bytes(header) + p.read_bytes())
    return whole + bodies


def synthetic_datagrams() -> list[list[bytes]]:
    """Short races in every format: slot counts 22 (2023-2025) and 24 (2026), one with a player spectating, and a
    longer one past the first lap (lap times, sector bests, pit stops, events)."""
    races = []
    for n, fmt in enumerate(SUPPORTED_FORMATS):
        slots = LAYOUTS.num_cars[fmt]
        config = SynthConfig(packet_format=fmt, cars=slots, seed=n + 1, laps=2, track_id=17, rate_hz=20,
                             player_index=255 if fmt == 2024 else 0)
        races.append([d for t, ds in SyntheticRace(config).frames() if t < 15.0 for d in ds])
    long_race = SynthConfig(packet_format=2025, cars=20, seed=9, laps=2, track_id=17, rate_hz=10)
    races.append([d for t, ds in SyntheticRace(long_race).frames() if t < 90.0 for d in ds])
    return races


# ------------------------------------------------------------------------------------------------- the mutator


class Mutator:
    """Turns a datagram into a hostile one, reproducibly from its `random.Random`."""

    def __init__(self, rng: random.Random, corpus: list[bytes]) -> None:
        self.rng = rng
        self.corpus = corpus
        self.headers = {fmt: bytes(d[:HEADER_SIZE]) for d in corpus if (fmt := d[0] | d[1] << 8) in SUPPORTED_FORMATS}
        self.session_uid = b"\0" * 8  # the running session's UID, as the last datagram that decoded carried it

    def mutate(self, data: bytes) -> tuple[bytes, list[str]]:
        ops: list[str] = []
        out = bytearray(data)
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            name, op = self.rng.choice(self.OPERATIONS)
            ops.append(name)
            out = op(self, out)
        return bytes(out), ops

    def flip_bits(self, d: bytearray) -> bytearray:
        for _ in range(self.rng.randint(1, 8)):
            if d:
                i = self.rng.randrange(len(d))
                d[i] ^= 1 << self.rng.randrange(8)
        return d

    def truncate(self, d: bytearray) -> bytearray:
        return d[: self.rng.randrange(len(d) + 1)]

    def extend(self, d: bytearray) -> bytearray:
        return d + self.rng.randbytes(self.rng.choice((1, 2, 4, 64, 700)))

    def other_header(self, d: bytearray) -> bytearray:
        """The header of another format (format field, version, everything), the body unchanged."""
        header = bytearray(self.rng.choice(list(self.headers.values())))
        if len(d) > ID_AT:
            header[ID_AT] = d[ID_AT]
        return header + d[HEADER_SIZE:]

    def other_format(self, d: bytearray) -> bytearray:
        """Only the format field changed: a body laid out for one year read as another."""
        if len(d) >= 2:
            struct.pack_into("<H", d, FORMAT_AT, self.rng.choice(SUPPORTED_FORMATS))
        return d

    def splice(self, d: bytearray) -> bytearray:
        other = self.rng.choice(self.corpus)
        cut = self.rng.randrange(len(d) + 1)
        return d[:cut] + other[cut:] if self.rng.random() < 0.7 else d[:cut] + other[self.rng.randrange(len(other)):]

    def _values(self, d: bytearray) -> tuple[object, list[object], list[str]] | None:
        packet = decode(bytes(d))
        if not packet:
            return None
        layout = packet.layout
        return layout, list(packet.values), value_types(layout.struct.format)

    def extreme_values(self, d: bytearray) -> bytearray:
        """Some of the packet's numbers set to the extremes of their type."""
        decoded = self._values(d)
        if decoded is None:
            return d
        layout, values, types = decoded
        for _ in range(self.rng.choice((1, 3, 10, 50))):
            i = self.rng.randrange(HEADER_VALUES, len(values))  # the body's (the header has its own operation)
            kind = types[i]
            if kind == "f":
                values[i] = self.rng.choice(FLOATS_F)
            elif kind == "d":
                values[i] = self.rng.choice(FLOATS_D)
            elif kind in INT_RANGES:
                low, high = INT_RANGES[kind]
                values[i] = self.rng.choice((low, high, low + 1, high - 1, 0, 1, 21, 22, 23, 24, 255))
                values[i] = min(max(values[i], low), high)  # type: ignore[type-var]
        return bytearray(layout.struct.pack(*values))  # type: ignore[attr-defined]

    def extreme_header(self, d: bytearray) -> bytearray:
        if len(d) < HEADER_SIZE:
            return d
        choice = self.rng.randrange(4)
        if choice == 0:
            struct.pack_into("<I", d, FRAME_AT, self.rng.choice((0, 0xFFFFFFFF)))
        elif choice == 1:
            struct.pack_into("<I", d, OVERALL_AT, self.rng.choice((0, 0xFFFFFFFF, 0x7FFFFFFF)))
        elif choice == 2:
            d[PLAYER_AT] = self.rng.choice((19, 20, 21, 22, 23, 24, 254, 255))
        else:
            struct.pack_into("<f", d, 15, self.rng.choice(FLOATS_F))  # session time
        return d

    def same_session(self, d: bytearray) -> bytearray:
        """Claim the running session: a datagram of another format (slot count) or race joins it."""
        if len(d) >= UID_AT + 8:
            d[UID_AT:UID_AT + 8] = self.session_uid
        return d

    OPERATIONS: tuple[tuple[str, Callable[[Mutator, bytearray], bytearray]], ...] = (
        ("flip_bits", flip_bits), ("truncate", truncate), ("extend", extend), ("other_header", other_header),
        ("other_format", other_format), ("splice", splice), ("extreme_values", extreme_values),
        ("extreme_values", extreme_values), ("extreme_header", extreme_header), ("same_session", same_session),
        ("same_session", same_session),
    )


# ------------------------------------------------------------------------------------------------- checks


class Clock:
    """The engine's clock: one second per call of `step`, so every rate class comes due often."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _no_constant(name: str) -> object:
    raise ValueError(f"not JSON: {name}")


def check_payload(topic: str, payload: str, rate: str) -> None:
    """What the bridge sends must be valid where it claims a format: JSON for events and discovery, and never a
    non-finite number as a value."""
    if rate in ("event", "discovery") and payload:
        try:
            json.loads(payload, parse_constant=_no_constant)
        except ValueError as exc:
            raise AssertionError(f"{topic}: not valid JSON ({exc}): {payload[:300]!r}") from None
    elif payload.lower() in ("nan", "-nan", "inf", "-inf", "infinity", "-infinity"):
        raise AssertionError(f"{topic}: non-finite value {payload!r}")


def _bridge() -> Bridge:
    settings = settings_for(1883, rig=RIG)
    lights = dataclasses.replace(settings.lights, wled=dataclasses.replace(settings.lights.wled, enabled=True,
                                                                           topics=("wled/strip",)))
    return Bridge(dataclasses.replace(settings, lights=lights))


def test_hostile_datagrams_never_raise_anywhere_in_the_pipeline(tmp_path: Path) -> None:
    root = captures_root()
    if root is None:
        pytest.skip("real game captures not found: set RIGBRIDGE_CAPTURES or provide ../shared/captures")
    real = real_datagrams(root)
    races = synthetic_datagrams()
    corpus = real + [d for race in races for d in race[::7]]
    rng = random.Random(SEED)
    mutator = Mutator(rng, corpus)
    bridge = _bridge()
    clock = Clock()
    bridge.engine._clock = clock  # rate classes on a clock the case steps, not on wall time
    ha = bridge.services["homeassistant"]
    lag = bridge.metrics.lag if bridge.metrics is not None else None
    cache, text = ColumnCache(), TextFormat()
    wire = PublishEncoder(5, 3600)
    cursors = [0] * len(races)
    recent: deque[bytes] = deque(maxlen=KEEP)
    sent = mutated = decoded = 0
    step = "start"
    ops: list[str] = []
    deadline = time.monotonic() + SECONDS

    def failed(problem: str) -> None:
        path = tmp_path / f"fuzz-seed{SEED}.rbcap"
        write_capture(path, [(n / 60, [d]) for n, d in enumerate(recent)])
        last = recent[-1] if recent else b""
        pytest.fail(f"{problem}\n  seed {SEED} (RIGBRIDGE_FUZZ_SEED={SEED} reproduces it), datagram {sent}, step "
                    f"{step}, mutations {ops}\n  last datagram ({len(last)} bytes): "
                    f"{base64.b64encode(last[:2048]).decode()}\n  the last {len(recent)} datagrams: {path}",
                    pytrace=False)

    problem = ""
    try:
        while time.monotonic() < deadline:
            for _ in range(50):
                step = "datagram"
                if rng.random() < 0.5:  # a race goes on, so that the state is a real one to break
                    r = rng.randrange(len(races))
                    data = races[r][cursors[r] % len(races[r])]
                    cursors[r] += 1
                    ops = []
                    if rng.random() < 0.3:
                        data, ops = mutator.mutate(data)
                else:
                    data, ops = mutator.mutate(rng.choice(corpus))
                if rng.random() < 0.9:  # most join the running session: formats and races mix within one session
                    data = bytes(mutator.same_session(bytearray(data)))
                mutated += bool(ops)
                recent.append(data)
                sent += 1
                bridge.ingest.count_received(len(data), time.monotonic_ns())
                bridge.on_datagram(data, ("192.0.2.1", 20777), time.monotonic_ns())
                packet = decode(data)
                if packet:
                    decoded += 1
                    mutator.session_uid = data[UID_AT:UID_AT + 8]
                if bridge.faults.errors:
                    report = next((r for r in bridge.faults.queue if r.exc is not None), None)
                    failed(f"the pipeline raised (caught and counted by Faults: a bug all the same): "
                           f"{bridge.faults.errors}\n"
                           + ("".join(traceback.format_exception(report.exc)) if report and report.exc else ""))
            step = "tick"
            clock.now += rng.choice((0.05, 0.5, 1.0, 5.0))
            bridge.engine.tick()
            step = "homeassistant"
            ha.flush()
            step = "send"
            for message in bridge.engine.outbox.take(10_000):
                check_payload(message.topic, message.payload, message.rate)
                wire.encode(message.topic, message.payload, message.retain, message.expires)  # as the link sends it
                bridge.engine.outbox.sent(message)
            if sent % 5000 == 0:
                step = "reconnect"  # what the MQTT link does after every (re)connect
                bridge.outbox.reset()
                for service in bridge.services.values():
                    if hasattr(service, "on_connect"):
                        service.on_connect()
            if sent % 1000 == 0 and lag is not None:
                step = "metrics"
                snapshot = take_snapshot(Sources.from_deps(bridge.deps), lag, cache)
                text.render(families(snapshot, RIG))
            if bridge.faults.errors:
                failed(f"a caught exception at step {step}: {bridge.faults.errors}")
    except Exception:  # the point: report with the seed and the inputs
        problem = f"the pipeline raised at step {step}:\n{traceback.format_exc()}"
    if problem:
        failed(problem)
    assert sent > 5000 and mutated > sent // 3 and decoded > sent // 3, (sent, mutated, decoded)
    print(f"fuzz: seed {SEED}, {sent} datagrams ({mutated} mutated, {decoded} decoded) in {SECONDS:g} s")
