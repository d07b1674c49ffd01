"""Decode cost on real F1 datagrams: `decode()` against one bare `Struct.unpack_from`, and against f1-packets.

What it measures, on every real datagram of formats 2023 and 2024 (captures from f1-game-packet-parser, the two
wrong-length suspects left out) and on a 60 Hz frame mix of them:

* `unpack`          one `layout.struct.unpack_from(d)`: the floor, the same Struct `decode` uses;
* `decode`          `decode(d)`: validation, that one unpack into a flat tuple, the `Packet` wrapper;
* `decode+to_dict`  `decode(d).to_dict()`: every field as nested Python values (what `rigbridge decode` prints);
* f1-packets (PyPI), one release per game year, each in its own folder under `bench/.peers/` (installed with pip
  on first use) and run in its own subprocess (`--peer VERSION`, JSON out) since all releases share the module
  name `f1`: `resolve(d)` (a ctypes structure, values converted on access) and `resolve(d).to_dict()` (every
  field as nested Python values). The subprocess also times our `decode` on the same datagrams, interleaved, so
  each "x faster" ratio comes from one process.

Forza: every datagram of the real Forza Motorsport (2023) recording (`forza/fm2023-dash-331.bin`, 1,793
datagrams of 331 bytes), in arrival order, timed like the mix: `unpack` (the variant's Struct), `decode`,
`identify+decode` (the registry's signature test first, as automatic game detection does) and `decode+to_dict`.

The frame mix is 5 s at 60 Hz (300 frames, so Participants at 0.2/s occurs exactly once): per frame Motion,
LapData, CarTelemetry, CarStatus and MotionEx; then Session 2/s, Participants 0.2/s, CarSetups 2/s, CarDamage
10/s, SessionHistory 20/s, TyreSets 20/s and one event per second, spread evenly over the frames.

Timing (see `_common.py`): `time.perf_counter_ns`, one loop style for all variants, gc off while timing, best of
`--repeat` interleaved repeats of about `--target-ms` each (fewer for slow variants, capped by `--budget-ms`).
The mix is timed in chunks of 3 frames, every datagram in arrival order, each chunk best of 7 repeats, and the
chunks added up. Times are per datagram and include the loop's own overhead (the same for every variant).

Run from the project root (about a minute; the first run also installs the f1-packets releases):

    .venv/bin/python bench/decode.py      # options: --repeat N, --target-ms MS, --budget-ms MS, --no-peers

Captures come from `$RIGBRIDGE_CAPTURES` or `../shared/captures`. The summary table with the targets is printed
last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from _common import FORMATS, ROOT, Calls, Capture, best_of, fmt_ns, load_captures, machine_line, repeated, table

from bridge.games.f1.codec import decode
from bridge.games.f1.layouts import LAYOUTS
from bridge.games.forza import codec as forza
from bridge.games.forza.layouts import BY_SIZE as FORZA_BY_SIZE
from bridge.games.registry import identify
from tools.captures import captures_root

Mixes = dict[int, list[list[Capture]]]  # format -> frames -> datagrams
Maker = Callable[[Capture], tuple[Callable[[Any], Any], Any]]  # datagram -> the (function, argument) to time

PEER_PACKAGE = "f1-packets"
PEER_VERSIONS = ("2023.1.0", "2024.1.0", "2025.1.1", "2026.1.1")
PEERS_DIR = ROOT / "bench" / ".peers"

HZ = 60
MIX_FRAMES = 300
MIX_CHUNK_FRAMES = 3  # the mix is timed in chunks this long (about 18 datagrams)...
MIX_CHUNK_REPEAT = 7  # ...each the best of this many repeats
PER_FRAME_IDS = (0, 2, 6, 7, 13)  # Motion, LapData, CarTelemetry, CarStatus, MotionEx
PERIODIC_PER_SECOND = {
    1: Fraction(2),  # Session
    4: Fraction(1, 5),  # Participants
    5: Fraction(2),  # CarSetups
    10: Fraction(10),  # CarDamage
    11: Fraction(20),  # SessionHistory
    12: Fraction(20),  # TyreSets
    3: Fraction(1),  # events, cycling through the real event captures
}

TARGET_MIX_VS_UNPACK = 2.0  # frame-mix decode at most this many bare unpacks
TARGET_X_FASTER = 20.0  # decode at least this many times faster than f1-packets producing every field



# ----------------------------------------------------------------------------------------------------------
# The frame mix


def build_frames(captures: Sequence[Capture], packet_format: int) -> list[list[Capture]]:
    """`MIX_FRAMES` frames of one format's datagrams in their real 60 Hz proportions, in arrival order."""
    by_id = {c.packet_id: c for c in captures if c.packet_format == packet_format and not c.code}
    events = [c for c in captures if c.packet_format == packet_format and c.code]
    frames: list[list[Capture]] = []
    sent_events = 0
    for frame in range(MIX_FRAMES):
        datagrams = [by_id[pid] for pid in PER_FRAME_IDS]
        for pid, per_second in PERIODIC_PER_SECOND.items():
            due = int((frame + 1) * per_second / HZ) - int(frame * per_second / HZ)
            for _ in range(due):
                if pid == 3:
                    datagrams.append(events[sent_events % len(events)])
                    sent_events += 1
                else:
                    datagrams.append(by_id[pid])
        frames.append(datagrams)
    return frames


