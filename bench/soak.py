"""Soak: a long synthetic season, faster than real time, through the real pipeline; the bridge's memory sampled
every second.

Everything runs as its own process on this machine:

* a real mosquitto on a free loopback port (no persistence);
* the bridge: `rigbridge run -c FILE` with every publish setting at its default (all cars, default rates,
  Home Assistant discovery on, metrics on a free loopback port), rig `soak`;
* a subscriber: `mosquitto_sub` on everything under `rigbridge/soak/` and `homeassistant/`, counting messages;
* the sender (`--role sender`, this script): synthetic sessions generated on the fly and sent `--speed` times
  faster than the game would send them. Formats 2023-2026, 2 to 24 cars, 10-60 Hz, a new seed (track, grid,
  race) each time, the player's car or spectating; every other session has a flashback (a FLBK event, then the
  last 10 s of frames again: frame numbers and laps go back, the overall frame number goes on), every third one is
  restarted part way (the same race again under a new session UID). The sender also folds everything it sends
  into its own `SessionState`, so at the end it knows which retained topics the last session needs.

The first sessions are the warm-up: one of each format with its largest grid, so that every layout, catalogue
topic and cache has been used once. Then the measured season runs for `--seconds`, with the broker stopped for
`--outage` seconds in the middle (the sender carries on at full speed meanwhile).

Figures (printed last):

* RSS after the warm-up (median of the first 10 samples), its peak over the season, the season's end (median of the
  last 10 samples) and the least-squares slope: target flat within +5 MB (DESIGN.md section 7);
* RSS peak during the broker outage, against the same baseline: bounded;
* the retained topics under `rigbridge/soak/` at the end against what the last session needs (every active car's
  retained fields, the session's, the player's): no topic left over from earlier sessions, no car beyond the
  active ones.

Run from the project root (about 4.5 minutes with the defaults):

    .venv/bin/python bench/soak.py        # options: --speed X, --seconds S, --outage S, --keep
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import ROOT, machine_line, table
from roles import bridge_config, start_bridges

from tools.catalogue import catalogue_payloads
from tools.net import free_port
from tools.processes import MOSQUITTO_SUB, Broker, Procs, cpu_seconds, require_mosquitto, rss_mb

RIG = "soak"
BASE = "rigbridge"
TOPIC_ROOT = f"{BASE}/{RIG}"
SCRIPT = Path(__file__).resolve()
TARGET_GROWTH_MB = 5.0
FLASHBACK_S = 10.0  # how far a flashback goes back
OVERALL_FRAME_OFFSET = 23  # byte offset of overallFrameIdentifier in the header of formats 2023-2026


# ----------------------------------------------------------------------------------------------------------
# The season


@dataclass(frozen=True)
class Session:
    fmt: int
    cars: int
    rate_hz: int
    seed: int
    play_s: float  # seconds of the session sent (from its first datagram)
    player: int = 0  # 255: spectating
    flashback_at: float | None = None  # session time of the flashback (it goes back FLASHBACK_S)
    restart_at: float | None = None  # session time at which the game restarts it (new UID, from the start)

    @property
    def label(self) -> str:
        extra = [" spectating" if self.player == 255 else "", f" flashback@{self.flashback_at:.0f}s"
                 if self.flashback_at else "", f" restart@{self.restart_at:.0f}s" if self.restart_at else ""]
        return f"F1 {self.fmt} {self.cars} cars {self.rate_hz} Hz seed {self.seed}{''.join(extra)}"


# One session per format with its largest grid first: every layout and every car's topics used once.
WARMUP = (
    Session(2023, 22, 60, 101, 30.0),
    Session(2024, 22, 60, 102, 30.0, flashback_at=25.0),
    Session(2025, 22, 60, 103, 30.0, restart_at=15.0),
    Session(2026, 24, 60, 104, 30.0),
)

VARIANTS = (  # (format, cars, rate Hz), cycled through with a new seed each time
    (2025, 20, 60), (2024, 12, 60), (2023, 22, 20), (2026, 24, 60), (2025, 8, 30),
    (2024, 16, 60), (2026, 11, 10), (2023, 2, 60), (2025, 22, 60), (2024, 19, 30),
)


def season() -> Iterator[Session]:
    rng = random.Random(2026)
    n = 0
    while True:
        fmt, cars, rate = VARIANTS[n % len(VARIANTS)]
        play = rng.uniform(90.0, 150.0)
        yield Session(
            fmt, cars, rate, seed=1000 + n, play_s=play,
            player=255 if n % 7 == 3 else rng.randrange(cars),
            flashback_at=rng.uniform(0.5, 0.9) * play if n % 2 == 0 else None,
            restart_at=rng.uniform(0.3, 0.6) * play if n % 3 == 1 else None,
        )  # fmt: skip
        n += 1


# ----------------------------------------------------------------------------------------------------------
# Role: sender


class Sender:
    """Sends sessions paced at `speed` x real time on one continuous timeline; keeps a SessionState of it all."""

    def __init__(self, port: int, speed: float) -> None:
        from bridge.state.session import SessionState

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.target = ("127.0.0.1", port)
        self.speed = speed
        self.state = SessionState()
        self.start = time.monotonic()
        self.timeline = 0.0  # game seconds sent so far, over all sessions
        self.stopping = False
        self.datagrams = 0
        self.late = 0
        self.flashbacks = 0
        self.restarts = 0
        self.sessions = 0

    def send(self, datagrams: Sequence[bytes]) -> None:
        from bridge.games.f1.codec import decode
        from bridge.games.f1.writer import process_packet

        delay = self.start + self.timeline / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.5:
            self.late += 1
        for data in datagrams:
            self.sock.sendto(data, self.target)
            packet = decode(data)
            if packet:
                process_packet(self.state, packet)
        self.datagrams += len(datagrams)

    def play(self, session: Session, uid: int | None = None) -> None:
        from bridge.games.f1.codec import build_event, encode
        from bridge.games.f1.synth import SynthConfig, SyntheticRace

        config = SynthConfig(packet_format=session.fmt, cars=session.cars, rate_hz=session.rate_hz, laps=5,
                             seed=session.seed, player_index=session.player, session_uid=uid)
        race = SyntheticRace(config)
        restart = session.restart_at if uid is None else None
        self.sessions += 1
        print(f"{time.time():.3f} session {race.session_uid} {session.label}", flush=True)
        recent: deque[tuple[float, list[bytes]]] = deque(maxlen=int(FLASHBACK_S * session.rate_hz))
        shift = 0  # added to overallFrameIdentifier: after a flashback the replayed frames count on
        last_t = 0.0
        flashed = False
        for t, datagrams in race.frames():
            if self.stopping or t >= session.play_s or (restart is not None and t >= restart):
                break
            self.timeline += t - last_t
            last_t = t
            if shift:
                datagrams = [_shift_overall(d, shift) for d in datagrams]
            self.send(datagrams)
            recent.append((t, datagrams))
            if session.flashback_at is None or flashed or t < session.flashback_at:
                continue
            # Flashback: FLBK, then the last FLASHBACK_S of frames again with their own frame numbers (going
            # back), session times and laps; only the overall frame number keeps counting up.
            flashed = True
            self.flashbacks += 1
            back_t, back = recent[0]
            first = struct.unpack_from("<I", back[0], OVERALL_FRAME_OFFSET)[0]
            last = struct.unpack_from("<I", datagrams[-1], OVERALL_FRAME_OFFSET)[0]
            frame = struct.unpack_from("<I", back[0], OVERALL_FRAME_OFFSET - 4)[0]  # frameIdentifier
            event = build_event(session.fmt, "FLBK", {"flashbackFrameIdentifier": frame,
                                                      "flashbackSessionTime": back_t},
                                session_uid=race.session_uid, session_time=t, frame=frame,
                                overall_frame=last + 1, player_car_index=session.player)  # fmt: skip
            self.send([encode(event)])
            delta = last + 2 - first
            previous = back_t
            for rt, again in list(recent):
                self.timeline += rt - previous
                previous = rt
                self.send([_shift_overall(d, delta) for d in again])
            self.timeline += t - previous
            shift += delta
        self.timeline += 1.0  # back to the menu between sessions
        if restart is not None and not self.stopping:
            self.restarts += 1
            self.play(session, uid=race.session_uid ^ 0x5EED_0000_0000_0001)

    def expected(self) -> dict[str, str]:
        """Retained topics the current session needs, with their payloads (bridge health left out)."""
        from bridge.config import default_settings
        from bridge.publish.fieldread import Context
        from bridge.publish.leds import Lights
        from bridge.state.view import readonly
        from bridge.status import BridgeStatus

        view = readonly(self.state)
        context = Context(view, BridgeStatus(), Lights(view, default_settings().lights))
        return catalogue_payloads(view, context, TOPIC_ROOT, lambda f: f.retain and f.scope not in ("game", "bridge"))


def _shift_overall(data: bytes, by: int) -> bytes:
    """The datagram with `by` added to its overallFrameIdentifier (frame numbers themselves untouched)."""
    if len(data) < OVERALL_FRAME_OFFSET + 4:
        return data
    buf = bytearray(data)
    (value,) = struct.unpack_from("<I", buf, OVERALL_FRAME_OFFSET)
    struct.pack_into("<I", buf, OVERALL_FRAME_OFFSET, value + by)
    return bytes(buf)


def sender_main(args: argparse.Namespace) -> None:
    sender = Sender(args.udp_port, args.speed)

    def stop(*_: Any) -> None:
        sender.stopping = True

    signal.signal(signal.SIGTERM, stop)
    for session in WARMUP:
        sender.play(session)
    print(f"{time.time():.3f} warm", flush=True)
    for session in season():
        if sender.stopping:
            break
        sender.play(session)
    summary = {
        "datagrams": sender.datagrams, "sessions": sender.sessions, "flashbacks": sender.flashbacks,
        "restarts": sender.restarts, "late_frames": sender.late, "game_seconds": sender.timeline,
        "active_cars": len(sender.state.active), "expected": sender.expected(),
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(summary))
    print(f"{time.time():.3f} done", flush=True)


# ----------------------------------------------------------------------------------------------------------
# Processes


def retained_topics(port: int, topic: str, settle: float = 2.0) -> dict[str, str]:
    """What a new subscriber gets as retained messages under `topic`."""
    import paho.mqtt.client as paho

    got: dict[str, str] = {}
    subscribed = threading.Event()

    def on_message(client: Any, userdata: Any, m: Any) -> None:
        if m.retain:
            got[m.topic] = m.payload.decode("utf-8", "replace")

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        subscribed.wait(10)
        time.sleep(settle)
    finally:
        client.loop_stop()
        client.disconnect()
    return got


# ----------------------------------------------------------------------------------------------------------
# The run


@dataclass
class Sample:
    t: float  # seconds since the bridge started
    rss_mb: float
    phase: str  # warmup | season | outage


def run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    procs = Procs(directory)
    try:
        broker = Broker(procs)
        broker.start()
        counter_path = directory / "subscriber.txt"
        with counter_path.open("wb") as out:
            assert MOSQUITTO_SUB is not None
            procs.start([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-V", "mqttv5",
                         "-t", f"{TOPIC_ROOT}/#", "-t", "homeassistant/#", "-F", "%U %t"],
                        "subscriber", stdout=out, stderr=subprocess.DEVNULL)  # fmt: skip
        udp_port = free_port(socket.SOCK_DGRAM)
        config = bridge_config(directory / "rigbridge.yaml", udp_port, broker.port, RIG)
        bridge = start_bridges(procs, {"bridge": config}, 20, 0.05)["bridge"]
        bridge_log = directory / "bridge.log"
        started = time.monotonic()
        start_rss = rss_mb(bridge.pid)

        out = directory / "sender.json"
        sender = procs.start([sys.executable, str(SCRIPT), "--role", "sender", "--udp-port", str(udp_port),
                              "--speed", str(args.speed), "--out", str(out)],
                             "sender", stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
        lines: list[str] = []
        warm = threading.Event()

        def read_sender() -> None:
            assert sender.stdout is not None
            for line in sender.stdout:
                lines.append(line.rstrip())
                if line.split()[1:2] == ["warm"]:
                    warm.set()

        reader = threading.Thread(target=read_sender, daemon=True)
        reader.start()

        samples: list[Sample] = []
        phase = "warmup"
        season_start = outage_start = outage_end = None
        season_end = None
        outage_wall: list[float] = []  # time.time() when the broker stopped, and when it started again
        while True:
            now = time.monotonic()
            if phase == "warmup" and warm.is_set():
                phase, season_start = "season", now
                outage_start = season_start + (args.seconds - args.outage) / 2 if args.outage else None
                outage_end = outage_start + args.outage if outage_start is not None else None
                season_end = season_start + args.seconds
            if outage_start is not None and phase == "season" and now >= outage_start:
                broker.stop()
                outage_wall.append(time.time())
                phase, outage_start = "outage", None
            if phase == "outage" and outage_end is not None and now >= outage_end:
                broker.start()
                outage_wall.append(time.time())
                phase = "season"
            if season_end is not None and now >= season_end:
                break
            if bridge.poll() is not None:
                sys.exit(f"bench: rigbridge exited with {bridge.returncode}:\n{bridge_log.read_text()}")
            if sender.poll() is not None:
                sys.exit(f"bench: the sender exited with {sender.returncode}")
            if phase == "warmup" and now - started > 180:
                sys.exit("bench: the warm-up did not end within 180 s")
            samples.append(Sample(now - started, rss_mb(bridge.pid), phase))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))

        sender.send_signal(signal.SIGTERM)
        sender.wait(60)
        reader.join(5)
        summary = json.loads(out.read_text())
        time.sleep(3.0)  # every rate class has come round after the last datagram
        retained = retained_topics(broker.port, f"{TOPIC_ROOT}/#")
        bridge_cpu = cpu_seconds(bridge.pid)
        end_rss = rss_mb(bridge.pid)
        exit_code = procs.stop(bridge, 15)
        time.sleep(0.5)
        received = [line.split(" ", 1) for line in counter_path.read_bytes().decode("utf-8", "replace").split("\n")]
        received = [(float(stamp), topic) for stamp, topic in (r for r in received if len(r) == 2)]
        back = outage_wall[1] if len(outage_wall) == 2 else float("inf")
        return {
            "samples": samples, "summary": summary, "retained": retained, "exit_code": exit_code,
            "start_rss": start_rss, "end_rss": end_rss, "messages": len(received),
            "topics_seen": len({topic for _, topic in received}), "outage_wall": outage_wall,
            "messages_after_outage": sum(1 for stamp, _ in received if stamp > back),
            "sender_lines": lines, "wall_s": time.monotonic() - started, "bridge_cpu_s": bridge_cpu,
            "log": bridge_log.read_text(errors="replace"),
        }  # fmt: skip
    finally:
        procs.close()


def within_deadband(topic: str, got: str, want: str) -> bool:
    """Equal, or within the field's deadband (a smaller move is not published) plus display rounding."""
    from bridge.publish.catalog import CATALOG

    if got == want:
        return True
    parts = topic[len(TOPIC_ROOT) + 1 :].split("/")
    path = "/".join(["cars", "{car}", *parts[2:]]) if parts[0] == "cars" else "/".join(parts)
    field = next((f for f in CATALOG if f.path == path), None)
    if field is None or not field.deadband:
        return False
    rounding = 0.5 * 10**-field.precision if field.kind == "float" else 0
    try:
        return abs(float(got) - float(want)) <= field.deadband + 2 * rounding + 1e-9
    except ValueError:
        return False


