"""Shared fixtures for the metrics tests: a synthetic race, and a bridge that has read it (not running)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.app import Bridge
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.publish.metrics import Family, Sources, families, take_snapshot
from tests.harness import settings_for, write_capture

SHORT_TRACK = 17  # Austria: ~69 s laps, so 80 s of race completes a lap (last lap and sector times exist)
RACE_SECONDS = 80.0
UNIT_RIG = "unit-rig"


def synthetic_frames(seconds: float, **config: object) -> list[tuple[float, list[bytes]]]:
    options = {"packet_format": 2025, "cars": 20, "laps": 3, "seed": 7, "track_id": SHORT_TRACK, **config}
    frames = []
    for t, datagrams in SyntheticRace(SynthConfig(**options)).frames():  # type: ignore[arg-type]
        if t > seconds:
            break
        frames.append((t, datagrams))
    return frames


def feed(bridge: Bridge, frames: list[tuple[float, list[bytes]]]) -> None:
    """Every datagram through the bridge's datagram handler, as the receiver would hand them over."""
    for _, datagrams in frames:
        for data in datagrams:
            bridge.ingest.count_received(len(data), time.monotonic_ns())
            bridge.on_datagram(data, ("127.0.0.1", 20777), time.monotonic_ns())


@pytest.fixture(scope="session")
def race() -> list[tuple[float, list[bytes]]]:
    return synthetic_frames(RACE_SECONDS)


@pytest.fixture(scope="session")
def race_capture(race: list[tuple[float, list[bytes]]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metrics-race") / "race.rbcap"
    write_capture(path, race)
    return path


@pytest.fixture(scope="session")
def raced_bridge(race: list[tuple[float, list[bytes]]]) -> Bridge:
    """A bridge (never started) whose state holds 80 s of a 20-car race. Tests only read it."""
    bridge = Bridge(settings_for(1883, rig=UNIT_RIG))
    feed(bridge, race)
    return bridge


@pytest.fixture(scope="session")
def raced_families(raced_bridge: Bridge) -> list[Family]:
    assert raced_bridge.metrics is not None
    return families(take_snapshot(Sources.from_deps(raced_bridge.deps), raced_bridge.metrics.lag), UNIT_RIG)