def packet_name(c: Capture) -> str:
    return LAYOUTS.packets[(c.packet_format, c.packet_id)].name


def flat(frames: Sequence[Sequence[Capture]]) -> list[Capture]:
    return [c for frame in frames for c in frame]


def mix_summary(mix: Sequence[Capture]) -> str:
    counts: dict[str, int] = {}
    for c in mix:
        name = packet_name(c)
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} {n}" for name, n in counts.items())


# ----------------------------------------------------------------------------------------------------------
# Our decoder


def ours() -> dict[str, Maker]:
    """Our variants: name -> the call it makes for one datagram."""

    def decode_to_dict(data: bytes) -> dict[str, Any]:
        return decode(data).to_dict()  # type: ignore[union-attr]

    return {
        "unpack": lambda c: (LAYOUTS.packets[(c.packet_format, c.packet_id)].struct.unpack_from, c.data),
        "decode": lambda c: (decode, c.data),
        "decode+to_dict": lambda c: (decode_to_dict, c.data),
    }


def check_ours(captures: Sequence[Capture]) -> None:
    for c in captures:
        result = decode(c.data)
        if not result:
            sys.exit(f"bench: {c.name} does not decode: {result!r}")


def variants_for(makers: dict[str, Maker], captures: Sequence[Capture]) -> dict[str, Calls]:
    """Each maker applied to every datagram; a single datagram is repeated to amortise the outer loop."""
    if len(captures) == 1:
        return {name: repeated(*make(captures[0])) for name, make in makers.items()}
    return {name: [make(c) for c in captures] for name, make in makers.items()}


def measure_items(makers: dict[str, Maker], captures: Sequence[Capture], args: argparse.Namespace) -> dict:
    """Nanoseconds per call of every variant, datagram by datagram."""
    return {c.label: best_of(variants_for(makers, [c]), args.repeat, args.target_ms, args.budget_ms) for c in captures}


def measure_mix(makers: dict[str, Maker], frames: Sequence[Sequence[Capture]], args: argparse.Namespace) -> dict:
    """Nanoseconds per datagram of every variant over the whole mix.

    The mix is timed in consecutive chunks of `MIX_CHUNK_FRAMES` frames (every datagram, in arrival order), each
    chunk best of its repeats, and the chunks are added up. Short chunks keep every pass, even f1-packets' (a few
    ms), shorter than a scheduler time slice, so on a shared machine the slow variants find quiet moments as
    often as the fast ones; one long pass over the whole mix would be charged for every other process.
    """
    total: dict[str, float] = dict.fromkeys(makers, 0.0)
    count = 0
    repeat = min(args.repeat, MIX_CHUNK_REPEAT)
    for start in range(0, len(frames), MIX_CHUNK_FRAMES):
        chunk = flat(frames[start : start + MIX_CHUNK_FRAMES])
        best = best_of(variants_for(makers, chunk), repeat, args.target_ms, args.budget_ms)
        for name, ns in best.items():
            total[name] += ns * len(chunk)
        count += len(chunk)
    return {name: ns / count for name, ns in total.items()}


