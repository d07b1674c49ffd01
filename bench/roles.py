"""The child processes of the end-to-end benchmarks, and the parent's side of talking to them.

The bridge under test (`bench/cpu.py`, `bench/latency.py`, `bench/league.py`, `bench/soak.py`): its config file,
and waiting until its log says it connected.

The roles `bench/latency.py` and `bench/league.py` run as `--role ...` of themselves (a `ready` / `done` line on
stdout, `stop` on stdin, results in a JSON file):

* the race: a synthetic race (format 2025, 22 cars, 60 Hz) from 10 s after its start (lights out, the field
  racing), generated before sending; each CarTelemetry datagram can carry a sequence number 1, 2, 3... in the
  player's `revLightsBitValue`, with `revLightsPercent` set so that the LED frame lights `seq % 16` LEDs;
* the sender: that race at real time to UDP ports, the send time of every stamped datagram per port;
* the subscriber: paho on the given topics, stamping every arrival with `time.monotonic_ns()` (CLOCK_MONOTONIC is
  system-wide, so sender and subscriber share it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import ROOT

from tools.net import free_port
from tools.processes import Procs

HZ = 60
PACKET_FORMAT = 2025
CARS = 22
SEED = 1
RACE_OFFSET_S = 10.0  # send from here: lights out has happened, the field is racing
LEDS = 15
LED_PERIOD = LEDS + 1  # the LED frame carries seq % 16 lit LEDs
MAX_SEQ = 32767  # revLightsBitValue: 15 bits of LEDs


# ----------------------------------------------------------------------------------------------------------
# Where the rev lights sit in a CarTelemetry datagram


def byte_offset(packet_format: int, packet_id: int, *path: str | int) -> int:
    """Byte offset of a field in a datagram: `byte_offset(2025, 6, "carTelemetryData", 3, "revLightsPercent")`."""
    from bridge.games.f1.layouts import LAYOUTS

    record = LAYOUTS.packets[(packet_format, packet_id)].record
    offset = 0
    f = None
    for step in path:
        if isinstance(step, int):
            assert f is not None and f.record is not None
            offset += step * f.record.size
            continue
        assert record is not None
        for g in record.fields:
            if g.name == step:
                f = g
                break
            offset += g.size
        else:
            raise KeyError(step)
        record = f.record
    return offset


@dataclass(frozen=True)
class RevLights:
    """Offsets for one format: player index, and the player's revLightsPercent + revLightsBitValue ("<BH")."""

    size: int
    player_offset: int
    base: int  # revLightsPercent of car 0
    stride: int  # bytes per car record
    cars: int

    @classmethod
    def of(cls, packet_format: int) -> RevLights:
        from bridge.games.f1.layouts import LAYOUTS

        layout = LAYOUTS.packets[(packet_format, 6)]
        base = byte_offset(packet_format, 6, "carTelemetryData", 0, "revLightsPercent")
        bits = byte_offset(packet_format, 6, "carTelemetryData", 0, "revLightsBitValue")
        assert bits == base + 1, "revLightsPercent and revLightsBitValue are expected side by side"
        stride = byte_offset(packet_format, 6, "carTelemetryData", 1, "revLightsPercent") - base
        return cls(layout.size, byte_offset(packet_format, 6, "playerCarIndex"), base, stride, layout.num_cars)

    def player_at(self, data: bytes) -> int | None:
        """Offset of the player's revLightsPercent in `data`; None unless it is a CarTelemetry datagram of this
        format with a player index in range."""
        if len(data) != self.size or data[6] != 6:
            return None
        player = data[self.player_offset]
        return self.base + player * self.stride if player < self.cars else None


def pct_for_lit(lit: int) -> int:
    """A revLightsPercent that the bridge turns into exactly `lit` of 15 LEDs."""
    return round(lit * 100 / LEDS)


# ----------------------------------------------------------------------------------------------------------
# Role: sender


@dataclass
class Race:
    frames: list[tuple[float, list[tuple[bytes, bytes, int]]]]  # per frame: (plain, stamped, seq or 0) per datagram
    last_seq: int
    first_measured: int  # the first sequence number sent after the warm-up


