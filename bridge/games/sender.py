"""Sending a synthetic race as real UDP, paced like a game sends it: shared by every game's `rigbridge synth`.

A game's generator is a `make_race(config)` whose result has `frames()`: (send time, datagrams of that frame),
generated while they are sent (no pre-generation), each frame's datagrams in one burst at `start + t / speed`.
When a race ends a new one starts (next seed), so `--duration` can be as long as you like.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol, TextIO

from bridge.games.synth_plan import SynthOptions, SynthPlan
from bridge.ingest.forward import format_hostport, resolve_target
from bridge.ingest.record import parse_target
from bridge.limits import duration_problem, speed_problem


class Race(Protocol):
    def frames(self) -> Iterable[tuple[float, list[bytes]]]: ...


MakeRace = Callable[[Any], Race]  # a game's generator, from a dataclass config that has a `seed`


@dataclass
class SendCounters:
    datagrams: int = 0
    bytes: int = 0
    races: int = 0
    race_time_s: float = 0.0
    send_errors: int = 0
    last_error: str = ""


def endless_frames(make_race: MakeRace, config: Any, counters: SendCounters) -> Iterator[tuple[float, list[bytes]]]:
    """Frames of one race after another, on one continuous timeline."""
    offset = 0.0
    seed = config.seed
    while True:
        race = make_race(replace(config, seed=seed))
        counters.races += 1
        last = 0.0
        for t, datagrams in race.frames():
            last = t
            yield offset + t, datagrams
        offset += last + 1.0  # a second of silence between sessions, like a restart from the menu
        seed += 1


async def send_frames(
    make_race: MakeRace,
    config: Any,
    target: tuple[str, int],
    *,
    speed: float = 1.0,
    duration: float | None = None,
    counters: SendCounters | None = None,
    stop: asyncio.Event | None = None,
) -> SendCounters:
    """Send frames over UDP until `duration` wall seconds pass (None: forever) or `stop` is set.

    Raises OSError when `target` cannot be resolved, or when the very first send fails (EACCES for a broadcast
    address, no route); later send errors are counted in `counters` and sending goes on, as a game's would.
    """
    counters = counters or SendCounters()
    family, address = resolve_target(*target)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    start = time.monotonic()
    try:
        for t, datagrams in endless_frames(make_race, config, counters):
            due = start + t / speed
            # The wall clock bounds it too, for when generating frames cannot keep up with `speed`.
            if duration is not None and (due - start > duration or time.monotonic() - start > duration):
                break
            delay = due - time.monotonic()
            await asyncio.sleep(max(delay, 0))  # also when behind: the status line and `stop` need their turn
            if stop is not None and stop.is_set():
                break
            for data in datagrams:
                try:
                    sock.sendto(data, address)
                except (BlockingIOError, ConnectionRefusedError):
                    continue  # nobody listening yet, or a full buffer: a game would not wait either
                except OSError as exc:
                    if counters.datagrams == 0:
                        raise
                    counters.send_errors += 1
                    counters.last_error = exc.strerror or str(exc)
                    continue
                counters.datagrams += 1
                counters.bytes += len(data)
            counters.race_time_s = t
    finally:
        sock.close()
    return counters


def synth_command(
    plan: Callable[[SynthOptions], SynthPlan],
    options: SynthOptions,
    *,
    to: str,
    duration: float | None,
    speed: float,
    err: TextIO = sys.stderr,
) -> int:
    """The body of `rigbridge synth` for any game: check the arguments (each bad one named in one line, exit 2),
    send with a live status line, then a summary. `plan(options)` raises ValueError for a bad game option."""
    try:
        target = parse_target(to)
    except ValueError as exc:
        print(f"rigbridge synth: --to {to!r}: {exc}", file=err)
        return 2
    try:
        chosen = plan(options)
        if problem := speed_problem(speed):
            raise ValueError(f"--speed {problem}")
        if duration is not None and (problem := duration_problem(duration)):
            raise ValueError(f"--duration {problem}")
    except ValueError as exc:
        print(f"rigbridge synth: {exc}", file=err)
        return 2
    label = format_hostport(*target)
    try:
        resolve_target(*target)
    except OSError as exc:
        print(f"rigbridge synth: --to {to}: cannot resolve {target[0]}: {exc.strerror or exc}", file=err)
        return 2
    counters = SendCounters()
    print(
        f"rigbridge synth: {chosen.describe}, x{speed:g} -> {label}"
        f"{'' if duration is None else f' for {duration:g} s'} (Ctrl-C stops)",
        file=err,
    )
    job = send_frames(chosen.make_race, chosen.config, target, speed=speed, duration=duration, counters=counters)
    try:
        asyncio.run(with_status(job, counters, err))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"\nrigbridge synth: cannot send to {label}: {exc.strerror or exc}", file=err)
        return 1
    print(f"\nrigbridge synth: sent {counters.datagrams} datagrams ({counters.bytes / 1e6:.1f} MB), "
          f"{counters.races} race(s)", file=err)
    if counters.send_errors:
        print(f"rigbridge synth: {counters.send_errors} datagrams could not be sent ({counters.last_error})",
              file=err)
        return 1
    return 0


async def with_status(
    job: Awaitable[Any], counters: SendCounters, err: TextIO, clock: Callable[[], float] = time.monotonic
) -> None:
    task = asyncio.ensure_future(job)
    start = clock()
    while not task.done():
        await asyncio.wait({task}, timeout=0.5)
        elapsed = max(clock() - start, 1e-9)
        err.write(
            f"\r{counters.datagrams} datagrams, {counters.datagrams / elapsed:.0f}/s, "
            f"race time {counters.race_time_s:.0f} s, race {counters.races}"
            f"{f', {counters.send_errors} send errors ({counters.last_error})' if counters.send_errors else ''}   "
        )
        err.flush()
    task.result()
