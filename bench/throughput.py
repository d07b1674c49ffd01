"""Throughput of the hot path: decode + the single writer per datagram, against decode alone, on a synthetic race.

What it measures, on whole synthetic races generated once before timing (`bridge.games.f1.synth`, 60 Hz, every
packet type in the game's own proportions, from the grid through lights out, pit stops, a safety car, the
flag and the final classification):

* `decode`                  `packet = decode(d)`, the failure check the pipeline does (`if not packet`);
* `decode+writer`           the same, then `process_packet(state, packet)`: the writer folding the packet into
                            one `SessionState` (fresh for every pass over the race);
* `decode+writer+engine`    the same, then `PublishEngine.on_change(changed)` for every packet that changed
                            something, `tick()` whenever a rate class is due (the engine's clock follows the
                            race's own frame times) and, after each frame, `take()` of everything pending with
                            `sent()` for every message, as if the broker had confirmed it; no network. Info row.

Rows: format 2025 with 22 cars (about 355 datagrams/s of telemetry, the rate the targets are stated for) and
format 2026 with 24 cars (CarTelemetry2 per frame as well, about 415 datagrams/s).

Timing: `time.perf_counter_ns`, gc off while timing, the same loop for every variant. A pass goes through the
whole race in chunks of `CHUNK_FRAMES` frames; for every chunk the three variants run one after the other, in an
order that rotates from chunk to chunk and pass to pass, each on its own state, so all three see the same load
on a shared machine. The best (minimum) time of each chunk over `--repeat` passes is kept and the chunks are
added up; the engine variant, an info row and by far the slowest, joins the rotation in the first
`--engine-repeat` passes only. Each pass starts from a fresh state and engine and checks that the writer
applied every datagram (`packets_applied + stale_dropped == datagrams`, `stale_dropped == 0`) and that every
datagram decoded.

Targets (DESIGN.md section 7): the writer adds at most 1x the decode cost ((decode+writer) / decode <= 2.0x);
decode+writer sustains >= 10,000 datagrams/s on one core (real-time factor = datagrams/s / 355, the game's
rate at 60 Hz with 22 cars; the 2026 row also shows the factor against its own rate); every datagram applied.

Run from the project root (about a minute):

    .venv/bin/python bench/throughput.py      # options: --repeat N, --engine-repeat N, --chunk-frames N, --laps N

The summary table with the targets is printed last.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _common import fmt_ns, machine_line, table

from bridge.config import default_settings
from bridge.games.f1.codec import decode
from bridge.games.f1.layouts import LAYOUTS
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.f1.writer import process_packet
from bridge.publish.engine import PublishEngine
from bridge.publish.leds import Lights
from bridge.publish.mqtt import BATCH
from bridge.state.session import SessionState
from bridge.state.view import readonly
from bridge.status import BridgeStatus

GAME_RATE = 355  # datagrams/s the game sends at 60 Hz with 22 cars (DESIGN.md section 7)
TARGET_WRITER_VS_DECODE = 2.0  # (decode + writer) / decode: the writer adds at most 1x decode
TARGET_DATAGRAMS_PER_S = 10_000
CHUNK_FRAMES = 10  # a sixth of a second of telemetry, about 60 datagrams: well under a millisecond of decode
VARIANTS = ("decode", "decode+writer", "decode+writer+engine")

Frames = list[tuple[float, list[bytes]]]


@dataclass(frozen=True)
class Race:
    label: str
    packet_format: int
    cars: int
    frames: Frames
    datagrams: int
    seconds: float  # race time covered

    @property
    def rate(self) -> float:
        """Datagrams per second of race time: what the game would send."""
        return self.datagrams / self.seconds


def build_race(packet_format: int, cars: int, laps: int, seed: int) -> Race:
    config = SynthConfig(packet_format=packet_format, cars=cars, rate_hz=60, laps=laps, seed=seed)
    frames = list(SyntheticRace(config).frames())
    datagrams = sum(len(d) for _, d in frames)
    seconds = frames[-1][0] - frames[0][0] + 1 / 60
    return Race(f"{packet_format}, {cars} cars", packet_format, cars, frames, datagrams, seconds)


def mix_summary(race: Race) -> str:
    counts: dict[str, int] = {}
    for _, datagrams in race.frames:
        for d in datagrams:
            name = LAYOUTS.packets[(race.packet_format, d[6])].name
            counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))


# ----------------------------------------------------------------------------------------------------------
# The three variants: each is a function over one chunk of frames, with its own state for the pass.


class Pass:
    """One pass over the race: a fresh state (and engine) per variant, and the checks at the end."""

    def __init__(self) -> None:
        self.failed = {name: 0 for name in VARIANTS}
        self.writer_state = SessionState()
        self.engine_state = SessionState()
        settings = default_settings()
        self.now = 0.0
        clock: Callable[[], float] = lambda: self.now  # the race's own time
        view = readonly(self.engine_state)
        self.engine = PublishEngine(settings, view, BridgeStatus(), Lights(view, settings.lights, clock=clock),
                                    clock=clock)
        self.engine.snapshot()  # what the link does on connect, before the first datagram
        self.messages = 0
        self.runners: dict[str, Callable[[Frames], None]] = {
            "decode": self.decode_only,
            "decode+writer": self.decode_writer,
            "decode+writer+engine": self.decode_writer_engine,
        }

    def decode_only(self, frames: Frames) -> None:
        failed = 0
        for _, datagrams in frames:
            for d in datagrams:
                packet = decode(d)
                if not packet:
                    failed += 1
        self.failed["decode"] += failed

    def decode_writer(self, frames: Frames) -> None:
        state = self.writer_state
        failed = 0
        for _, datagrams in frames:
            for d in datagrams:
                packet = decode(d)
                if not packet:
                    failed += 1
                    continue
                process_packet(state, packet)
        self.failed["decode+writer"] += failed

    def decode_writer_engine(self, frames: Frames) -> None:
        state, engine = self.engine_state, self.engine
        on_change, take, sent = engine.on_change, engine.outbox.take, engine.outbox.sent
        failed = messages = 0
        for t, datagrams in frames:
            self.now = t
            for d in datagrams:
                packet = decode(d)
                if not packet:
                    failed += 1
                    continue
                changed = process_packet(state, packet)
                if changed:
                    on_change(changed)
            if t >= engine.next_due():
                engine.tick()
            while engine.outbox.has_pending():
                for message in take(BATCH):
                    sent(message)
                    messages += 1
        self.failed["decode+writer+engine"] += failed
        self.messages += messages

    def check(self, race: Race, names: Sequence[str]) -> None:
        for name, n in self.failed.items():
            if n:
                sys.exit(f"bench: {n} datagrams of the {race.label} race did not decode ({name})")
        for name, state in (("decode+writer", self.writer_state), ("decode+writer+engine", self.engine_state)):
            if name not in names:
                continue
            applied, stale = state.packets_applied, sum(state.stale_dropped.values())
            if applied + stale != race.datagrams or stale:
                sys.exit(
                    f"bench: writer loss in {name} on the {race.label} race: {applied} applied + {stale} stale "
                    f"!= {race.datagrams} datagrams"
                )


def timed(fn: Callable[[Frames], None], chunk: Frames) -> int:
    gc.disable()
    try:
        start = time.perf_counter_ns()
        fn(chunk)
        return time.perf_counter_ns() - start
    finally:
        gc.enable()


def measure(race: Race, repeat: int, engine_repeat: int, chunk_frames: int) -> dict[str, Any]:
    """Nanoseconds per datagram of every variant (chunks best of their passes, added up).

    decode and decode+writer run in all `repeat` passes; decode+writer+engine (an info row, and the slowest)
    only in the first `engine_repeat` of them, still interleaved chunk by chunk with the other two.
    """
    chunks = [race.frames[i : i + chunk_frames] for i in range(0, len(race.frames), chunk_frames)]
    best = {name: [float("inf")] * len(chunks) for name in VARIANTS}
    whole: dict[str, list[float]] = {name: [] for name in VARIANTS}  # each pass's plain total, for the spread
    messages = 0
    for r in range(max(repeat, engine_repeat)):
        one = Pass()
        names = [n for n in VARIANTS if (r < engine_repeat if n == "decode+writer+engine" else r < repeat)]
        totals = dict.fromkeys(names, 0)
        for i, chunk in enumerate(chunks):
            shift = (r + i) % len(names)
            for name in names[shift:] + names[:shift]:
                ns = timed(one.runners[name], chunk)
                totals[name] += ns
                if ns < best[name][i]:
                    best[name][i] = ns
        one.check(race, names)
        messages = one.messages or messages
        for name in names:
            whole[name].append(totals[name] / race.datagrams)
    per_datagram = {name: sum(best[name]) / race.datagrams for name in VARIANTS}
    return {"ns": per_datagram, "passes": whole, "messages": messages}


# ----------------------------------------------------------------------------------------------------------
# Report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def rows_for(race: Race, m: dict[str, Any]) -> list[list[str]]:
    ns = m["ns"]
    d, w, e = ns["decode"], ns["decode+writer"], ns["decode+writer+engine"]
    ratio = w / d
    dps = 1e9 / w
    own = f", {dps / race.rate:.0f}x its own {race.rate:.0f}/s" if abs(race.rate - GAME_RATE) > 10 else ""
    return [
        [f"{race.label}: (decode+writer) / decode", f"<= {TARGET_WRITER_VS_DECODE:.1f}x",
         f"{ratio:.2f}x (writer adds {ratio - 1:.2f}x)", verdict(ratio <= TARGET_WRITER_VS_DECODE)],
        [f"{race.label}: decode+writer datagrams/s, one core", f">= {TARGET_DATAGRAMS_PER_S:,}",
         f"{dps:,.0f}/s = {dps / GAME_RATE:.0f}x real time (/{GAME_RATE}){own}",
         verdict(dps >= TARGET_DATAGRAMS_PER_S)],
        [f"{race.label}: writer zero loss (applied + stale == datagrams)", "all, stale 0",
         f"{race.datagrams:,}/{race.datagrams:,}, stale 0", "PASS"],
        [f"{race.label}: per datagram, decode / decode+writer", "", f"{fmt_ns(d)} / {fmt_ns(w)}", "info"],
        [f"{race.label}: decode+writer+engine (no network): per datagram, / decode, rate", "",
         f"{fmt_ns(e)}, {e / d:.2f}x, {1e9 / e:,.0f}/s = {1e9 / e / GAME_RATE:.0f}x real time", "info"],
        [f"{race.label}: CPU per second of race, decode+writer / +engine", "",
         f"{w * race.rate / 1e6:.1f} ms / {e * race.rate / 1e6:.1f} ms of one core", "info"],
    ]  # fmt: skip


def passes_table(races: Sequence[Race], results: Sequence[dict[str, Any]]) -> str:
    rows = []
    for race, m in zip(races, results):
        for name in VARIANTS:
            per = m["passes"][name]
            rows.append([race.label, name, fmt_ns(m["ns"][name]), fmt_ns(min(per)), fmt_ns(max(per))])
    return table(["race", "variant", "best chunks", "fastest pass", "slowest pass"], rows)


# ----------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=9,
                        help="passes over each race for decode and decode+writer, best chunk kept (default 9)")
    parser.add_argument("--engine-repeat", type=int, default=3,
                        help="passes with decode+writer+engine as well (default 3)")
    parser.add_argument("--chunk-frames", type=int, default=CHUNK_FRAMES,
                        help=f"frames per timed chunk (default {CHUNK_FRAMES})")
    parser.add_argument("--laps", type=int, default=2, help="race length in laps (default 2)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print("bench/throughput.py:", " ".join(sys.argv[1:]) or "(defaults)",
          f"repeat={args.repeat} engine_repeat={args.engine_repeat} chunk_frames={args.chunk_frames} laps={args.laps}")
    print(machine_line())
    started = time.perf_counter()
    races = [build_race(2025, 22, args.laps, seed=1), build_race(2026, 24, args.laps, seed=3)]
    print(f"races generated in {time.perf_counter() - started:.1f} s:")
    for race in races:
        print(f"  {race.label}: {race.datagrams:,} datagrams over {race.seconds:.0f} s of race "
              f"({race.rate:.0f}/s), {len(race.frames):,} frames")
        print(f"    {mix_summary(race)}")
    results = [measure(race, args.repeat, args.engine_repeat, args.chunk_frames) for race in races]
    print("\nPer datagram (best chunks added up; each pass's plain total for the spread):")
    print(passes_table(races, results))
    for race, m in zip(races, results):
        print(f"  {race.label}: the engine produced {m['messages']:,} messages, "
              f"{m['messages'] / race.seconds:.0f} per second of race")
    rows = []
    for race, m in zip(races, results):
        rows += rows_for(race, m)
    print(f"\nSummary (ran {time.perf_counter() - started:.0f} s):")
    print(table(["item", "target", "result", "verdict"], rows))


if __name__ == "__main__":
    main()