def measure_ours(captures: Sequence[Capture], mixes: Mixes, args: argparse.Namespace) -> dict:
    makers = ours()
    mix = {fmt: measure_mix(makers, frames, args) for fmt, frames in mixes.items()}
    return {"items": measure_items(makers, captures, args), "mix": mix}


# ----------------------------------------------------------------------------------------------------------
# Forza

FORZA_CAPTURE = ("forza", "fm2023-dash-331.bin")
FORZA_SIZE = 331
FORZA_CHUNK = 18  # datagrams per timed chunk, as many as a chunk of the F1 mix


def forza_datagrams() -> list[bytes]:
    root = captures_root()
    path = root.joinpath(*FORZA_CAPTURE) if root else None
    if path is None or not path.is_file():
        return []
    raw = path.read_bytes()
    return [raw[i : i + FORZA_SIZE] for i in range(0, len(raw), FORZA_SIZE)]


def measure_forza(datagrams: Sequence[bytes], args: argparse.Namespace) -> dict[str, float]:
    """Nanoseconds per datagram over the whole recording, in chunks (see `measure_mix`)."""

    def identify_decode(data: bytes) -> Any:
        game = identify(data)
        return game.decode(data) if game else None

    def decode_to_dict(data: bytes) -> dict[str, Any]:
        return forza.decode(data).to_dict()  # type: ignore[union-attr]

    unpack = FORZA_BY_SIZE[FORZA_SIZE].struct.unpack_from
    makers = {"unpack": unpack, "decode": forza.decode, "identify+decode": identify_decode,
              "decode+to_dict": decode_to_dict}
    total = dict.fromkeys(makers, 0.0)
    repeat = min(args.repeat, MIX_CHUNK_REPEAT)
    for start in range(0, len(datagrams), FORZA_CHUNK):
        chunk = datagrams[start : start + FORZA_CHUNK]
        variants = {name: [(fn, d) for d in chunk] for name, fn in makers.items()}
        for name, ns in best_of(variants, repeat, args.target_ms, args.budget_ms).items():
            total[name] += ns * len(chunk)
    return {name: ns / len(datagrams) for name, ns in total.items()}


def forza_rows(t: dict[str, float] | None, n: int) -> list[list[str]]:
    if t is None:
        return [["Forza Motorsport (2023) recording", "", "not measured (capture not found)", "n/a"]]
    return [
        [f"Forza recording ({n} datagrams of {FORZA_SIZE} bytes): decode / unpack", "", ratio(t["decode"], t["unpack"]),
         "info"],
        ["  unpack / decode / identify+decode per datagram", "",
         f"{fmt_ns(t['unpack'])} / {fmt_ns(t['decode'])} / {fmt_ns(t['identify+decode'])}", "info"],
        ["  identify+decode CPU per second of 60 Hz telemetry", "", fmt_ns(t["identify+decode"] * HZ), "info"],
        ["  decode+to_dict / unpack", "", ratio(t["decode+to_dict"], t["unpack"]), "info"],
    ]  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# f1-packets, one release per subprocess


def peer_dir(version: str) -> Path:
    return PEERS_DIR / f"{PEER_PACKAGE}-{version}"


