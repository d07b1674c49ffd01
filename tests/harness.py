"""Test harness: a bridge on its own thread, a real MQTT subscriber, and a paced UDP sender of a synthetic race."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.properties import Properties

from bridge.app import Bridge
from bridge.config import Settings, default_settings


def settings_for(broker_port: int, rig: str = "rig1", **sections: dict[str, Any]) -> Settings:
    """Defaults with the bridge on a free loopback UDP port and the test broker; sections override fields."""
    s = default_settings()
    s = dataclasses.replace(
        s,
        udp=dataclasses.replace(s.udp, bind="127.0.0.1", port=0),
        mqtt=dataclasses.replace(s.mqtt, host="127.0.0.1", port=broker_port, rig=rig, keepalive=5,
                                 reconnect_min_s=0.2, reconnect_max_s=1.0, client_id=""),
        metrics=dataclasses.replace(s.metrics, port=0),
    )
    for name, values in sections.items():
        s = dataclasses.replace(s, **{name: dataclasses.replace(getattr(s, name), **values)})
    if "mqtt" in sections:  # a fresh client id for the new rig / base topic
        s = dataclasses.replace(s, mqtt=dataclasses.replace(s.mqtt, client_id=""))
    return s


class BridgeThread:
    """A `Bridge` running on its own event loop in a thread, as `rigbridge run` would run it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bridge: Bridge | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self.bridge = Bridge(self.settings)
            task = asyncio.create_task(self.bridge.run())
            while not self.bridge.receiver.running and not task.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test
            self.error = exc
        finally:
            self._ready.set()

    def start(self, wait_connected: bool = True) -> BridgeThread:
        self._thread.start()
        self._ready.wait(10)
        if self.error:
            raise self.error
        if wait_connected:
            self.wait(lambda b: b.status.broker_connected, 10, "broker connection")
        return self

    def wait(self, predicate: Callable[[Bridge], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bridge is not None and predicate(self.bridge):
                return
            if self.error:
                raise self.error
            time.sleep(0.02)
        raise TimeoutError(f"bridge: no {what} within {timeout} s")

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the bridge's loop (readers and writers stay on one thread) and return its result."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_call(fn), self._loop)
        return future.result(10)

    @property
    def udp_port(self) -> int:
        assert self.bridge is not None
        return self.bridge.receiver.address[1]

    def stop(self) -> None:
        if self._loop is not None and self.bridge is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.bridge.stop)
        self._thread.join(15)
        assert not self._thread.is_alive(), "bridge did not stop"


async def _call(fn: Callable[[], Any]) -> Any:
    return fn()


@dataclass
class Received:
    topic: str
    payload: str
    retain: bool
    qos: int
    properties: Any
    t: float


@dataclass
class Subscriber:
    """A real MQTT client collecting everything under `topic` (QoS 1 subscription, so QoS shows as published)."""

    port: int
    topic: str = "rigbridge/#"
    protocol: int = paho.MQTTv5
    username: str | None = None
    password: str | None = None
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=self.protocol)
        if self.username:
            self.client.username_pw_set(self.username, self.password)
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, m: paho.MQTTMessage) -> None:
        props = getattr(m, "properties", None)
        with self._lock:
            self.messages.append(
                Received(m.topic, m.payload.decode("utf-8"), bool(m.retain), m.qos, props, time.monotonic())
            )

    def start(self) -> Subscriber:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self._connected.wait(5), "subscriber could not connect"
        result, _ = self.client.subscribe(self.topic, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS
        assert self._subscribed.wait(5), "subscription not acknowledged"
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def last(self) -> dict[str, Received]:
        return {m.topic: m for m in self.snapshot()}

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return
            time.sleep(0.02)
        raise TimeoutError(f"subscriber: no {what} within {timeout} s")

    def payloads(self, topic: str) -> list[str]:
        return [m.payload for m in self.snapshot() if m.topic == topic]


class ProcessSubscriber:
    """`mosquitto_sub` in its own process writing to a file: a subscriber that takes no CPU from the bridge.

    Same reading interface as `Subscriber` (snapshot, last, payloads, wait_for); receive times come from
    mosquitto_sub's own clock (CLOCK_REALTIME), compared only with each other.
    """

    FORMAT = "%U\t%q\t%r\t%t\t%p"

    def __init__(self, port: int, topic: str = "rigbridge/#", directory: Path | None = None) -> None:
        import tempfile

        self.port, self.topic = port, topic
        self.path = Path(tempfile.mkstemp(prefix="sub-", suffix=".log", dir=directory)[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessSubscriber:
        out = self.path.open("wb")
        self.process = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t", self.topic, "-q", "1",
             "-V", "mqttv5", "-F", self.FORMAT],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        out.close()
        time.sleep(0.3)  # subscribed before anything is published
        return self

    def stop(self) -> None:
        if self.process is not None:
            time.sleep(0.3)
            self.process.terminate()
            self.process.wait(5)

    def snapshot(self) -> list[Received]:
        out = []
        for line in self.path.read_bytes().decode("utf-8", "replace").split("\n"):
            parts = line.split("\t", 4)
            if len(parts) == 5:
                stamp, qos, retain, topic, payload = parts
                out.append(Received(topic, payload, retain == "1", int(qos), None, float(stamp)))
        return out

    last = Subscriber.last
    wait_for = Subscriber.wait_for
    payloads = Subscriber.payloads


def retained_snapshot(port: int, topic: str = "rigbridge/#", settle: float = 1.0, **kw: Any) -> dict[str, Received]:
    """What a new subscriber gets right after subscribing: the retained messages."""
    sub = Subscriber(port, topic, **kw).start()
    time.sleep(settle)
    sub.stop()
    return {m.topic: m for m in sub.snapshot() if m.retain}


def message_expiry(props: Properties | None) -> int | None:
    return getattr(props, "MessageExpiryInterval", None) if props is not None else None


def send_frames(port: int, frames: Iterable[tuple[float, list[bytes]]], *, speed: float = 1.0,
                duration: float | None = None, host: str = "127.0.0.1") -> int:
    """Send a synthetic race's frames over real UDP, paced by their timestamps / `speed`; returns datagrams sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    first: float | None = None
    sent = 0
    try:
        for t, datagrams in frames:
            first = t if first is None else first
            offset = (t - first) / speed
            if duration is not None and offset > duration:
                break
            delay = start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for data in datagrams:
                sock.sendto(data, (host, port))
                sent += 1
    finally:
        sock.close()
    return sent


def write_capture(path: Path, frames: Iterable[tuple[float, list[bytes]]]) -> int:
    """A rigbridge capture of the frames, each datagram stamped with its frame time; returns datagrams written."""
    from bridge.ingest.capture import CaptureWriter

    count = 0
    with CaptureWriter(path) as writer:
        for t, datagrams in frames:
            for data in datagrams:
                writer.write(data, int(t * 1e9))
                count += 1
    return count


def replay(port: int, capture: Path, speed: float) -> None:
    """`rigbridge replay` in its own process, so the sender never competes with the bridge for the GIL."""
    subprocess.run(
        [sys.executable, "-m", "bridge", "replay", str(capture), "--to", f"127.0.0.1:{port}", "--speed", str(speed)],
        check=True,
        capture_output=True,
        timeout=300,
    )


class RigbridgeProcess:
    """The real `rigbridge run` as a child process, its output in a file (readable at any time)."""

    def __init__(self, config: Path, *args: str) -> None:
        self.log_path = config.with_suffix(f".{time.monotonic_ns()}.log")
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "run", "-c", str(config), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text()

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def poll(self) -> int | None:
        return self.process.poll()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> RigbridgeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
