"""`rigbridge synth`: the synthetic race sent as real UDP, paced like the game sends it.

The race is generated frame by frame while it is sent (no pre-generation), each frame's datagrams in one
burst at `start + t / speed`. When a race ends a new one starts (next seed, new session UID), so `--duration`
can be as long as you like. `send_race()` is shared with `rigbridge demo`.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TextIO

from bridge.games.f1.synth import SynthConfig, SyntheticRace


@dataclass
class SendCounters:
    datagrams: int = 0
    bytes: int = 0
    races: int = 0
    race_time_s: float = 0.0


def endless_frames(config: SynthConfig, counters: SendCounters) -> Iterator[tuple[float, list[bytes]]]:
    """Frames of one race after another, on one continuous timeline."""
    offset = 0.0
    seed = config.seed
    while True:
        race = SyntheticRace(replace(config, seed=seed))
        counters.races += 1
        last = 0.0
        for t, datagrams in race.frames():
            last = t
            yield offset + t, datagrams
        offset += last + 1.0  # a second of silence between sessions, like a restart from the menu
        seed += 1


async def send_race(
    config: SynthConfig,
    target: tuple[str, int],
    *,
    speed: float = 1.0,
    duration: float | None = None,
    counters: SendCounters | None = None,
    stop: asyncio.Event | None = None,
) -> SendCounters:
    """Send frames over UDP until `duration` wall seconds pass (None: forever) or `stop` is set."""
    counters = counters or SendCounters()
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    start = time.monotonic()
    try:
        for t, datagrams in endless_frames(config, counters):
            due = start + t / speed
            if duration is not None and due - start > duration:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop is not None and stop.is_set():
                break
            for data in datagrams:
                try:
                    sock.sendto(data, target)
                except (BlockingIOError, ConnectionRefusedError):
                    continue  # nobody listening yet, or a full buffer: a game would not wait either
                counters.datagrams += 1
                counters.bytes += len(data)
            counters.race_time_s = t
    finally:
        sock.close()
    return counters


def parse_target(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def synth_main(
    *,
    to: str,
    rate: int,
    cars: int,
    packet_format: int,
    duration: float | None,
    speed: float,
    seed: int,
    laps: int,
    err: TextIO = sys.stderr,
) -> int:
    try:
        target = parse_target(to)
        config = SynthConfig(packet_format=packet_format, cars=cars, rate_hz=rate, laps=laps, seed=seed)
        if speed <= 0:
            raise ValueError("--speed must be greater than 0")
    except ValueError as exc:
        print(f"rigbridge synth: {exc}", file=err)
        return 2
    counters = SendCounters()
    print(
        f"rigbridge synth: format {packet_format}, {cars} cars, {rate} Hz, x{speed:g} -> {target[0]}:{target[1]}"
        f"{'' if duration is None else f' for {duration:g} s'} (Ctrl-C stops)",
        file=err,
    )
    try:
        asyncio.run(_with_status(send_race(config, target, speed=speed, duration=duration, counters=counters),
                                 counters, err))
    except KeyboardInterrupt:
        pass
    print(f"\nrigbridge synth: sent {counters.datagrams} datagrams ({counters.bytes / 1e6:.1f} MB), "
          f"{counters.races} race(s)", file=err)
    return 0


async def _with_status(job, counters: SendCounters, err: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
    task = asyncio.ensure_future(job)
    start = clock()
    while not task.done():
        await asyncio.wait({task}, timeout=0.5)
        elapsed = max(clock() - start, 1e-9)
        err.write(
            f"\r{counters.datagrams} datagrams, {counters.datagrams / elapsed:.0f}/s, "
            f"race time {counters.race_time_s:.0f} s, race {counters.races}   "
        )
        err.flush()
    task.result()