def generate_race(warmup: float, seconds: float, stamp: bool = True) -> Race:
    """The race from `RACE_OFFSET_S` for `warmup + seconds`, every CarTelemetry datagram stamped if `stamp`."""
    from bridge.games.f1.synth import SynthConfig, SyntheticRace

    rev = RevLights.of(PACKET_FORMAT)
    pack = struct.Struct("<BH").pack_into
    end_at = RACE_OFFSET_S + warmup + seconds
    frames: list[tuple[float, list[tuple[bytes, bytes, int]]]] = []
    seq = 0
    first_measured = None
    config = SynthConfig(packet_format=PACKET_FORMAT, cars=CARS, rate_hz=HZ, laps=5, seed=SEED)
    for t, datagrams in SyntheticRace(config).frames():
        if t < RACE_OFFSET_S:
            continue
        if t >= end_at:
            break
        out = []
        for d in datagrams:
            at = rev.player_at(d) if stamp else None
            if at is not None:
                seq += 1
                if seq > MAX_SEQ:
                    sys.exit("sender: more telemetry datagrams than rev-bits sequence numbers; shorten the run")
                if first_measured is None and t >= RACE_OFFSET_S + warmup:
                    first_measured = seq
                buf = bytearray(d)
                pack(buf, at, pct_for_lit(seq % LED_PERIOD), seq)
                out.append((d, bytes(buf), seq))
            else:
                out.append((d, d, 0))
        frames.append((t, out))
    return Race(frames, seq, first_measured or 1)


