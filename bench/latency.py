"""End-to-end latency: a datagram into the bridge's UDP socket -> the message at a subscriber, through mosquitto.

Everything runs as its own process on this machine, against a real mosquitto on a free loopback port:

* the bridge: `rigbridge run -c FILE` with a temporary config (the broker above, rig `bench`, every publish
  setting at its default: all cars, default rates, no include/exclude);
* the floor: a minimal UDP-to-MQTT forwarder (`--role floor`, a few lines of asyncio below): for a CarTelemetry
  datagram it reads the player index from the header and the player's `revLightsPercent` and
  `revLightsBitValue` with one `struct.unpack_from` at their offset (from `LAYOUTS`), and publishes the rev bits
  and an LED frame string (the default 15-LED profile) with aiomqtt at QoS 0, MQTT 5, as the bridge does;
* one sender (`--role sender`): a synthetic race (format 2025, 22 cars, 60 Hz) generated before sending, then
  sent at real time, every datagram to both UDP ports one right after the other (which one goes first
  alternates from frame to frame);
* one subscriber (`--role subscriber`, paho) on the bridge's `lights/rev_bits` and `lights/leds` and the floor's
  two topics, stamping every arrival; and `mosquitto_sub` counting everything under `rigbridge/#`.

`bench/broker_load.py` reuses the broker, bridge, sender and counting parts (`run_pipeline`). The race, the
sender and the subscriber are shared with `bench/league.py` (`bench/roles.py`).

The realtime LED path (`lights.realtime`) is measured in the same run: the bridge has one DDP device, an LED
receiver (`--role led-receiver`) on a loopback UDP port that stamps each LED datagram on arrival; beside it, the
LED floor (`--role led-floor`): a minimal UDP-in/UDP-out program that does the same unpack as the floor above and
sends the same 15-LED frame as one DDP datagram to the receiver's second port. The sender sends every datagram to
the LED floor too. A frame is matched to its datagram as for `lights/leds` (lit count = `seq % 16`).

Matching: before sending, the sender writes a sequence number 1, 2, 3... into the player's `revLightsBitValue`
of every CarTelemetry datagram (packed at the field's offset, so the datagram stays valid), and sets
`revLightsPercent` so that the LED frame lights `seq % 16` LEDs; it records `time.monotonic_ns()` just before
each `sendto`, per destination. The subscriber records `time.monotonic_ns()` on arrival (CLOCK_MONOTONIC is
system-wide, so the two processes share it). A rev-bits message carries its sequence number; an LED frame is
matched to the latest datagram sent before it arrived whose `seq % 16` equals its lit count (unambiguous while
latency stays under 16 frames, 267 ms). Both the bridge and the floor go through the same broker, subscriber,
machine and moment, so the ratio bridge / floor is what the bridge adds; the absolute figures depend on the
machine's load. The bridge keeps one pending value per topic (latest wins), so when it falls behind a newer rev
value can replace one not yet sent: such a value counts as not delivered, and an info row also gives, for every
datagram, the time until its value or a newer one arrived. Stamping makes `lights/*` change on every frame
(about 180 messages/s instead of about 60 in a real race), so the bridge publishes more than usual here.

The race is sent from 10 s after its start (after lights out, cars racing); the first `--warmup` seconds are
not measured (the bridge's first datagrams of a new session publish every retained topic once).

Run from the project root (about a minute):

    .venv/bin/python bench/latency.py     # options: --seconds S, --warmup S, --cars all|player|none, --no-leds, --keep

Targets (DESIGN.md section 7): p50 and p99 within 1.5x of the floor, for the rev-light topic (and the LED frame
topic); for the realtime LED datagram, p99 within 1.5x of the LED floor's (issue 17). The summary table is printed
last.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import machine_line, table
from roles import (
    CARS,
    HZ,
    LED_PERIOD,
    LEDS,
    MAX_SEQ,
    PACKET_FORMAT,
    RevLights,
    bridge_config,
    expect,
    run_until_terminated,
    sender_role,
    serve_datagrams,
    start_bridges,
    start_role,
    stop_role,
    subscriber_role,
)

from tools.net import free_port
from tools.processes import MOSQUITTO_SUB, Broker, Procs, cpu_seconds, require_mosquitto

RIG = "bench"
BASE = "rigbridge"
FLOOR_ROOT = "floor/bench"
HA_PREFIX = "homeassistant"  # the default discovery prefix
TARGET_RATIO = 1.5
SCRIPT = Path(__file__).resolve()


# ----------------------------------------------------------------------------------------------------------
# Matching LED frames to datagrams


def frame_seq(lit: int, sent_times: Sequence[int], t: int) -> int:
    """The sequence number of the datagram an LED frame with `lit` LEDs arriving at `t` came from: the latest one
    sent before `t` whose `seq % 16` is `lit` (`sent_times[i]` is the send time of sequence number i + 1)."""
    newest = bisect.bisect_right(sent_times, t)  # seqs 1..newest were sent before it arrived
    return newest - (newest - lit) % LED_PERIOD


def lit_of_frame(payload: str) -> int:
    """LEDs lit (from the left) in an RRGGBB-per-LED frame."""
    lit = 0
    for i in range(0, len(payload), 6):
        if payload[i : i + 6] == "000000":
            break
        lit += 1
    return lit


# ----------------------------------------------------------------------------------------------------------
# Role: sender


def sender_main(args: argparse.Namespace) -> None:
    """The race, stamped (`--stamp`), at real time to every port; the send times to `--out`."""
    ports = [int(p) for p in args.ports.split(",")]
    sender_role(ports, len(ports), args.warmup, args.seconds, Path(args.out), stamp=args.stamp)


# ----------------------------------------------------------------------------------------------------------
# Role: floor (the minimal forwarder)


def led_frames() -> list[bytes]:
    """The default 15-LED profile (5 green, 5 red, 5 blue) with 0 to 15 LEDs lit, 3 bytes per LED."""
    colours = [b"\x00\xff\x00"] * 5 + [b"\xff\x00\x00"] * 5 + [b"\x00\x00\xff"] * 5
    return [b"".join(c if i < lit else b"\x00\x00\x00" for i, c in enumerate(colours)) for lit in range(LEDS + 1)]


def floor_main(args: argparse.Namespace) -> None:
    import aiomqtt

    rev = RevLights.of(PACKET_FORMAT)
    read = struct.Struct("<BH").unpack_from
    frames = [frame.hex() for frame in led_frames()]  # RRGGBB per LED, as the bridge publishes it
    bits_topic, leds_topic = f"{args.root}/lights/rev_bits", f"{args.root}/lights/leds"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        async with aiomqtt.Client("127.0.0.1", args.broker_port, identifier="bench-floor",
                                  protocol=aiomqtt.ProtocolVersion.V5) as client:
            # The same transport as the bridge (Nagle off), so the ratio is what the bridge's own work adds.
            client._client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def publish(topic: str, payload: str) -> None:
                task = loop.create_task(client.publish(topic, payload, qos=0))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            class Floor(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple) -> None:
                    at = rev.player_at(data)
                    if at is None:
                        return
                    pct, bits = read(data, at)
                    publish(bits_topic, str(bits))
                    publish(leds_topic, frames[max(0, min(LEDS, round(pct * LEDS / 100)))])

            await serve_datagrams(Floor, args.udp_port)

    run_until_terminated(main)


# ----------------------------------------------------------------------------------------------------------
# Roles: LED floor (the minimal UDP-in/UDP-out program) and LED receiver (arrival stamps)

DDP_HEADER = struct.Struct(">BBBBIH")


def led_floor_main(args: argparse.Namespace) -> None:
    """CarTelemetry in, the player's rev percentage unpacked, the 15-LED frame out as one DDP datagram."""
    rev = RevLights.of(PACKET_FORMAT)
    read = struct.Struct("<B").unpack_from
    frames = led_frames()
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setblocking(False)
    out.connect(("127.0.0.1", args.led_port))
    sequence = 0

    class Floor(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple) -> None:
            nonlocal sequence
            at = rev.player_at(data)
            if at is None:
                return
            (pct,) = read(data, at)
            frame = frames[max(0, min(LEDS, round(pct * LEDS / 100)))]
            sequence = sequence % 15 + 1
            out.send(DDP_HEADER.pack(0x41, sequence, 0x0B, 1, 0, len(frame)) + frame)

    run_until_terminated(lambda: serve_datagrams(Floor, args.udp_port))