def log_times(text: str, needle: str) -> list[float]:
    """time.time() of the bridge's log lines containing `needle` (its log stamps local time, to the ms)."""
    import datetime

    out = []
    for line in text.splitlines():
        if needle in line:
            with contextlib.suppress(ValueError):
                out.append(datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return out


def slope_mb_per_min(samples: Sequence[Sample]) -> float:
    if len(samples) < 2:
        return 0.0
    xs = [s.t for s in samples]
    ys = [s.rss_mb for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return 60.0 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def report(result: dict[str, Any]) -> bool:
    samples: list[Sample] = result["samples"]
    summary = result["summary"]
    expected: dict[str, str] = summary["expected"]
    retained: dict[str, str] = result["retained"]
    warm = [s for s in samples if s.phase == "warmup"]
    season = [s for s in samples if s.phase != "warmup"]
    outage = [s for s in samples if s.phase == "outage"]
    baseline = statistics.median(s.rss_mb for s in season[:10])
    end = statistics.median(s.rss_mb for s in season[-10:])
    peak = max(s.rss_mb for s in season)
    outage_peak = max((s.rss_mb for s in outage), default=float("nan"))
    growth = peak - baseline

    print()
    print("sessions sent:")
    for line in result["sender_lines"]:
        print("  " + line)
    print()
    print("RSS every 10 s (MB):")
    for s in samples[::10]:
        print(f"  {s.t:6.0f} s  {s.rss_mb:6.1f}  {s.phase}")

    # Retained topics at the end, against what the last session needs.
    def game_topic(topic: str) -> bool:
        relative = topic[len(TOPIC_ROOT) + 1 :]
        return not relative.startswith(("bridge/", "game/", "ha/")) and relative != "status"

    have = {t for t in retained if game_topic(t)}
    strays = sorted(have - set(expected))
    missing = sorted(set(expected) - have)
    wrong = sorted(t for t in have & set(expected) if not within_deadband(t, retained[t], expected[t]))
    cars_have = sorted({int(t.split("/")[3]) for t in have if t.startswith(f"{TOPIC_ROOT}/cars/")})
    active = summary["active_cars"]
    ha_state = sum(1 for t in retained if t.startswith(f"{TOPIC_ROOT}/ha/"))

    log = result["log"]
    drops = retained.get(f"{TOPIC_ROOT}/bridge/dropped", "?")
    outage_note = "no broker outage"
    if len(result["outage_wall"]) == 2:
        down, up = result["outage_wall"]
        back = [t for t in log_times(log, " connected") if t >= up]
        reconnect = f"reconnected {back[0] - up:.1f} s after it came back" if back else "never reconnected"
        outage_note = (f"broker stopped for {up - down:.0f} s: {reconnect} (backoff with jitter, capped at "
                       f"mqtt.reconnect_max_s, 30 s by default); {result['messages_after_outage']} messages at the "
                       f"subscriber after it came back")
    wall = result["wall_s"]
    print()
    print(f"season: {summary['sessions']} sessions ({summary['restarts']} restarts, {summary['flashbacks']} "
          f"flashbacks), {summary['datagrams']} datagrams, {summary['game_seconds'] / 60:.1f} min of game time in "
          f"{wall / 60:.1f} min ({summary['game_seconds'] / wall:.1f}x real time), {summary['late_frames']} frames "
          f"sent more than 0.5 s late")
    print(f"subscriber: {result['messages']} messages, {result['topics_seen']} distinct topics; bridge/dropped at "
          f"the end: {drops}; bridge CPU {result['bridge_cpu_s']:.0f} s in {wall:.0f} s; reconnects logged: "
          f"{log.count('reconnecting')}; exit code on SIGTERM: {result['exit_code']}")
    print(outage_note)
    print(f"last session: {active} active cars; retained game topics {len(have)} (expected {len(expected)}), "
          f"cars with retained topics: {cars_have[:1]}..{cars_have[-1:]} ({len(cars_have)}); "
          f"Home Assistant state copies under ha/: {ha_state}")
    if strays:
        print(f"  left over (retained, not needed by the last session): {len(strays)}, e.g. {strays[:5]}")
    if missing:
        print(f"  missing (needed, not retained): {len(missing)}, e.g. {missing[:5]}")
    if wrong:
        print(f"  retained with another value than the last session's: {len(wrong)}, e.g. "
              f"{[(t, retained[t], expected[t]) for t in wrong[:3]]}")
    print()
    print(machine_line())
    ok_flat = growth <= TARGET_GROWTH_MB
    ok_topics = not strays and cars_have == list(range(active))
    rows = [
        ("RSS at start / after warm-up (median of 10 s)", "-", f"{result['start_rss']:.1f} / {baseline:.1f} MB", ""),
        ("RSS growth over the season: peak - after warm-up", f"<= +{TARGET_GROWTH_MB:.0f} MB",
         f"{growth:+.1f} MB (peak {peak:.1f})", "PASS" if ok_flat else "FAIL"),
        ("RSS end of season (median of 10 s) - after warm-up", "-", f"{end - baseline:+.1f} MB", ""),
        ("RSS slope over the season (least squares)", "-", f"{slope_mb_per_min(season):+.2f} MB/min", ""),
        ("RSS peak during the broker outage - after warm-up", "bounded",
         f"{outage_peak - baseline:+.1f} MB ({len(outage)} s)", "PASS" if outage and
         outage_peak - baseline <= TARGET_GROWTH_MB else "-"),
        ("retained topics left over from earlier sessions", "0", str(len(strays)), "PASS" if ok_topics else "FAIL"),
        ("retained topics the last session needs, missing", "0", str(len(missing)), "PASS" if not missing else "FAIL"),
        ("cars with retained topics / active cars", "equal", f"{len(cars_have)} / {active}",
         "PASS" if cars_have == list(range(active)) else "FAIL"),
    ]  # fmt: skip
    print(table(("item", "target", "result", ""), rows, right=(False, True, True, False)))
    print(f"warm-up: {len(warm)} s; season: {len(season)} s")
    return ok_flat and ok_topics


ROLES = {"sender": sender_main}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=float, default=4.0, help="times faster than real time (default 4)")
    parser.add_argument("--seconds", type=float, default=180.0, help="measured season, wall seconds (default 180)")
    parser.add_argument("--outage", type=float, default=60.0,
                        help="broker stopped this long in the middle of the season, s (default 60; 0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--role", choices=tuple(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--udp-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role:
        return ROLES[args.role](args)
    require_mosquitto()
    print("bench/soak.py:", " ".join(sys.argv[1:]) or "(defaults)",
          f"speed={args.speed} seconds={args.seconds} outage={args.outage}")
    directory = Path(tempfile.mkdtemp(prefix="rigbridge-soak-"))
    try:
        result = run(args, directory)
        report(result)
    finally:
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
