"""CPU budget: the bridge's CPU time over wall time, at 20 Hz and 60 Hz, 22 cars, default topics, broker on loopback.

Everything runs as its own process on this machine (the process helpers are in tools/processes.py
and bench/roles.py):

* a real mosquitto on a free loopback port, and `mosquitto_sub` on everything the bridges publish, counting;
* per run, a fresh bridge: `rigbridge run -c FILE` with every publish setting at its default (all cars, default
  rates, Home Assistant discovery on, metrics on a free loopback port, nobody scraping);
* per run, the sender (`--role sender`, this script): a synthetic race (format 2025, 22 cars) generated before
  sending, then sent at real time from 10 s into the session (lights out, cars racing).

The bridge's CPU time is `utime + stime` from `/proc/<pid>/stat`, read when the measured window starts (after
`--warmup` seconds of telemetry: a new session's first datagrams publish every retained topic once) and when it
ends; CPU % = CPU seconds / wall seconds of the window, of one core. The third run repeats 60 Hz with nothing to
publish (`publish.include` matching no topic, Home Assistant discovery off): what is left is receiving, decoding,
the writer and the event loop, so the difference to the default run is what publishing costs. The fourth run
sends nothing: the connected, idle bridge (timers, heartbeat, metrics lag probe). The fifth replaces the bridge
by the floor (`--role receiver`): a bare asyncio UDP receiver that wakes on the socket and reads every waiting
datagram, as the bridge's receiver does, and nothing else; what any asyncio program receiving this stream pays.

The LED comparison: right after the default 60 Hz run (A), 60 Hz with one realtime LED device (B: `lights.realtime`,
DDP to a plain UDP socket in this script that reads, counts and discards the datagrams), then A again, so each B
sits between two A and the machine's drift and noise show in the A runs' spread. The cost of the device is the
mean of the B runs minus the mean of the A runs, against a budget of 0.3 point (issue 17). `--led-pairs N` repeats
the (B, A) pair N times (default 1: A B A, two runs more); `--led-pairs 0` skips the comparison.

Targets (DESIGN.md section 7): <= 2 % of one core at 20 Hz and <= 5 % at 60 Hz, including MQTT.

Run from the project root (about 4.5 minutes, under 4 with `--seconds 25`; `--profile` adds a run of 60 Hz under
cProfile and prints where the time goes):

    .venv/bin/python bench/cpu.py        # options: --seconds S, --warmup S, --led-pairs N, --profile, --keep
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import ROOT, machine_line, table
from roles import bridge_config, wait_logged

from tools.net import free_port
from tools.processes import MOSQUITTO_SUB, Broker, Procs, cpu_seconds, require_mosquitto

SCRIPT = Path(__file__).resolve()
CARS = 22
PACKET_FORMAT = 2025
SEED = 1
RACE_OFFSET_S = 10.0  # lights out has happened: the field is racing
TARGETS = {20: 2.0, 60: 5.0}  # % of one core
QUIET = "publish:\n  include: [nothing]\nhomeassistant:\n  enabled: false\n"
LED_BUDGET = 0.3  # points of one core that one realtime LED device at 60 Hz may add (issue 17)


# ----------------------------------------------------------------------------------------------------------
# Role: sender


def sender_main(args: argparse.Namespace) -> None:
    """Generate the race, say `generated`, wait for `go`, send it at real time, print a JSON summary."""
    from bridge.games.f1.synth import SynthConfig, SyntheticRace

    config = SynthConfig(packet_format=PACKET_FORMAT, cars=CARS, rate_hz=args.rate, laps=5, seed=SEED)
    end = RACE_OFFSET_S + args.duration
    frames = []
    for t, datagrams in SyntheticRace(config).frames():
        if t >= end:
            break
        if t >= RACE_OFFSET_S:
            frames.append((t, datagrams))
    print("generated", flush=True)
    sys.stdin.readline()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    target = ("127.0.0.1", args.udp_port)
    start = time.monotonic()
    t0 = frames[0][0]
    sent = late = 0
    for t, datagrams in frames:
        delay = start + (t - t0) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.005:
            late += 1
        for data in datagrams:
            sock.sendto(data, target)
        sent += len(datagrams)
    print(json.dumps({"datagrams": sent, "frames": len(frames), "late_frames": late,
                      "seconds": time.monotonic() - start}), flush=True)


# ----------------------------------------------------------------------------------------------------------
# Role: receiver (the floor)


def receiver_main(args: argparse.Namespace) -> None:
    """A bare asyncio UDP receiver, as the bridge receives: wake on the socket, read every waiting datagram."""
    import asyncio

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", args.udp_port))
        sock.setblocking(False)
        received = 0

        def drain() -> None:
            nonlocal received
            while True:
                try:
                    sock.recvfrom(2048)
                except BlockingIOError:
                    return
                received += 1

        loop.add_reader(sock.fileno(), drain)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()

    asyncio.run(main())


# ----------------------------------------------------------------------------------------------------------
# The LED device


class LedDevice:
    """A realtime LED device as the bridge sees one: a loopback UDP socket that reads every datagram, counts it and
    throws it away (a thread of this process, not the bridge's)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)  # so the thread sees `close` soon
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name="led-device", daemon=True)
        self._thread.start()

    def config(self) -> str:
        """The `lights.realtime` section that points a bridge at this device."""
        return f"lights:\n  realtime:\n    - target: 127.0.0.1:{self.port}\n      protocol: ddp\n"

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                self.sock.recv(2048)
            except TimeoutError:
                continue
            self.received += 1

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.sock.close()