def led_receiver_main(args: argparse.Namespace) -> None:
    """Two UDP ports (the bridge's LED datagrams, the LED floor's): each DDP datagram's frame, stamped on arrival."""
    import selectors
    import threading

    sel = selectors.DefaultSelector()
    for name, port in zip(("bridge", "floor"), (int(p) for p in args.ports.split(",")), strict=True):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", port))
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, name)
    arrivals: list[tuple[str, str, int]] = []
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    clock = time.monotonic_ns
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            while True:
                try:
                    data = key.fileobj.recv(2048)  # type: ignore[union-attr]
                except BlockingIOError:
                    break
                arrivals.append((f"led/{key.data}", data[10:].hex(), clock()))
    Path(args.out).write_text(json.dumps(arrivals))
    print("done", flush=True)


# ----------------------------------------------------------------------------------------------------------
# Role: subscriber (arrival stamps)


def subscriber_main(args: argparse.Namespace) -> None:
    subscriber_role(args.broker_port, args.topics.split(","), Path(args.out), "bench-subscriber")


# ----------------------------------------------------------------------------------------------------------
# The parent: broker, bridge, floor, subscribers, sender (also used by bench/broker_load.py)


def start_counter(procs: Procs, broker_port: int, topics: Sequence[str]) -> Path:
    """`mosquitto_sub` writing `realtime-stamp<TAB>payload-length<TAB>topic` per message."""
    path = procs.directory / "count.txt"
    cmd = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker_port), "-q", "1", "-V", "mqttv5",
           "-F", "%U\t%l\t%t"]
    for topic in topics:
        cmd += ["-t", topic]
    with path.open("wb") as out:
        procs.start(cmd, "counter", stdout=out, stderr=subprocess.DEVNULL)  # type: ignore[list-item]
    time.sleep(0.5)  # subscribed before anything is published
    return path


