"""Metrics cost: the bridge's CPU time with and without a Prometheus-like scraper every second, at 60 Hz.

Target (the issue): scraping every second adds <= 1 % of one core to a bridge receiving 60 Hz telemetry.

What runs, all in one go, so every figure comes from the same run:

* a mosquitto on a free loopback port (anonymous, no persistence);
* three `rigbridge run` processes with the default publishing settings: `A` and `B` with metrics enabled on
  their own loopback ports, `off` with metrics disabled;
* a sender process: a synthetic 22-car race (format 2025, 60 Hz, about 355 datagrams/s), generated before the
  clock starts, each frame's datagrams sent to all three bridges at its due time (the bridge served first
  changes from frame to frame), so they all get the same input;
* a scraper in this process (its CPU is not counted): one GET of `/metrics` per second with the headers
  Prometheus sends (`Accept` preferring OpenMetrics, `Accept-Encoding: gzip`).

After a warm-up, the measured time is cut into slots of `--slot` seconds; the scraper serves `A` in one slot
and `B` in the next, alternating, `--seconds` of each. Each bridge's CPU time (user + system, all threads,
from /proc/<pid>/stat, 10 ms ticks) is read at every slot boundary. The scrape cost of a slot is the scraped
bridge's CPU minus the other enabled bridge's in the same slot; its mean over all slots is the result.
Swapping the roles slot by slot cancels any difference between the two processes and follows the machine's
load as it changes. `off` shows what an enabled but unscraped endpoint costs (the event-loop lag probe and the
idle HTTP server) against no metrics at all; that figure compares two processes and is only indicative.

Run from the project root (about 75 s with the defaults: 30 s scraped per bridge; needs mosquitto):

    .venv/bin/python bench/metrics_cost.py      # options: --seconds S, --slot S, --warmup S

The summary line with the target is printed last.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine_line, table  # noqa: E402

TARGET_PCT = 1.0
TRACK_ID = 17  # Austria: a real layout, so laps complete and every metric has a value
CARS = 22
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


# ------------------------------------------------------------------------------------------------------ sender


def send_main(ports: list[int], seconds: float) -> int:
    """The sender process: generate the race, say `ready`, wait for `go` on stdin, then send in real time."""
    from bridge.games.f1.synth import SynthConfig, SyntheticRace

    frames = []
    for t, datagrams in SyntheticRace(SynthConfig(cars=CARS, laps=5, seed=1, track_id=TRACK_ID)).frames():
        if t > seconds:
            break
        frames.append((t, datagrams))
    print("ready", flush=True)
    sys.stdin.readline()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    targets = [("127.0.0.1", p) for p in ports]
    start = time.monotonic()
    for n, (t, datagrams) in enumerate(frames):
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        turn = targets[n % len(targets):] + targets[: n % len(targets)]  # nobody is always served first
        for target in turn:
            for data in datagrams:
                sock.sendto(data, target)
    sock.close()
    return 0


# ------------------------------------------------------------------------------------------------------ bridges


@dataclass
class BridgeProc:
    name: str
    udp_port: int
    metrics_port: int | None
    process: subprocess.Popen[bytes] | None = None
    cpu: list[float] = field(default_factory=list)  # CPU seconds at each slot boundary

    def start(self, directory: Path, broker_port: int) -> None:
        metrics = (
            f"metrics: {{enabled: true, bind: 127.0.0.1, port: {self.metrics_port}}}"
            if self.metrics_port else "metrics: {enabled: false}"
        )
        config = directory / f"{self.name}.yaml"
        config.write_text(
            f"udp: {{bind: 127.0.0.1, port: {self.udp_port}}}\n"
            f"mqtt: {{host: 127.0.0.1, port: {broker_port}, rig: bench-{self.name}}}\n"
            f"{metrics}\n"
            "log: {level: warning}\n"
        )
        log = (directory / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "run", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()

    def mark(self) -> None:
        assert self.process is not None
        self.cpu.append(cpu_seconds(self.process.pid))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def scrape(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return len(response.read())


def wait_for_endpoint(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            scrape(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# ------------------------------------------------------------------------------------------------------ main


def pct(cpu_s: float, wall_s: float) -> float:
    return 100.0 * cpu_s / wall_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds scraped per bridge (default 30)")
    parser.add_argument("--slot", type=int, default=5, help="seconds before the scraper switches (default 5)")
    parser.add_argument("--warmup", type=float, default=5.0, help="traffic before measuring (default 5)")
    parser.add_argument("--send", nargs="+", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        return send_main(args.send, args.duration)
    if MOSQUITTO is None:
        sys.exit("bench: mosquitto is not installed (Debian package: mosquitto)")

    print(machine_line())
    total = args.warmup + 2 * args.seconds + 2 * args.slot + 3.0
    with tempfile.TemporaryDirectory(prefix="rigbridge-metrics-cost-") as tmp:
        directory = Path(tmp)
        broker_port = free_port()
        (directory / "mosquitto.conf").write_text(
            f"listener {broker_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        broker = subprocess.Popen([MOSQUITTO, "-c", str(directory / "mosquitto.conf")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bridges = [
            BridgeProc("A", free_port(socket.SOCK_DGRAM), free_port()),
            BridgeProc("B", free_port(socket.SOCK_DGRAM), free_port()),
            BridgeProc("off", free_port(socket.SOCK_DGRAM), None),
        ]
        a, b, off = bridges
        sender = None
        scrapes, failures, size = 0, 0, 0
        try:
            time.sleep(0.5)
            for bridge in bridges:
                bridge.start(directory, broker_port)
            sender = subprocess.Popen(
                [sys.executable, __file__, "--send", *(str(x.udp_port) for x in bridges), "--duration", str(total)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
            )
            assert sender.stdout is not None and sender.stdin is not None
            if sender.stdout.readline().strip() != b"ready":
                sys.exit("bench: the sender did not start")
            wait_for_endpoint(a.metrics_port or 0)
            wait_for_endpoint(b.metrics_port or 0)
            time.sleep(1.0)  # `off` has no endpoint to wait for: give it as long as the others took, and more
            for bridge in bridges:
                if bridge.process is None or bridge.process.poll() is not None:
                    sys.exit(f"bench: bridge {bridge.name} exited; see its log")
            sender.stdin.write(b"go\n")
            sender.stdin.flush()
            slots = max(2, 2 * round(args.seconds / max(1, round(args.slot))))
            print(f"60 Hz, {CARS} cars to 3 bridges; warm-up {args.warmup:g} s, then {slots} slots of "
                  f"{args.slot:g} s scraping A and B in turn")
            time.sleep(args.warmup)
            per_slot = max(1, round(args.slot))
            bounds = [time.monotonic()]
            for bridge in bridges:
                bridge.mark()
            for slot in range(slots):
                port = (a if slot % 2 == 0 else b).metrics_port or 0
                for k in range(per_slot):  # one scrape per second, in the middle of each second
                    time.sleep(max(0.0, bounds[-1] + k + 0.5 - time.monotonic()))
                    try:
                        size = scrape(port)
                        scrapes += 1
                    except OSError:
                        failures += 1
                time.sleep(max(0.0, bounds[-1] + per_slot - time.monotonic()))
                bounds.append(time.monotonic())
                for bridge in bridges:
                    bridge.mark()
            sender.wait(total + 30)
        finally:
            if sender is not None and sender.poll() is None:
                sender.kill()
                sender.wait(5)
            for bridge in bridges:
                bridge.stop()
            broker.terminate()
            broker.wait(5)

    def used(bridge: BridgeProc, slot: int) -> float:
        return pct(bridge.cpu[slot + 1] - bridge.cpu[slot], bounds[slot + 1] - bounds[slot])

    n = slots
    scraped = [used(a if i % 2 == 0 else b, i) for i in range(n)]
    other = [used(b if i % 2 == 0 else a, i) for i in range(n)]
    diffs = [x - y for x, y in zip(scraped, other)]
    cost = statistics.fmean(diffs)
    spread = statistics.stdev(diffs) / math.sqrt(n) if n > 1 else 0.0
    base = statistics.fmean(other)  # enabled, not scraped
    none = statistics.fmean(used(off, i) for i in range(n))
    rows = [[f"{i + 1} ({'A' if i % 2 == 0 else 'B'})", f"{used(a, i):.2f}", f"{used(b, i):.2f}",
             f"{used(off, i):.2f}", f"{diffs[i]:+.2f}"] for i in range(n)]
    print()
    print(table(["slot (scraped)", "A %", "B %", "off %", "scraped - other"], rows))
    print()
    print(f"scrapes: {scrapes} ({failures} failed), {size} bytes each")
    print(f"scrape cost: {cost:.2f} % of one core (+/- {spread:.2f}, standard error over {n} slots); "
          f"about {cost * 10:.1f} ms of CPU per scrape")
    print(f"metrics enabled, not scraped: {base:.2f} %; metrics disabled: {none:.2f} % "
          f"(difference {base - none:+.2f} %, between two processes)")
    verdict = "PASS" if cost <= TARGET_PCT else "FAIL"
    print(f"metrics cost: scraping every 1 s adds {cost:.2f} % of one core at 60 Hz "
          f"(bridge {base:.2f} % -> {base + cost:.2f} %, x{(base + cost) / base:.3f}); "
          f"target <= {TARGET_PCT:g} %: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
