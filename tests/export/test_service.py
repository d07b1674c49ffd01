"""The export service when the disk says no: a folder gone mid-run, a full disk. Counted, logged, never fatal."""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.export.service import ExportService
from bridge.faults import Faults
from bridge.games.f1.synth import race
from bridge.state.session import SessionState
from bridge.state.view import readonly
from tests.broker import Mosquitto
from tests.export.conftest import load
from tests.export.helpers import play
from tests.harness import Subscriber, send_frames
from tools.net import free_port


@dataclass(frozen=True)
class Section:
    dir: str | None
    idle_s: float = 60.0


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.01)


def feed(state: SessionState, service: ExportService, seed: int) -> None:
    """A short race through F1's writer, each changed packet handed to the service as the bridge does."""
    play(state, service.on_change, race(2025, cars=2, laps=1, rate_hz=10, seed=seed).frames())


def test_a_folder_replaced_by_a_file_is_counted_and_the_next_session_is_written(
    tmp_path: Path, validate: Callable[[Any], None]
) -> None:
    folder = tmp_path / "exports"

    async def main() -> tuple[ExportService, Faults]:
        state, faults = SessionState(), Faults()
        service = ExportService(Section(str(folder)), readonly(state), faults)
        await service.start()
        try:
            feed(state, service, seed=1)
            await until(lambda: service.written == 1 and not service.pending, "first session written")
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
            folder.write_bytes(b"")  # the folder is gone and a file sits in its place: mkdir and writes fail
            feed(state, service, seed=2)
            await until(lambda: service.failed == 1 and not service.pending, "second session failed")
            folder.unlink()
            feed(state, service, seed=3)
            await until(lambda: service.written == 2 and not service.pending, "third session written")
        finally:
            await service.close()
        return service, faults

    service, faults = asyncio.run(main())
    assert (service.written, service.failed, service.dropped) == (2, 1, 0)
    assert faults.count("service.export") == 1 and faults.errors  # an error, counted under the service's name
    [path] = folder.iterdir()  # the third session; no temporary left behind
    validate(load(path))
    assert path == service.last_path


def test_close_writes_the_session_in_progress(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    """The bridge stopping mid-session: the laps so far are written at close (ended_by stop)."""

    async def main() -> ExportService:
        state = SessionState()
        service = ExportService(Section(str(tmp_path)), readonly(state), Faults())
        await service.start()
        frames = list(race(2025, cars=3, laps=3, rate_hz=10, seed=4).frames())
        play(state, service.on_change, frames[: len(frames) // 2])
        assert service.written == 0
        await service.close()
        return service

    service = asyncio.run(main())
    assert service.written == 1 and service.last_path is not None
    document = load(service.last_path)
    validate(document)
    assert document["session"]["ended_by"] == "stop" and all(car["laps"] for car in document["cars"])


@pytest.mark.broker
@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE to stand for a full disk")
def test_full_disk_is_logged_and_counted_and_the_bridge_goes_on(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """`rigbridge run` with files limited to 2 KiB (a full disk to the writes): the session file cannot be written,
    the log says so, and the bridge keeps receiving and publishing."""
    port = free_port(socket.SOCK_DGRAM)
    config = tmp_path / "rigbridge.yaml"
    config.write_text(
        f"udp: {{bind: 127.0.0.1, port: {port}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {mosquitto.port}, rig: full}}\n"
        "metrics: {enabled: false}\nhomeassistant: {enabled: false}\n"
        f"export: {{dir: {tmp_path / 'exports'}, idle_s: 1}}\n"
    )

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    process = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, preexec_fn=limit)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    subscriber = Subscriber(mosquitto.port, "rigbridge/full/#").start()
    try:
        deadline = time.monotonic() + 15
        while not any("listening" in line for line in lines):
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        send_frames(port, race(2025, cars=3, laps=2, rate_hz=10, seed=6).frames(), speed=20.0)
        deadline = time.monotonic() + 15
        while not any("could not write" in line for line in lines):
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        seen = len(subscriber.snapshot())
        send_frames(port, race(2025, cars=3, laps=1, rate_hz=10, seed=7).frames(), speed=20.0, duration=2.0)
        subscriber.wait_for(lambda messages: len(messages) > seen + 10, 10, "messages after the failed write")
        assert process.poll() is None, "".join(lines)
    finally:
        subscriber.stop()
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()
    log = "".join(lines)
    assert "service.export: could not write" in log and "File too large" in log
    assert process.returncode == 0, log
    assert not [p for p in (tmp_path / "exports").iterdir() if p.suffix == ".json" and p.stat().st_size]