Counted = list[tuple[int, int, str]]  # (realtime ns, topic + payload bytes, topic) per message


def read_counter(path: Path) -> Counted:
    return parse_counted(path.read_bytes())


def parse_counted(text: bytes) -> Counted:
    out = []
    for line in text.decode("utf-8", "replace").split("\n"):
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        stamp, length, topic = parts
        seconds, _, fraction = stamp.partition(".")
        t_ns = int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])
        out.append((t_ns, int(length) + len(topic.encode()), topic))
    return out


def retained_now(broker_port: int) -> Counted:
    """The retained messages a new subscriber to `rigbridge/#` and `homeassistant/#` receives right away."""
    assert MOSQUITTO_SUB is not None
    cmd = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker_port), "-V", "mqttv5", "-t", f"{BASE}/#",
           "-t", f"{HA_PREFIX}/#", "--retained-only", "-W", "2", "-F", "%U\t%l\t%t"]
    done = subprocess.run(cmd, capture_output=True, timeout=30)  # exits (code 27) after 2 s of waiting
    return parse_counted(done.stdout)


@dataclass
class Count:
    messages: int
    bytes: int  # topic + payload
    by_group: dict[str, tuple[int, int]]  # first topic level below the prefix (cars/*/<field> for cars)


def count_messages(counted: Counted, prefix: str, lo: int = 0, hi: int = 1 << 63) -> Count:
    """Messages under `prefix` (and their topic + payload bytes) received in the realtime window [lo, hi]."""
    messages = size = 0
    groups: dict[str, list[int]] = {}
    for t_ns, n, topic in counted:
        if not topic.startswith(prefix) or not lo <= t_ns <= hi:
            continue
        messages += 1
        size += n
        rest = topic[len(prefix) :].split("/")
        group = rest[0] + ("/*/" + "/".join(rest[2:]) if rest[0] == "cars" and len(rest) > 2 else "")
        g = groups.setdefault(group, [0, 0])
        g[0] += 1
        g[1] += n
    return Count(messages, size, {k: (v[0], v[1]) for k, v in groups.items()})


@dataclass
class Run:
    """What one run measured."""

    sender: dict[str, Any]
    arrivals: list[tuple[str, str, int]]
    counted: Counted  # everything the counting subscriber got, start-up included
    retained: Counted  # what a new subscriber to the bridge's topics gets at once, after the run
    seconds: float  # measured window
    bridge_cpu: float  # fraction of one core during the window
    floor_cpu: float | None
    led_arrivals: list[tuple[str, str, int]] = field(default_factory=list)  # ("led/bridge" | "led/floor", hex, t)

    @property
    def window(self) -> tuple[int, int]:
        lo, hi = self.sender["window_realtime_ns"]
        return lo, hi

    def count(self, prefix: str = f"{BASE}/{RIG}/") -> Count:
        """Messages in the measured window."""
        return count_messages(self.counted, prefix, *self.window)