def install_peer(version: str) -> str | None:
    """Install the release into its own folder if missing; None when ready, else why not."""
    target = peer_dir(version)
    if any(target.glob("f1_packets-*.dist-info")):
        return None
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    cmd += ["--target", str(target), f"{PEER_PACKAGE}=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        return f"not installed ({last})"
    return None


def run_peer(version: str, args: argparse.Namespace) -> dict:
    """This script again with `--peer VERSION`; its JSON, or an error entry."""
    problem = install_peer(version)
    if problem:
        return {"version": version, "error": problem}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--peer", version]
    cmd += ["--repeat", str(args.repeat), "--target-ms", str(args.target_ms), "--budget-ms", str(args.budget_ms)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"version": version, "error": f"subprocess failed: {last}"}
    return json.loads(done.stdout)


def peer_main(version: str, args: argparse.Namespace) -> None:
    """Inside the subprocess: which datagrams this release parses, and the timings on those."""
    sys.path.insert(0, str(peer_dir(version)))
    from f1.packets import resolve  # type: ignore[import-not-found]

    def theirs_to_dict(data: bytes) -> dict[str, Any]:
        return resolve(data).to_dict()

    captures = load_captures()
    parsed, rejected = [], {}
    for c in captures:
        try:
            out = theirs_to_dict(c.data)
            if out["header"]["packet_id"] != c.packet_id:
                raise ValueError(f"packet_id {out['header']['packet_id']}")
            parsed.append(c)
        except Exception as exc:  # any failure means "does not parse this datagram"
            rejected[c.label] = f"{type(exc).__name__}: {exc}"

    makers = dict(ours())
    del makers["unpack"]
    makers["f1p.resolve"] = lambda c: (resolve, c.data)
    makers["f1p.resolve+to_dict"] = lambda c: (theirs_to_dict, c.data)
    items = measure_items(makers, parsed, args)
    mix = {}
    labels = {c.label for c in parsed}
    for fmt in FORMATS:
        frames = build_frames(captures, fmt)
        if all(c.label in labels for c in flat(frames)):
            mix[fmt] = measure_mix(makers, frames, args)
    json.dump({"version": version, "items": items, "mix": mix, "rejected": rejected}, sys.stdout)


# ----------------------------------------------------------------------------------------------------------
# Report


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def items_table(captures: Sequence[Capture], mine: dict) -> str:
    rows = []
    for c in captures:
        t = mine["items"][c.label]
        rows.append(
            [
                c.label,
                packet_name(c) + (f" {c.code}" if c.code else ""),
                len(c.data),
                fmt_ns(t["unpack"]),
                fmt_ns(t["decode"]),
                ratio(t["decode"], t["unpack"]),
                fmt_ns(t["decode+to_dict"]),
                ratio(t["decode+to_dict"], t["unpack"]),
            ]
        )
    heads = ["datagram", "packet", "bytes", "unpack", "decode", "/unpack", "decode+to_dict", "/unpack"]
    return table(heads, rows, [False, False] + [True] * 6)


def peer_items_table(peer: dict) -> str:
    rows = []
    for label, t in peer["items"].items():
        rows.append(
            [
                label,
                fmt_ns(t["decode"]),
                fmt_ns(t["f1p.resolve"]),
                fmt_ns(t["f1p.resolve+to_dict"]),
                ratio(t["f1p.resolve+to_dict"], t["decode"]),
                fmt_ns(t["decode+to_dict"]),
                ratio(t["f1p.resolve+to_dict"], t["decode+to_dict"]),
            ]
        )
    heads = ["datagram", "decode", "f1p resolve", "f1p +to_dict", "x faster", "decode+to_dict", "x faster"]
    return table(heads, rows)


def peer_status(peer: dict) -> str:
    version = peer["version"]
    if "error" in peer:
        return f"f1-packets {version}: {peer['error']}"
    n_ok, rejected = len(peer["items"]), peer["rejected"]
    formats = sorted({int(label[:4]) for label in peer["items"]})
    if not n_ok:
        sample = next(iter(rejected.values()), "")
        return f"f1-packets {version}: parses none of our {len(rejected)} real 2023/2024 datagrams (resolve: {sample})"
    sample = next(iter(rejected.values()), "")
    tail = f"; rejects {len(rejected)} (e.g. {sample})" if rejected else ""
    return f"f1-packets {version}: parses {n_ok} datagrams, formats {formats}{tail}"


def ours_rows(fmt: int, t: dict[str, float], n: int) -> list[list[str]]:
    r = t["decode"] / t["unpack"]
    cpu = fmt_ns(t["decode"] * n * HZ / MIX_FRAMES)
    return [
        [f"frame mix {fmt} ({n} datagrams, {MIX_FRAMES} frames): decode / unpack",
         f"<= {TARGET_MIX_VS_UNPACK:.1f}x", f"{r:.2f}x", verdict(r <= TARGET_MIX_VS_UNPACK)],
        ["  decode per datagram / CPU per second of 60 Hz telemetry", "", f"{fmt_ns(t['decode'])} / {cpu}", "info"],
        ["  decode+to_dict / unpack", "", ratio(t["decode+to_dict"], t["unpack"]), "info"],
    ]  # fmt: skip


def peer_rows(version: str, fmt: str, t: dict[str, float]) -> list[list[str]]:
    theirs = t["f1p.resolve+to_dict"]
    x = theirs / t["decode"]
    return [
        [f"frame mix {fmt} vs f1-packets {version}: x faster, decode vs resolve+to_dict",
         f">= {TARGET_X_FASTER:.0f}x", f"{x:.1f}x", verdict(x >= TARGET_X_FASTER)],
        ["  decode+to_dict vs resolve+to_dict (both nested dicts)", "", f"{theirs / t['decode+to_dict']:.1f}x", "info"],
        ["  decode vs resolve alone (ctypes, values on access)", "", ratio(t["f1p.resolve"], t["decode"]), "info"],
    ]  # fmt: skip


def summary_rows(mine: dict, peers: Sequence[dict], mixes: Mixes) -> list[list[str]]:
    rows = []
    for fmt, t in mine["mix"].items():
        rows += ours_rows(fmt, t, len(flat(mixes[fmt])))
    rows += forza_rows(mine.get("forza"), mine.get("forza_datagrams", 0))
    for peer in peers:
        for fmt_text, t in peer.get("mix", {}).items():
            rows += peer_rows(peer["version"], fmt_text, t)
        if not peer.get("mix"):
            why = "not installed" if "error" in peer else "parses none of the mix"
            rows.append([f"f1-packets {peer['version']}", "", why, "n/a"])
    if not peers:
        rows.append(["f1-packets", f">= {TARGET_X_FASTER:.0f}x", "not measured (--no-peers)", "n/a"])
    return rows


def report(captures: Sequence[Capture], mixes: Mixes, mine: dict, peers: Sequence[dict]) -> None:
    print("\nPer datagram (ours; times per call, best of repeats):")
    print(items_table(captures, mine))
    for peer in peers:
        if peer.get("items"):
            print(f"\nf1-packets {peer['version']} per datagram (decode timed in the same process):")
            print(peer_items_table(peer))
    print("\nf1-packets releases:")
    for peer in peers:
        print("  " + peer_status(peer))
    print("\nFrame mixes:")
    for fmt, frames in mixes.items():
        print(f"  {fmt}: {mix_summary(flat(frames))}")
    print("\nSummary (x faster = f1-packets time / our time):")
    print(table(["item", "target", "result", "verdict"], summary_rows(mine, peers, mixes)))


# ----------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=21, help="repeats per measurement, best kept (default 21)")
    parser.add_argument("--target-ms", type=float, default=1.0, help="duration of one repeat (default 1 ms)")
    parser.add_argument(
        "--budget-ms", type=float, default=400.0, help="time per measurement before repeats are cut (default 400 ms)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the f1-packets comparison")
    parser.add_argument("--peer", metavar="VERSION", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.peer:
        peer_main(args.peer, args)
        return
    settings = f"repeat={args.repeat} target_ms={args.target_ms} budget_ms={args.budget_ms}"
    print("bench/decode.py:", " ".join(sys.argv[1:]) or "(defaults)", settings)
    print(machine_line())
    captures = load_captures()
    check_ours(captures)
    mixes = {fmt: build_frames(captures, fmt) for fmt in FORMATS}
    mine = measure_ours(captures, mixes, args)
    forza_capture = forza_datagrams()
    if forza_capture:
        mine["forza"] = measure_forza(forza_capture, args)
        mine["forza_datagrams"] = len(forza_capture)
    peers = [] if args.no_peers else [run_peer(v, args) for v in PEER_VERSIONS]
    report(captures, mixes, mine, peers)
    from decode_games import report_games  # GT7 (with its Salsa20), Codemasters, OutGauge: their own table

    report_games(args)


if __name__ == "__main__":
    main()
