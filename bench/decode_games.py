"""Decode cost of the single-record games: GT7 (Salsa20 + unpack), Codemasters extradata 3, OutGauge.

GT7: 600 packets (10 s at 60 Hz) of the real 368-byte recording (`gt7/replay-368-decrypted.gz`), encrypted
again as the console sends them to a "~" listener, and the real encrypted 296-byte packet:

* `decrypt`          Salsa20 alone (pycryptodome): the magic found with four bytes, then the whole packet;
* `decode`           what the bridge does per packet: decrypt, magic check, one `Struct.unpack_from`;
* `decode (clear)`   the same packet already decrypted: the unpack and checks alone, the floor;
* `identify+decode`  the registry's signatures first (automatic game detection; GT7's costs a 4-byte Salsa20);
* `decode+to_dict`   every field as Python values (what `rigbridge decode` prints).

Codemasters: every datagram of the real DiRT Rally recording (`dirt/dirt-rally-ps4-264.bin`); OutGauge: a
synthetic Live for Speed lap (no real recording is available). Times per datagram, best of repeats, in chunks
like the F1 mix (see decode.py); "per second" is the CPU one second of 60 Hz telemetry costs.

Run from the project root, alone (a few seconds) or as the last part of bench/decode.py:

    .venv/bin/python bench/decode_games.py
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import best_of, fmt_ns, machine_line, table  # first: it makes the project's tools importable

from bridge.games.codemasters import codec as codemasters
from bridge.games.gt7 import codec as gt7
from bridge.games.gt7 import crypto
from bridge.games.outgauge import codec as outgauge
from bridge.games.outgauge.synth import GaugeConfig, SyntheticGauge
from bridge.games.registry import BY_KEY, identify
from bridge.state.session import SessionState
from tools.captures import captures_root

HZ = 60
CHUNK = 18
GT7_PACKETS = 600


def identify_decode(data: bytes) -> Any:
    game = identify(data)
    return game.decode(data) if game else None


def timed(
    datagrams: Sequence[bytes], makers: dict[str, Callable[[Any], Any]], args: argparse.Namespace
) -> dict[str, float]:
    total = dict.fromkeys(makers, 0.0)
    for start in range(0, len(datagrams), CHUNK):
        chunk = datagrams[start : start + CHUNK]
        variants: dict[str, Sequence[tuple[Callable[[Any], Any], Any]]] = {
            name: [(fn, d) for d in chunk] for name, fn in makers.items()
        }
        for name, ns in best_of(variants, args.repeat, args.target_ms, args.budget_ms).items():
            total[name] += ns * len(chunk)
    return {name: ns / len(datagrams) for name, ns in total.items()}


def codec_row(label: str, datagrams: Sequence[bytes], codec: Any, args: argparse.Namespace) -> list[str]:
    """One single-record game's row: decode / identify+decode / decode+to_dict per datagram."""
    t = timed(datagrams, {"decode": codec.decode, "identify+decode": identify_decode,
                          "decode+to_dict": lambda d: codec.decode(d).to_dict()}, args)  # fmt: skip
    return [f"{label}: decode / identify+decode / decode+to_dict", "",
            f"{fmt_ns(t['decode'])} / {fmt_ns(t['identify+decode'])} / {fmt_ns(t['decode+to_dict'])}", "info"]


def live_row(datagrams: Sequence[bytes], key: str, args: argparse.Namespace) -> list[str]:
    """What the live pipeline costs per datagram before publishing: decode and the game's writer (the repeats
    replay one chunk, so from the second pass GT7's writer drops the packets as stale: a little cheaper)."""
    game, state = BY_KEY[key], SessionState()
    process = game.process
    assert process is not None
    t = timed(datagrams, {"live": lambda d: process(state, game.decode(d))}, args)["live"]
    return ["  decode + writer per datagram / per second at 60 Hz", "", f"{fmt_ns(t)} / {fmt_ns(t * HZ)}", "info"]


def gt7_inputs(root: Path) -> tuple[list[bytes], list[bytes]]:
    """(encrypted, clear) packets of the recording, and the real encrypted one at the end of the first list."""
    raw = gzip.decompress((root / "gt7" / "replay-368-decrypted.gz").read_bytes())
    clear = [raw[i : i + 368] for i in range(0, 368 * GT7_PACKETS, 368)]
    rng = random.Random(1)
    encrypted = [crypto.encrypt(p, rng.getrandbits(32), b"~") for p in clear]
    return [*encrypted, (root / "gt7" / "encrypted-296.bin").read_bytes()], clear


def measure(args: argparse.Namespace) -> list[list[str]]:
    root = captures_root()
    if root is None:
        return [["GT7, Codemasters, OutGauge", "", "not measured (captures not found)", "n/a"]]
    rows: list[list[str]] = []
    encrypted, clear = gt7_inputs(root)
    seeds = crypto.seed_order(b"~")
    t = timed(encrypted, {"decrypt": lambda d: crypto.decrypt(d, seeds), "decode": gt7.decode,
                          "identify+decode": identify_decode,
                          "decode+to_dict": lambda d: gt7.decode(d).to_dict()}, args)  # fmt: skip
    floor = timed(clear, {"decode (clear)": gt7.decode}, args)["decode (clear)"]
    rows += [
        [f"GT7 ({len(encrypted)} real packets, encrypted): decrypt per packet / per second at 60 Hz", "",
         f"{fmt_ns(t['decrypt'])} / {fmt_ns(t['decrypt'] * HZ)}", "info"],
        ["  decode (decrypt + unpack) per packet / per second at 60 Hz", "",
         f"{fmt_ns(t['decode'])} / {fmt_ns(t['decode'] * HZ)}", "info"],
        ["  decode of the packet in clear (no Salsa20)", "", fmt_ns(floor), "info"],
        ["  identify+decode / decode+to_dict", "", f"{fmt_ns(t['identify+decode'])} / {fmt_ns(t['decode+to_dict'])}",
         "info"],
        live_row(encrypted, "gt7", args),
    ]  # fmt: skip
    dirt_path = root / "dirt" / "dirt-rally-ps4-264.bin"
    if dirt_path.is_file():
        raw = dirt_path.read_bytes()
        dirt = [raw[i : i + 264] for i in range(0, len(raw), 264)]
        rows.append(codec_row(f"Codemasters ({len(dirt)} real datagrams)", dirt, codemasters, args))
        rows.append(live_row(dirt, "codemasters", args))
    gauge = [d for _, d in itertools.islice(SyntheticGauge(GaugeConfig()).datagrams(), 1800)]
    rows.append(codec_row(f"OutGauge ({len(gauge)} synthetic datagrams)", gauge, outgauge, args))
    rows.append(live_row(gauge, "outgauge", args))
    return rows


def report_games(args: argparse.Namespace) -> None:
    print("\nThe single-record games (see bench/decode_games.py):")
    print(table(["item", "target", "result", "verdict"], measure(args)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7, help="repeats per measurement, best kept (default 7)")
    parser.add_argument("--target-ms", type=float, default=1.0, help="duration of one repeat (default 1 ms)")
    parser.add_argument("--budget-ms", type=float, default=100.0, help="time per measurement (default 100 ms)")
    args = parser.parse_args(argv)
    print("bench/decode_games.py:", " ".join(sys.argv[1:]) or "(defaults)")
    print(machine_line())
    report_games(args)


if __name__ == "__main__":
    main()