def run_pipeline(seconds: float, warmup: float, *, with_floor: bool, stamp: bool, publish: str = "",
                 keep: bool = False, leds: bool = False) -> Run:  # fmt: skip
    """Broker, counter, (subscriber, floor,) (LED receiver, LED floor,) bridge and sender; what they saw."""
    require_mosquitto()
    directory = Path(tempfile.mkdtemp(prefix="rigbridge-bench-"))
    procs = Procs(directory)
    try:
        broker_port = Broker(procs).start().port
        counter = start_counter(procs, broker_port, [f"{BASE}/#", f"{HA_PREFIX}/#"])
        subscriber = None
        if with_floor:
            topics = [f"{BASE}/{RIG}/lights/rev_bits", f"{BASE}/{RIG}/lights/leds",
                      f"{FLOOR_ROOT}/lights/rev_bits", f"{FLOOR_ROOT}/lights/leds"]
            subscriber = start_role(procs, SCRIPT, "subscriber", "--broker-port", str(broker_port), "--topics",
                                    ",".join(topics), "--out", str(directory / "arrivals.json"))
            expect(subscriber, "ready", 20, "the subscriber")
        led_receiver = None
        if leds:
            led_ports = [free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)]
            led_receiver = start_role(procs, SCRIPT, "led-receiver", "--ports", ",".join(map(str, led_ports)),
                                      "--out", str(directory / "led-arrivals.json"))
            expect(led_receiver, "ready", 20, "the LED receiver")
            publish += f"lights:\n  realtime:\n    - {{target: '127.0.0.1:{led_ports[0]}', protocol: ddp}}\n"
        bridge_port = free_port(socket.SOCK_DGRAM)
        config = bridge_config(directory / "rigbridge.yaml", bridge_port, broker_port, RIG,
                               "log:\n  level: info\n" + publish)  # fmt: skip
        bridge = start_bridges(procs, {"bridge": config}, 20, 0.05)["bridge"]
        ports = [bridge_port]
        floor = None
        if with_floor:
            floor_port = free_port(socket.SOCK_DGRAM)
            floor = start_role(procs, SCRIPT, "floor", "--udp-port", str(floor_port), "--broker-port", str(broker_port),
                               "--root", FLOOR_ROOT)
            expect(floor, "ready", 20, "the floor forwarder")
            ports.append(floor_port)
        if led_receiver is not None:
            led_floor_port = free_port(socket.SOCK_DGRAM)
            led_floor = start_role(procs, SCRIPT, "led-floor", "--udp-port", str(led_floor_port), "--led-port",
                                   str(led_ports[1]))
            expect(led_floor, "ready", 20, "the LED floor")
            ports.append(led_floor_port)
        sender_args = ["--ports", ",".join(map(str, ports)), "--seconds", str(seconds), "--warmup", str(warmup),
                       "--out", str(directory / "sent.json")]
        sender = start_role(procs, SCRIPT, "sender", *sender_args, *(["--stamp"] if stamp else []))
        expect(sender, "generated", 120, "the sender")
        time.sleep(0.2 + warmup)  # the sender starts 0.2 s after generating; then the warm-up
        cpu0 = cpu_seconds(bridge.pid), (cpu_seconds(floor.pid) if floor else 0.0), time.monotonic()
        expect(sender, "done", seconds + warmup + 60, "the sender")
        cpu1 = cpu_seconds(bridge.pid), (cpu_seconds(floor.pid) if floor else 0.0), time.monotonic()
        sender.wait(10)
        time.sleep(0.5)  # the last messages reach the subscribers
        arrivals: list[tuple[str, str, int]] = []
        if subscriber is not None:
            arrivals = [tuple(a) for a in stop_role(subscriber, "the subscriber", directory / "arrivals.json")]
        led_arrivals: list[tuple[str, str, int]] = []
        if led_receiver is not None:
            raw = stop_role(led_receiver, "the LED receiver", directory / "led-arrivals.json")
            led_arrivals = [(str(name), str(frame), int(t)) for name, frame, t in raw]
        sent = json.loads((directory / "sent.json").read_text())
        lo, hi = sent["window_realtime_ns"]
        elapsed = cpu1[2] - cpu0[2]
        return Run(sent, arrivals, read_counter(counter), retained_now(broker_port), (hi - lo) / 1e9,
                   (cpu1[0] - cpu0[0]) / elapsed, (cpu1[1] - cpu0[1]) / elapsed if floor else None, led_arrivals)
    finally:
        procs.close()
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print(f"(files kept in {directory})")


