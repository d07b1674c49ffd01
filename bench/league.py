"""League load: N rigs into site brokers bridged into a central broker, all on this machine, measured at the centre.

The brokers are the shipped recipe (`mosquitto/league/`: site.conf, central.conf and their ACLs, TLS between site
and centre, an account per rig), laid out by the same code as `tests/deploy/test_league.py` with `--per-site` rigs
per site (rig01, rig02... at site1, site2...). Every rig is a `rigbridge run` process publishing to its site broker.
One more rig (rig09 of central.acl, `rigbridge/remote/rig09/`) connects to the central broker directly: the same
datagrams through no bridge, for the latency comparison.

One sender process plays a synthetic race (format 2025, 22 cars, 60 Hz; from 10 s after the start, the field racing)
at real time to every rig at once, so every rig starts its session in the same second (the burst). Only rig01 and
the direct rig get datagrams stamped as `bench/latency.py` stamps them (a sequence number in the player's rev-light
bits, so their `lights/rev_bits` changes on every frame); the other rigs get the race unchanged, and the message
rates are taken from them. At the centre, `mosquitto_sub` (the central reader account) counts everything under
`rigbridge/#`, and a subscriber stamps rig01's and the direct rig's rev bits on arrival.

Measured, per setting (defaults, then `publish.cars: player`): messages/s and kB/s at the centre (all rigs, and per
unstamped rig), the first second after every rig started at once, the retained messages the centre holds, the
rev-light latency p50/p99 through a site bridge against the direct connection, CPU (% of one core) and RSS of the
brokers, the rigs' CPU, and how busy the whole machine was (from /proc/stat): when it is near 100 %, the machine,
not the design, is the limit, and the figures say so.

Run from the project root (65 s for 12 rigs; the rigs alone take about 5 % of a core each at 60 Hz, so on 2
shared cores a run with fewer than the default 20 says more about the design than about the machine):

    .venv/bin/python bench/league.py --rigs 8 --per-site 4     # options: --seconds S, --warmup S, --keep
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import machine_line, table
from latency import Counted, Run, count_messages, latencies, ms, parse_counted, stats
from roles import CARS, HZ, expect, sender_role, start_bridges, start_role, stop_role, subscriber_role

from tests.deploy.league_helpers import READER, League, password, rig_config
from tools.net import free_port
from tools.processes import MOSQUITTO_SUB, Procs, cpu_seconds, require_mosquitto, rss_mb

SCRIPT = Path(__file__).resolve()
SETTINGS = {"defaults": "", "publish.cars: player": "publish: {cars: player}\n"}
DIRECT = "rig09"  # central.acl's rig without a site broker
DIRECT_ROOT = f"rigbridge/remote/{DIRECT}"


# ----------------------------------------------------------------------------------------------------------
# Role: sender


def sender_main(args: argparse.Namespace) -> None:
    """The race to every port at once, stamped for the first `--stamped` ports; writes the send times."""
    sender_role([int(p) for p in args.ports.split(",")], args.stamped, args.warmup, args.seconds, Path(args.out),
                sndbuf=8 << 20)  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# Role: subscriber (arrival stamps, with an account)


def subscriber_main(args: argparse.Namespace) -> None:
    subscriber_role(args.broker_port, args.topics.split(","), Path(args.out), "bench-league-subscriber",
                    account=(READER, password(READER)))  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# The parent


def reader_sub(port: int, *extra: str) -> list[str]:
    assert MOSQUITTO_SUB is not None
    return [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "-u", READER, "-P", password(READER), "-V", "mqttv5",
            "-F", "%U\t%l\t%t", *extra]  # fmt: skip


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class LeagueRun:
    layout: dict[str, list[str]]
    latency: Run  # sender times and rev-bits arrivals, in bench/latency.py's form
    counted: Counted
    retained: Counted
    seconds: float
    cpu: dict[str, float]  # name -> fraction of one core in the window
    rss: dict[str, float]  # broker -> MB at the end
    machine_busy: float  # fraction of all cores
    load: tuple[str, str]  # /proc/loadavg before and after


def run_league(n: int, per_site: int, publish: str, seconds: float, warmup: float, keep: bool) -> LeagueRun:
    require_mosquitto()
    directory = Path(tempfile.mkdtemp(prefix="rigbridge-league-"))
    procs = Procs(directory)
    names = [rig for rig in (f"rig{i:02d}" for i in range(1, n + 2)) if rig != DIRECT][:n]
    layout = {f"site{s + 1}": names[s * per_site : (s + 1) * per_site] for s in range((n + per_site - 1) // per_site)}
    league = League(directory / "brokers", layout)
    try:
        league.start()
        central = league.central.port
        counter_path = directory / "count.txt"
        with counter_path.open("wb") as out:
            procs.start(reader_sub(central, "-q", "1", "-t", "rigbridge/#"), "counter", stdout=out,
                        stderr=subprocess.DEVNULL)  # fmt: skip
        first = f"rigbridge/site1/{names[0]}"
        topics = [f"{first}/lights/rev_bits", f"{DIRECT_ROOT}/lights/rev_bits"]
        subscriber = start_role(procs, SCRIPT, "subscriber", "--broker-port", str(central),
                                "--topics", ",".join(topics), "--out", str(directory / "arrivals.json"))  # fmt: skip
        expect(subscriber, "ready", 20, "the subscriber")

        ports = {rig: free_port(socket.SOCK_DGRAM) for rig in [names[0], DIRECT, *names[1:]]}
        configs = {rig: rig_config(directory / "rigs", league.port_of(rig), rig, ports[rig], publish) for rig in names}
        configs[DIRECT] = rig_config(directory / "rigs", central, DIRECT, ports[DIRECT], publish,
                                     base_topic="rigbridge/remote")  # fmt: skip
        rigs = start_bridges(procs, configs, 30 + 3 * len(configs), 0.2)

        brokers = {"central": league.central.process, **{s: b.process for s, b in league.sites.items()}}
        pids = {**{name: p.pid for name, p in brokers.items() if p is not None}, **{r: p.pid for r, p in rigs.items()}}
        sender = start_role(procs, SCRIPT, "sender", "--ports", ",".join(map(str, ports.values())), "--stamped", "2",
                            "--seconds", str(seconds), "--warmup", str(warmup), "--out", str(directory / "sent.json"))
        expect(sender, "generated", 120, "the sender")
        load_before = Path("/proc/loadavg").read_text().split()[0]
        time.sleep(0.2 + warmup)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"sender": cpu_seconds(sender.pid)}
        busy0, t0 = busy_jiffies(), time.monotonic()
        expect(sender, "done", seconds + warmup + 120, "the sender")
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"sender": cpu_seconds(sender.pid)}
        busy1, t1 = busy_jiffies(), time.monotonic()
        load_after = Path("/proc/loadavg").read_text().split()[0]
        rss = {name: rss_mb(pid) for name, pid in pids.items() if name in brokers}
        time.sleep(1.0)  # the last messages reach the centre
        arrivals = [tuple(a) for a in stop_role(subscriber, "the subscriber", directory / "arrivals.json")]
        sent = json.loads((directory / "sent.json").read_text())
        retained = subprocess.run(reader_sub(central, "-t", "rigbridge/#", "--retained-only", "-W", "3"),
                                  capture_output=True, timeout=60).stdout  # fmt: skip
        lo, hi = sent["window_realtime_ns"]
        elapsed = t1 - t0
        latency = Run(sent, arrivals, [], [], (hi - lo) / 1e9, 0.0, None)  # type: ignore[arg-type]
        return LeagueRun(
            layout, latency, parse_counted(counter_path.read_bytes()), parse_counted(retained), (hi - lo) / 1e9,
            {name: (cpu1[name] - cpu0[name]) / elapsed for name in cpu0}, rss,
            (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), (load_before, load_after),
        )  # fmt: skip
    finally:
        procs.close()
        league.stop()
        if keep:
            print(f"(files kept in {directory})")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def report(name: str, run: LeagueRun) -> list[str]:
    """Prints the details of one setting; returns its summary row."""
    lo, hi = run.latency.window
    rigs = [rig for rigs in run.layout.values() for rig in rigs]
    roots = {rig: f"rigbridge/{site}/{rig}/" for site, rs in run.layout.items() for rig in rs}
    plain = rigs[1:]  # rig01 carries the stamped rev lights
    total = count_messages(run.counted, "rigbridge/", lo, hi)
    per_rig = [count_messages(run.counted, roots[rig], lo, hi) for rig in plain]
    mean_msgs = sum(c.messages for c in per_rig) / len(per_rig) / run.seconds
    mean_bytes = sum(c.bytes for c in per_rig) / len(per_rig) / run.seconds
    start = run.latency.sender["start_realtime_ns"]
    burst = count_messages(run.counted, "rigbridge/", start, start + 1_000_000_000).messages
    burst_plain = sum(count_messages(run.counted, roots[rig], start, start + 1_000_000_000).messages for rig in plain)
    held = count_messages(run.retained, "rigbridge/")
    held_plain = [count_messages(run.retained, roots[rig]) for rig in plain]
    bridged = latencies(run.latency, f"rigbridge/site1/{rigs[0]}", 0)["rev_bits"]
    direct = latencies(run.latency, DIRECT_ROOT, 1)["rev_bits"]
    b, d = stats(bridged), stats(direct)
    brokers = [k for k in run.rss]
    rig_cpu = sum(v for k, v in run.cpu.items() if k not in brokers and k != "sender")
    print(f"\n{name}: {len(rigs)} rigs at {len(run.layout)} sites + 1 direct, {run.seconds:.0f} s measured")
    print(table(["item", "result"], [
        ["messages/s at the centre (all rigs, rig01's stamped rev lights included)",
         f"{total.messages / run.seconds:,.0f} ({total.bytes / run.seconds / 1000:,.1f} kB/s topic+payload)"],
        ["messages/s per rig (mean of the unstamped rigs)", f"{mean_msgs:.0f} ({mean_bytes / 1000:.1f} kB/s)"],
        ["first second, every rig starting at once: all / per unstamped rig",
         f"{burst:,} / {burst_plain / len(plain):.0f}"],
        ["retained at the centre: all / per unstamped rig",
         f"{held.messages:,} ({held.bytes / 1e6:.2f} MB) / {sum(c.messages for c in held_plain) / len(plain):.0f} "
         f"({sum(c.bytes for c in held_plain) / len(plain) / 1000:.1f} kB)"],
        ["rev bits latency p50 / p99, one bridge hop (rig01)", f"{ms(b['p50'])} / {ms(b['p99'])} (n={b['n']})"],
        ["rev bits latency p50 / p99, direct (rig09)", f"{ms(d['p50'])} / {ms(d['p99'])} (n={d['n']})"],
        *[[f"broker {k}: CPU, RSS", f"{run.cpu[k] * 100:.1f} %, {run.rss[k]:.1f} MB"] for k in brokers],
        ["rigs' CPU, all together / mean per rig",
         f"{rig_cpu * 100:.0f} % / {rig_cpu * 100 / (len(rigs) + 1):.1f} %"],
        ["sender CPU; frames sent more than 2 ms late",
         f"{run.cpu['sender'] * 100:.0f} %; {run.latency.sender['late_frames']} of {run.latency.sender['frames']}"],
        ["whole machine busy (2 cores = 100 %); load average before, after",
         f"{run.machine_busy * 100:.0f} %; {run.load[0]}, {run.load[1]}"],
    ]))  # fmt: skip
    return [name, f"{total.messages / run.seconds:,.0f}", f"{mean_msgs:.0f}", f"{burst:,}",
            f"{held.messages:,}", f"{ms(b['p50'])}/{ms(b['p99'])}", f"{ms(d['p50'])}/{ms(d['p99'])}",
            f"{run.cpu['central'] * 100:.1f} %", f"{run.machine_busy * 100:.0f} %"]  # fmt: skip


ROLES = {"sender": sender_main, "subscriber": subscriber_main}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rigs", type=int, default=20, help="rigs at the sites (default 20)")
    parser.add_argument("--per-site", type=int, default=5, help="rigs per site broker (default 5)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per setting (default 20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds sent before measuring (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, raw data)")
    parser.add_argument("--role", choices=tuple(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--stamped", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--broker-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--topics", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is None and (args.rigs < 2 or args.per_site < 1):
        parser.error("--rigs must be at least 2 and --per-site at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role:
        return ROLES[args.role](args)
    print("bench/league.py:", " ".join(sys.argv[1:]) or "(defaults)")
    print(machine_line())
    started = time.monotonic()
    rows = [report(name, run_league(args.rigs, args.per_site, publish, args.seconds, args.warmup, args.keep))
            for name, publish in SETTINGS.items()]  # fmt: skip
    print(f"\nLeague at the centre ({args.rigs} rigs, {args.per_site} per site, {HZ} Hz, {CARS} cars; "
          f"ran {time.monotonic() - started:.0f} s):")
    print(table(["settings", "msg/s", "msg/s per rig", "first 1 s", "retained", "bridged p50/p99",
                 "direct p50/p99", "central CPU", "machine busy"], rows))


if __name__ == "__main__":
    main()
