"""Broker load per rig: MQTT messages/s and bytes/s one bridge sends at 60 Hz with 22 cars, as a subscriber sees it.

Two runs, each with its own mosquitto on a free loopback port and a fresh `rigbridge run -c FILE` (rig `bench`):

* `defaults`              every publish setting at its default (`publish.cars: all`, default rates, no
                          include/exclude, no extra deadbands);
* `publish.cars: player`  the same with per-car topics for the player's car only.

One sender process (the one `bench/latency.py` uses, unmodified datagrams this time) plays a synthetic race
(format 2025, 22 cars, 60 Hz; from 10 s after the start, so the field is racing) at real time into the bridge's
UDP port. `mosquitto_sub` subscribed to `rigbridge/#` (and `homeassistant/#`, the discovery prefix) logs every
message with its arrival time and payload length. After `--warmup` seconds the next `--seconds` are counted:
messages/s and bytes/s, where bytes = topic + payload (the MQTT framing adds about 5 to 12 bytes per message,
TCP/IP more). Also counted: the burst when the game starts (messages in the first second of telemetry: every
retained topic of a new session once), the retained messages the broker holds for the rig afterwards (what
every new subscriber to `rigbridge/#` receives at once; `mosquitto_sub --retained-only`) and the Home Assistant
discovery messages (retained, published once per connect).

Run from the project root (about a minute):

    .venv/bin/python bench/broker_load.py     # options: --seconds S, --warmup S

The table is printed last.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from _common import machine_line, table
from latency import BASE, CARS, HA_PREFIX, HZ, PACKET_FORMAT, RIG, Run, count_messages, run_pipeline

CONFIGS = {
    "defaults": "",
    "publish.cars: player": "publish:\n  cars: player\n",
}


def first_second(run: Run, prefix: str) -> int:
    start = run.sender["start_realtime_ns"]
    return count_messages(run.counted, prefix, start, start + 1_000_000_000).messages


def breakdown(name: str, run: Run) -> str:
    count = run.count()
    rows = []
    for group, (n, size) in sorted(count.by_group.items(), key=lambda kv: -kv[1][0]):
        rows.append([group, f"{n / run.seconds:.1f}", f"{size / run.seconds / 1000:.2f}", f"{size / n:.0f}"])
    return f"{name}: messages by topic below {BASE}/{RIG}/ (cars/*/<field> summed over cars)\n" + table(
        ["topic", "msg/s", "kB/s", "bytes/msg"], rows
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="counted seconds per run (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds sent before counting (default 3)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print("bench/broker_load.py:", " ".join(sys.argv[1:]) or "(defaults)",
          f"seconds={args.seconds} warmup={args.warmup}")
    print(machine_line())
    started = time.monotonic()
    runs: dict[str, Run] = {}
    for name, publish in CONFIGS.items():
        runs[name] = run_pipeline(args.seconds, args.warmup, with_floor=False, stamp=False, publish=publish)
    for name, run in runs.items():
        print()
        print(breakdown(name, run))
    rows = []
    for name, run in runs.items():
        count = run.count()
        ha = count_messages(run.counted, f"{HA_PREFIX}/")
        retained = count_messages(run.retained, f"{BASE}/{RIG}/")
        sent = run.sender["datagrams"] * run.seconds / (run.seconds + args.warmup)
        rows.append([
            name,
            f"{count.messages / run.seconds:.0f}",
            f"{count.bytes / run.seconds / 1000:.1f}",
            f"{count.bytes / max(count.messages, 1):.0f}",
            f"{first_second(run, f'{BASE}/{RIG}/')}",
            f"{retained.messages} ({retained.bytes / 1000:.0f} kB)",
            f"{ha.messages} ({ha.bytes / 1000:.0f} kB)",
            f"{sent / run.seconds:.0f}",
            f"{run.bridge_cpu * 100:.1f} %",
        ])  # fmt: skip
    print(f"\nBroker load per rig ({HZ} Hz, {CARS} cars, format {PACKET_FORMAT}, {args.seconds:.0f} s counted per run; "
          f"bytes = topic + payload; ran {time.monotonic() - started:.0f} s):")
    print(table(["settings", "msg/s", "kB/s", "bytes/msg", "first 1 s", "retained", "HA discovery",
                 "datagrams/s in", "bridge CPU"], rows))


if __name__ == "__main__":
    main()