# ----------------------------------------------------------------------------------------------------------
# Analysis


def latencies(run: Run, root: str, dest: int) -> dict[str, list[float]]:
    """Milliseconds from send to arrival for the measured sequence numbers: rev bits, LED frames."""
    send = run.sender["send_ns"][dest]
    first, last = run.sender["first_measured"], run.sender["last_seq"]
    bits_topic, leds_topic = f"{root}/lights/rev_bits", f"{root}/lights/leds"
    bits: dict[int, int] = {}
    leds: dict[int, int] = {}
    sent_times = send[1 : last + 1]  # seq i at index i - 1, increasing
    for topic, payload, t in run.arrivals:
        if topic == bits_topic:
            try:
                seq = int(payload)
            except ValueError:
                continue
            if first <= seq <= last:
                bits.setdefault(seq, t)
        elif topic == leds_topic:
            seq = frame_seq(lit_of_frame(payload), sent_times, t)
            if first <= seq <= last:
                leds.setdefault(seq, t)
    # Every datagram, superseded values included: until the first rev-bits message carrying it or a newer one.
    newest_first: list[float] = []
    best = float("inf")
    for seq in range(last, first - 1, -1):
        best = min(best, bits.get(seq, float("inf")))
        newest_first.append((best - send[seq]) / 1e6)
    return {
        "rev_bits": [(t - send[seq]) / 1e6 for seq, t in bits.items()],
        "leds": [(t - send[seq]) / 1e6 for seq, t in leds.items()],
        "rev_bits_or_newer": [v for v in newest_first if v != float("inf")],
    }