# ----------------------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Result:
    name: str
    rate: int
    quiet: bool
    cpu_pct: float  # of one core
    datagrams_per_s: float
    messages_per_s: float
    broker_cpu_pct: float
    sender: dict[str, Any]
    groups: dict[str, float] = field(default_factory=dict)  # messages/s by first topic level under the rig
    profile: str = ""
    floor: bool = False
    leds: bool = False  # one realtime LED device configured
    led_datagrams_per_s: float = 0.0  # what the device received over the measured window
    repeat: bool = False  # a repeat of a run above, for the LED comparison: not its headline figure

    @property
    def us_per_datagram(self) -> float:
        return self.cpu_pct / 100 * 1e6 / self.datagrams_per_s if self.datagrams_per_s else float("nan")


def measure(procs: Procs, broker: Broker, counter: Path, run: int, name: str, rate: int, quiet: bool,
            args: argparse.Namespace, profile: Path | None = None, floor: bool = False, leds: LedDevice | None = None,
            repeat: bool = False) -> Result:  # fmt: skip
    """One run: a fresh bridge (or, `floor`, the bare receiver) and a sender; CPU over the measured window.
    With `leds`, the bridge also drives that LED device."""
    rig = f"cpu-{run}"  # each run its own topics
    udp_port = free_port(socket.SOCK_DGRAM)
    extra = (QUIET if quiet else "") + (leds.config() if leds else "")
    config = bridge_config(procs.directory / f"{rig}.yaml", udp_port, broker.port, rig, extra)
    python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    if floor:
        bridge = procs.start([sys.executable, str(SCRIPT), "--role", "receiver", "--udp-port", str(udp_port)], rig,
                             cwd=ROOT)  # fmt: skip
    else:
        bridge = procs.start([*python, "-m", "bridge", "run", "-c", str(config)], rig, cwd=ROOT)
    sender = None
    if rate:  # rate 0: no telemetry at all (the bridge connected and idle)
        sender = procs.start([sys.executable, str(SCRIPT), "--role", "sender", "--udp-port", str(udp_port),
                              "--rate", str(rate), "--duration", str(args.warmup + args.seconds + 2)],
                             f"{rig}-sender", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    wait_logged(procs, {rig: bridge}, 30, 0.05, "ready" if floor else " connected")
    if sender is not None:
        assert sender.stdin is not None and sender.stdout is not None
        if sender.stdout.readline().strip() != "generated":
            sys.exit("bench: the sender did not start")
        sender.stdin.write("go\n")
        sender.stdin.flush()
    time.sleep(args.warmup)
    assert broker.process is not None
    led0 = leds.received if leds else 0
    c0, b0, w0, r0 = cpu_seconds(bridge.pid), cpu_seconds(broker.process.pid), time.monotonic(), time.time()
    time.sleep(args.seconds)
    c1, b1, w1, r1 = cpu_seconds(bridge.pid), cpu_seconds(broker.process.pid), time.monotonic(), time.time()
    led1 = leds.received if leds else 0
    summary = {"datagrams": 0, "seconds": 1.0, "late_frames": 0}
    if sender is not None:
        assert sender.stdout is not None
        summary = json.loads(sender.stdout.readline())
        sender.wait(30)
    bridge.send_signal(signal.SIGTERM)
    if bridge.wait(30) != 0:
        log = procs.directory / f"{rig}.log"
        sys.exit(f"bench: rigbridge exited with {bridge.returncode}:\n{log.read_text(errors='replace')}")
    time.sleep(0.3)
    groups: Counter[str] = Counter()
    root = f"rigbridge/{rig}/"
    for line in counter.read_bytes().decode("utf-8", "replace").split("\n"):
        stamp, _, topic = line.partition(" ")
        if not stamp or not r0 <= float(stamp) <= r1:
            continue
        if topic.startswith(root):
            parts = topic[len(root) :].split("/")
            groups["cars/*" if parts[0] == "cars" else parts[0]] += 1
        elif topic.startswith("homeassistant/"):
            groups["homeassistant (discovery)"] += 1
    wall = w1 - w0
    return Result(name, rate, quiet or floor, 100 * (c1 - c0) / wall, summary["datagrams"] / summary["seconds"],
                  sum(groups.values()) / wall, 100 * (b1 - b0) / wall, summary,
                  groups={k: v / wall for k, v in groups.items()}, floor=floor, leds=leds is not None,
                  led_datagrams_per_s=(led1 - led0) / wall, repeat=repeat)  # fmt: skip


def profile_table(path: Path, top: int = 18) -> str:
    """Where a profiled bridge spent its CPU: the functions with the most own time, waiting on epoll left out."""
    import pstats

    stats = pstats.Stats(str(path))
    rows = []
    total = 0.0
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "of 'select.epoll' objects" in function:
            continue
        total += own
        rows.append((own, calls, cumulative, f"{Path(filename).name}:{line}({function})"))
    rows.sort(reverse=True)
    lines = [f"  {own / total * 100:5.1f} %  {calls:>8}  {name}" for own, calls, _, name in rows[:top]]
    return "\n".join([f"  own time of the busiest functions (share of {total:.1f} s busy; calls):", *lines])


ROLES = {"sender": sender_main, "receiver": receiver_main}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per run (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of telemetry before measuring (default 5)")
    parser.add_argument("--led-pairs", type=int, default=1, metavar="N",
                        help="after the 60 Hz run, N pairs of (60 Hz with one realtime LED device, 60 Hz again) "
                             "for the LED device's cost (default 1; 0 skips it)")
    parser.add_argument("--profile", action="store_true", help="also run 60 Hz under cProfile and show where")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--role", choices=tuple(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--udp-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=40.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role:
        return ROLES[args.role](args)
    if args.led_pairs < 0:
        sys.exit(f"bench: --led-pairs must be 0 or more, not {args.led_pairs}")
    require_mosquitto()
    print("bench/cpu.py:", " ".join(sys.argv[1:]) or "(defaults)", f"seconds={args.seconds} warmup={args.warmup}")
    started = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="rigbridge-cpu-"))
    procs = Procs(directory)
    results: list[Result] = []
    try:
        broker = Broker(procs)
        broker.start()
        counter = directory / "subscriber.txt"
        with counter.open("wb") as out:
            procs.start([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-V", "mqttv5",
                         "-t", "rigbridge/#", "-t", "homeassistant/#", "-F", "%U %t"],
                        "subscriber", stdout=out, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(0.5)
        # name, rate, nothing published, one realtime LED device, a repeat (for the LED comparison)
        runs = [("20 Hz", 20, False, False, False), ("60 Hz", 60, False, False, False)]
        for _ in range(args.led_pairs):
            runs += [("60 Hz, one realtime LED device", 60, False, True, False),
                     ("60 Hz (again)", 60, False, False, True)]  # fmt: skip
        runs += [("60 Hz, nothing published", 60, True, False, False), ("no telemetry (idle)", 0, False, False, False)]
        for run, (name, rate, quiet, with_leds, repeat) in enumerate(runs, 1):
            device = LedDevice() if with_leds else None
            try:
                results.append(measure(procs, broker, counter, run, name, rate, quiet, args, leds=device,
                                       repeat=repeat))  # fmt: skip
            finally:
                if device:
                    device.close()
            leds = f", LED datagrams {results[-1].led_datagrams_per_s:.1f}/s" if device else ""
            print(f"  {name}: {results[-1].cpu_pct:.1f} % of one core{leds}", flush=True)
        floor = measure(procs, broker, counter, len(runs) + 1, "floor: bare asyncio UDP receiver, 60 Hz", 60,
                        True, args, floor=True)  # fmt: skip
        results.append(floor)
        print(f"  {floor.name}: {floor.cpu_pct:.1f} % of one core", flush=True)
        if args.profile:
            path = directory / "bridge.prof"
            profiled = measure(procs, broker, counter, len(runs) + 2, "60 Hz under cProfile", 60, False, args,
                               profile=path)  # fmt: skip
            profiled.profile = profile_table(path)
            results.append(profiled)
    finally:
        procs.close()
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    report(results)
    print(f"(ran {time.monotonic() - started:.0f} s)")


def report(results: list[Result]) -> None:
    for r in results:
        if r.profile:
            print()
            print(f"{r.name}: {r.cpu_pct:.1f} % of one core with the profiler's own overhead")
            print(r.profile)
    print()
    print(machine_line())
    rows = []
    for r in results:
        if r.profile:
            continue
        target = TARGETS.get(r.rate) if not r.quiet else None
        verdict = "" if target is None else ("PASS" if r.cpu_pct <= target else f"FAIL ({r.cpu_pct / target:.1f}x)")
        cars = f", {CARS} cars" if r.rate else ""
        per_datagram = f"{r.us_per_datagram:.0f}" if r.datagrams_per_s else "-"
        rows.append((f"{r.name}{cars}", f"<= {target:.0f} %" if target else "-", f"{r.cpu_pct:.1f} %",
                     f"{r.datagrams_per_s:.0f}", f"{r.messages_per_s:.0f}", per_datagram,
                     f"{r.broker_cpu_pct:.1f} %", f"{r.sender['late_frames']}", verdict))  # fmt: skip
    by = {(r.rate, r.quiet): r for r in results if not (r.profile or r.floor or r.leds or r.repeat)}
    print(table(("run", "target", "bridge CPU", "datagrams/s", "messages/s", "us/datagram", "mosquitto CPU",
                 "late frames", ""), rows, right=(False, True, True, True, True, True, True, True, False)))
    for r in results:
        if r.messages_per_s >= 1 and not r.profile:
            mix = ", ".join(f"{k} {v:.0f}" for k, v in sorted(r.groups.items(), key=lambda kv: -kv[1]))
            print(f"messages/s at {r.name}: {mix}")
    full, quiet = by.get((60, False)), by.get((60, True))
    if full and quiet:
        share = (full.cpu_pct - quiet.cpu_pct) / full.cpu_pct * 100
        per_message = (full.cpu_pct - quiet.cpu_pct) / 100 * 1e6 / full.messages_per_s if full.messages_per_s else 0
        print(f"publishing at 60 Hz (reading and rendering the values, the MQTT client, the socket): "
              f"{full.cpu_pct - quiet.cpu_pct:.1f} % of one core ({share:.0f} % of the bridge's CPU), about "
              f"{per_message:.0f} us per message; receiving, decoding, the writer and the loop: {quiet.cpu_pct:.1f} %")
    low = by.get((20, False))
    if full and low and full.datagrams_per_s > low.datagrams_per_s:
        slope = (full.cpu_pct - low.cpu_pct) / 100 * 1e6 / (full.datagrams_per_s - low.datagrams_per_s)
        fixed = low.cpu_pct - slope * low.datagrams_per_s / 1e4
        print(f"20 Hz -> 60 Hz: {slope:.0f} us of CPU per extra datagram (receiving, decoding, the writer, and the "
              f"realtime messages it causes); what does not grow with the packet rate (rate classes, time-driven "
              f"messages, timers): about {fixed:.1f} % of one core")
    floor = next((r for r in results if r.floor), None)
    if full and floor:
        print(f"60 Hz against the floor (a bare asyncio receiver of the same datagrams, {floor.cpu_pct:.1f} %): "
              f"{full.cpu_pct / floor.cpu_pct:.1f}x; the bridge's own work above it: "
              f"{full.cpu_pct - floor.cpu_pct:.1f} % of one core")
    led_report(results)


def led_report(results: list[Result]) -> None:
    """The LED device's cost: the 60 Hz runs with one realtime LED device against the plain 60 Hz runs around them."""
    with_leds = [r for r in results if r.leds]
    plain = [r for r in results if r.rate == 60 and not (r.quiet or r.floor or r.profile or r.leds)]
    if not with_leds or not plain:
        return
    a = sum(r.cpu_pct for r in plain) / len(plain)
    b = sum(r.cpu_pct for r in with_leds) / len(with_leds)
    runs = ", ".join(f"{'B' if r.leds else 'A'} {r.cpu_pct:.2f}" for r in results if r in plain or r in with_leds)
    spread = max(r.cpu_pct for r in plain) - min(r.cpu_pct for r in plain)
    sent = sum(r.led_datagrams_per_s for r in with_leds) / len(with_leds)
    verdict = "PASS" if b - a <= LED_BUDGET else "FAIL"
    print(f"one realtime LED device at 60 Hz (DDP, {sent:.1f} LED datagrams/s received), in run order "
          f"(A: 60 Hz, B: with the device): {runs} % of one core")
    print(f"  the device's cost: B {b:.2f} - A {a:.2f} = {b - a:+.2f} point (budget +{LED_BUDGET} point): {verdict}; "
          f"spread of the A runs (noise): {spread:.2f} point")


if __name__ == "__main__":
    main()