def send_race(race: Race, ports: Sequence[int], stamped: int, warmup: float, sndbuf: int) -> dict[str, Any]:
    """The race at real time, 0.2 s from now: the stamped datagrams to the first `stamped` ports (which one goes
    first alternates from frame to frame, each send time recorded just before its `sendto`), the plain ones to the
    rest in turn. Returns the send times and the measured window."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    targets = [("127.0.0.1", p) for p in ports]
    send_ns: list[list[int]] = [[0] * (race.last_seq + 1) for _ in range(stamped)]
    clock = time.monotonic_ns
    t0 = race.frames[0][0]
    start = clock() + 200_000_000
    window_rt: list[int] = []
    window_mono: list[int] = []
    start_rt = 0
    sent = late = 0
    for k, (t, datagrams) in enumerate(race.frames):
        delay = start + int((t - t0) * 1e9) - clock()
        if delay > 0:
            time.sleep(delay / 1e9)
        elif delay < -2_000_000:
            late += 1
        if not start_rt:
            start_rt = time.time_ns()
        if not window_rt and t >= RACE_OFFSET_S + warmup:
            window_rt.append(time.time_ns())
            window_mono.append(clock())
        order = list(range(stamped)) if k % 2 == 0 else list(range(stamped))[::-1]
        for plain, marked, n in datagrams:
            for i in order:
                if n:
                    send_ns[i][n] = clock()
                sock.sendto(marked, targets[i])
            for target in targets[stamped:]:
                sock.sendto(plain, target)
            sent += 1
    window_rt.append(time.time_ns())
    window_mono.append(clock())
    sock.close()
    return {
        "send_ns": send_ns, "first_measured": race.first_measured, "last_seq": race.last_seq,
        "start_realtime_ns": start_rt, "window_realtime_ns": window_rt, "window_monotonic_ns": window_mono,
        "datagrams": sent, "frames": len(race.frames), "late_frames": late,
    }  # fmt: skip


def sender_role(ports: Sequence[int], stamped: int, warmup: float, seconds: float, out: Path, *, stamp: bool = True,
                sndbuf: int = 4 << 20) -> None:  # fmt: skip
    """Generate the race, say `generated`, send it, write the send times to `out`, say `done`."""
    race = generate_race(warmup, seconds, stamp)
    print("generated", flush=True)
    out.write_text(json.dumps(send_race(race, ports, stamped, warmup, sndbuf)))
    print("done", flush=True)


# ----------------------------------------------------------------------------------------------------------
# Role: subscriber (arrival stamps)


def subscriber_role(broker_port: int, topics: Sequence[str], out: Path, client_id: str,
                    account: tuple[str, str] | None = None) -> None:  # fmt: skip
    """Stamp every message on `topics` on arrival until the parent says stop (or closes the pipe); write them."""
    import paho.mqtt.client as paho

    arrivals: list[tuple[str, str, int]] = []
    clock = time.monotonic_ns
    subscribed = threading.Event()

    def on_message(client: Any, userdata: Any, m: Any) -> None:
        arrivals.append((m.topic, m.payload.decode("utf-8", "replace"), clock()))

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    if account is not None:
        client.username_pw_set(*account)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    client.subscribe([(topic, 0) for topic in topics])
    if not subscribed.wait(10):
        sys.exit("subscriber: subscription not acknowledged")
    print("ready", flush=True)
    sys.stdin.readline()
    client.loop_stop()
    client.disconnect()
    out.write_text(json.dumps(arrivals))
    print("done", flush=True)


# ----------------------------------------------------------------------------------------------------------
# Roles serving a UDP port until terminated


async def serve_datagrams(protocol: Callable[[], asyncio.DatagramProtocol], port: int) -> None:
    """Receive on a loopback UDP port with `protocol`, say `ready`, and serve until cancelled."""
    await asyncio.get_running_loop().create_datagram_endpoint(protocol, local_addr=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.Event().wait()


def run_until_terminated(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `main` until SIGTERM (or Ctrl-C), quietly: the parent stops a role by terminating it."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        asyncio.run(main())


# ----------------------------------------------------------------------------------------------------------
# The parent's side


def start_role(procs: Procs, script: Path, role: str, *args: str) -> subprocess.Popen[str]:
    """`script` in another role, talking over stdin/stdout lines."""
    return procs.start(
        [sys.executable, str(script), "--role", role, *args], role,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def expect(process: subprocess.Popen[str], word: str, timeout: float, what: str) -> None:
    """Wait for a line `word` from a child; exit with a message if it dies or takes too long."""
    assert process.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = process.stdout.readline()
            if line.strip() == word:
                return
            if not line and process.poll() is not None:
                break
    sys.exit(f"bench: {what} did not say {word!r} within {timeout:.0f} s (exit code {process.poll()})")


def stop_role(process: subprocess.Popen[str], what: str, out: Path) -> Any:
    """Tell a stamping role to stop, wait for its `done`, and return what it wrote to `out`."""
    assert process.stdin is not None
    process.stdin.write("stop\n")
    process.stdin.flush()
    expect(process, "done", 30, what)
    return json.loads(out.read_text())


def bridge_config(path: Path, udp_port: int, broker_port: int, rig: str, extra: str = "") -> Path:
    """A `rigbridge run` config: datagrams on a loopback UDP port, the broker on loopback, metrics on a free port
    (nobody scrapes them), then `extra` (more YAML sections); every other setting at its default."""
    path.write_text(
        f"udp:\n  bind: 127.0.0.1\n  port: {udp_port}\n"
        f"mqtt:\n  host: 127.0.0.1\n  port: {broker_port}\n  rig: {rig}\n"
        f"metrics:\n  port: {free_port()}\n" + extra
    )
    return path


def start_bridges(procs: Procs, configs: dict[str, Path], timeout: float, poll: float
                  ) -> dict[str, subprocess.Popen[Any]]:  # fmt: skip
    """A `rigbridge run` per config, named by its key (its log: `<name>.log`), each connected to its broker."""
    bridges = {name: procs.start([sys.executable, "-m", "bridge", "run", "-c", str(config)], name, cwd=ROOT)
               for name, config in configs.items()}  # fmt: skip
    wait_logged(procs, bridges, timeout, poll)
    return bridges


def wait_logged(procs: Procs, processes: dict[str, subprocess.Popen[Any]], timeout: float, poll: float,
                word: str = " connected") -> None:  # fmt: skip
    """Wait until every child's log (`<name>.log`) holds `word` (a bridge's: it connected to its broker); exit with
    the log if one dies first, or with the last lines of the logs still waiting when the time runs out."""

    def log_of(name: str) -> str:
        path = procs.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    deadline = time.monotonic() + timeout
    waiting = set(processes)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            text = log_of(name)
            if word in text:
                waiting.discard(name)
            elif processes[name].poll() is not None:
                sys.exit(f"bench: {name} exited with {processes[name].returncode}:\n{text}")
        if waiting:
            time.sleep(poll)
    if waiting:
        tails = "".join(f"\n--- {name}.log:\n" + "\n".join(log_of(name).splitlines()[-10:]) for name in sorted(waiting))
        sys.exit(f"bench: {', '.join(sorted(waiting))} did not say {word.strip()!r} within {timeout:.0f} s{tails}")
