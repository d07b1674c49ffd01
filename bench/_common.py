"""Shared helpers for the benchmarks: the real captures, the machine, and one timing loop.

Timing rules used by every benchmark here:

* every variant is a list of `(callable, argument)` pairs run by the same loop (`for fn, arg in calls: fn(arg)`),
  so two variants differ only in what they call;
* the number of passes is calibrated per variant so one repeat lasts about `target_ms`;
* variants measured together are interleaved repeat by repeat (their order rotates), and the best (minimum) of
  the repeats is kept: the least disturbed run is the most repeatable figure. Short repeats, many of them, find
  the quiet moments on a shared machine; a slow variant (one pass over a long list) gets fewer repeats, as many as
  fit in `budget_ms` but never fewer than `MIN_REPEAT`;
* the garbage collector is off while a repeat runs; it catches up between repeats, outside the timed region, so
  a collection is never charged to a variant.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks run as scripts: make the project's tools importable

from tools.captures import captures_root  # noqa: E402

PARSER_DIR = "f1-game-packet-parser"
FORMATS = (2023, 2024)
# Hand-edited event files with the wrong length (see the captures' README): not real datagrams.
SUSPECT_WRONG_LENGTH = frozenset({"2024-03-RDFL.bin", "2024-03-SCAR.bin"})

MIN_REPEAT = 5

Calls = Sequence[tuple[Callable[[Any], Any], Any]]


# ----------------------------------------------------------------------------------------------------------
# Real captures


@dataclass(frozen=True)
class Capture:
    """One real datagram: `2024-06.bin` is format 2024, packet id 6; events carry their 4-letter code."""

    name: str
    packet_format: int
    packet_id: int
    code: str  # event code, "" for other packets
    data: bytes

    @property
    def label(self) -> str:
        return self.name.removesuffix(".bin")


def require_parser_captures() -> Path:
    """The folder of full datagrams, or exit with a message saying how to provide it."""
    root = captures_root()
    folder = root / PARSER_DIR if root is not None else None
    if folder is None or not any(folder.glob("*.bin")):
        sys.exit(
            "bench: real game captures not found.\n"
            f"  Looked in $RIGBRIDGE_CAPTURES and {ROOT.parent / 'shared' / 'captures'} for {PARSER_DIR}/*.bin.\n"
            "  Set RIGBRIDGE_CAPTURES to the folder that holds f1-game-packet-parser/."
        )
    return folder


def load_captures(formats: Sequence[int] = FORMATS) -> list[Capture]:
    """Every real datagram of the given formats, sorted by name, suspects left out."""
    folder = require_parser_captures()
    out = []
    for path in sorted(folder.glob("*.bin")):
        if path.name in SUSPECT_WRONG_LENGTH:
            continue
        parts = path.stem.split("-")
        fmt, pid = int(parts[0]), int(parts[1])
        if fmt in formats:
            out.append(Capture(path.name, fmt, pid, parts[2] if len(parts) > 2 else "", path.read_bytes()))
    if not out:
        sys.exit(f"bench: no datagrams of formats {list(formats)} in {folder}")
    return out


# ----------------------------------------------------------------------------------------------------------
# Machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    return (
        f"machine: nproc={os.cpu_count()}, CPU {cpu_model()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()}"
    )


# ----------------------------------------------------------------------------------------------------------
# Timing


def _run(calls: Calls, passes: int) -> int:
    """Nanoseconds for `passes` passes over `calls`, with the collector off."""
    gc.disable()
    try:
        start = perf_counter_ns()
        for _ in range(passes):
            for fn, arg in calls:
                fn(arg)
        return perf_counter_ns() - start
    finally:
        gc.enable()


def calibrate(calls: Calls, target_ms: float) -> int:
    """Passes needed for one repeat to last about `target_ms` (at least one)."""
    passes = 1
    while True:
        elapsed = _run(calls, passes)
        if elapsed >= target_ms * 1e6 or passes >= 1 << 24:
            break
        passes *= 2 if elapsed * 4 >= target_ms * 1e6 else 8
    scale = target_ms * 1e6 / max(elapsed, 1)
    return max(1, int(passes * scale))


def best_of(variants: dict[str, Calls], repeat: int, target_ms: float, budget_ms: float) -> dict[str, float]:
    """Nanoseconds per call of each variant: best of up to `repeat` interleaved repeats."""
    names = list(variants)
    passes = {name: calibrate(variants[name], target_ms) for name in names}
    repeats = {}
    for name in names:
        one_ms = _run(variants[name], passes[name]) / 1e6
        repeats[name] = min(repeat, max(MIN_REPEAT, int(budget_ms / max(one_ms, 1e-3))))
    best = {name: float("inf") for name in names}
    for r in range(max(repeats.values())):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if r >= repeats[name]:
                continue
            calls = variants[name]
            per_call = _run(calls, passes[name]) / (passes[name] * len(calls))
            best[name] = min(best[name], per_call)
    return best


def repeated(fn: Callable[[Any], Any], arg: Any, times: int = 20) -> list[tuple[Callable[[Any], Any], Any]]:
    """The same call `times` times: a single-item variant with little outer-loop overhead per call."""
    return [(fn, arg)] * times


# ----------------------------------------------------------------------------------------------------------
# Formatting


def fmt_ns(ns: float) -> str:
    """`850 ns`, `12.4 us`, `132 us`, `1.32 ms` (three significant digits at most)."""
    if ns < 999.5:
        return f"{ns:.0f} ns"
    if ns < 999_500:
        return f"{ns / 1_000:.3g} us" if ns < 99_950 else f"{ns / 1_000:.0f} us"
    return f"{ns / 1_000_000:.3g} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    """A plain-text table, first column left-aligned and the rest right-aligned unless told otherwise."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = list(right) if right is not None else [False] + [True] * (len(headers) - 1)

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if a else c.ljust(w) for c, w, a in zip(row, widths, align)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])