def led_latencies(run: Run, side: str, dest: int) -> list[float]:
    """Milliseconds from send to the LED datagram's arrival, per measured sequence number, for `led/<side>`."""
    send = run.sender["send_ns"][dest]
    first, last = run.sender["first_measured"], run.sender["last_seq"]
    sent_times = send[1 : last + 1]
    arrived: dict[int, int] = {}
    for name, frame, t in run.led_arrivals:
        if name == f"led/{side}":
            seq = frame_seq(lit_of_frame(frame), sent_times, t)
            if first <= seq <= last:
                arrived.setdefault(seq, t)
    return [(t - send[seq]) / 1e6 for seq, t in arrived.items()]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def stats(values: Sequence[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p90": percentile(values, 90), "p99": percentile(values, 99),
            "max": max(values) if values else float("nan"), "n": len(values)}


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def cars_label(cars: str) -> str:
    return "defaults" if cars == "all" else f"publish.cars: {cars}"


def report(run: Run, cars: str) -> None:
    expected = run.sender["last_seq"] - run.sender["first_measured"] + 1
    sides = {"bridge": latencies(run, f"{BASE}/{RIG}", 0), "floor": latencies(run, FLOOR_ROOT, 1)}
    s = {side: {topic: stats(v) for topic, v in per.items()} for side, per in sides.items()}
    print("\nLatency, datagram sent -> message at the subscriber (measured window):")
    rows = []
    for topic in ("rev_bits", "leds"):
        for side in ("bridge", "floor"):
            st = s[side][topic]
            rows.append([f"{side} lights/{topic}", f"{st['n']}/{expected}", ms(st["p50"]), ms(st["p90"]),
                         ms(st["p99"]), ms(st["max"])])
    led: dict[str, dict[str, float]] = {}  # without the LED path (--no-leds) the sender has no third port
    if run.led_arrivals:
        led = {"bridge": stats(led_latencies(run, "bridge", 0)), "floor": stats(led_latencies(run, "floor", 2))}
        for side in ("bridge", "floor"):
            st = led[side]
            rows.append([f"{side} LED datagram (DDP, realtime)", f"{st['n']}/{expected}", ms(st["p50"]),
                         ms(st["p90"]), ms(st["p99"]), ms(st["max"])])
    print(table(["path", "delivered", "p50", "p90", "p99", "max"], rows))
    print("A value missing at the subscriber was not lost: the bridge keeps one pending value per topic (latest "
          "wins), so a newer value replaced it while the bridge was behind.")
    print(f"\nSender: {run.sender['datagrams']:,} datagrams to each port in {run.sender['frames']:,} frames; "
          f"{run.sender['late_frames']} frames left more than 2 ms late.")
    count = run.count()
    print(f"Messages under {BASE}/{RIG}/ in the measured window, by topic (the stamped rev lights change every "
          "frame, so lights/* run at up to 60/s each):")
    groups = sorted(count.by_group.items(), key=lambda kv: -kv[1][0])
    print("  " + ", ".join(f"{g} {n / run.seconds:.0f}/s" for g, (n, _) in groups))

    summary = []
    for topic in ("rev_bits", "leds"):
        b, f = s["bridge"][topic], s["floor"][topic]
        for q in ("p50", "p99"):
            r = b[q] / f[q]
            summary.append([f"lights/{topic} {q}: bridge / floor", f"<= {TARGET_RATIO:.1f}x",
                            f"{r:.2f}x ({ms(b[q])} / {ms(f[q])})", verdict(r <= TARGET_RATIO)])
        summary.append([f"lights/{topic} max: bridge / floor", "", f"{ms(b['max'])} / {ms(f['max'])}", "info"])
        summary.append([f"lights/{topic} delivered in the window: bridge / floor", "",
                        f"{b['n']}/{expected} / {f['n']}/{expected}", "info"])
        if topic == "rev_bits":
            b2, f2 = s["bridge"]["rev_bits_or_newer"], s["floor"]["rev_bits_or_newer"]
            summary.append(["lights/rev_bits, every datagram (until it or a newer one arrived): p50, p99 ratios", "",
                            f"{b2['p50'] / f2['p50']:.2f}x, {b2['p99'] / f2['p99']:.2f}x ({ms(b2['p99'])} / "
                            f"{ms(f2['p99'])})", "info"])
    if run.led_arrivals:
        b, f = led["bridge"], led["floor"]
        r = b["p99"] / f["p99"]
        summary.append(["LED datagram (realtime) p99: bridge / LED floor", f"<= {TARGET_RATIO:.1f}x",
                        f"{r:.2f}x ({ms(b['p99'])} / {ms(f['p99'])})", verdict(r <= TARGET_RATIO)])
        summary.append(["LED datagram (realtime) p50: bridge / LED floor", "",
                        f"{b['p50'] / f['p50']:.2f}x ({ms(b['p50'])} / {ms(f['p50'])})", "info"])
        summary.append(["LED datagrams delivered in the window: bridge / LED floor", "",
                        f"{b['n']}/{expected} / {f['n']}/{expected}", "info"])
    summary.append([f"messages/s to the broker under {BASE}/# ({cars_label(cars)}, stamped rev lights)", "",
                    f"{count.messages / run.seconds:.0f}/s, {count.bytes / run.seconds / 1000:.1f} kB/s "
                    "topic+payload", "info"])
    floor_cpu = f", floor {run.floor_cpu * 100:.1f} %" if run.floor_cpu is not None else ""
    summary.append(["CPU during the window (one core = 100 %)", "", f"bridge {run.bridge_cpu * 100:.1f} %{floor_cpu}",
                    "info"])
    print(f"\nSummary ({run.seconds:.0f} s measured at {HZ} Hz, {CARS} cars, format {PACKET_FORMAT}, "
          f"{cars_label(cars)}):")
    print(table(["item", "target", "result", "verdict"], summary))


# ----------------------------------------------------------------------------------------------------------

ROLES = {"sender": sender_main, "floor": floor_main, "subscriber": subscriber_main, "led-floor": led_floor_main,
         "led-receiver": led_receiver_main}  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="measured seconds of race (default 25)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds sent before measuring (default 3)")
    parser.add_argument("--cars", choices=("all", "player", "none"), default="all",
                        help="publish.cars for the bridge (default all: the default settings)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, raw data)")
    parser.add_argument("--no-leds", action="store_true", help="leave out the realtime LED path and its floor")
    parser.add_argument("--role", choices=tuple(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--led-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--stamp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--udp-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--broker-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--topics", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role:
        return ROLES[args.role](args)
    if args.seconds * HZ + args.warmup * HZ > MAX_SEQ:
        sys.exit(f"bench: at most {MAX_SEQ // HZ} s in all")
    print("bench/latency.py:", " ".join(sys.argv[1:]) or "(defaults)",
          f"seconds={args.seconds} warmup={args.warmup} cars={args.cars}")
    print(machine_line())
    started = time.monotonic()
    publish = "" if args.cars == "all" else f"publish:\n  cars: {args.cars}\n"
    run = run_pipeline(args.seconds, args.warmup, with_floor=True, stamp=True, publish=publish, keep=args.keep,
                       leds=not args.no_leds)
    report(run, args.cars)
    print(f"(ran {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
