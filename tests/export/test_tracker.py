"""The tracker and its ledger: work per lap and per event, not per packet; the ends of a session."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from random import Random
from typing import Any

import pytest

from bridge.export.files import document_bytes
from bridge.export.offline import export_capture
from bridge.export.service import ExportService
from bridge.export.tracker import ExportTracker
from bridge.faults import Faults
from bridge.games.f1.synth import race
from bridge.state import results
from bridge.state.session import SessionState
from bridge.state.view import readonly
from tests.export.conftest import load
from tests.export.helpers import play
from tests.export.test_service import Section, until
from tests.harness import write_capture


def test_the_ledger_works_per_lap_not_per_packet(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    for name in ("lap_record", "standings", "stints", "pit_stops", "results"):
        real = getattr(results, name)

        def counted(*args: Any, _real: Callable[..., Any] = real, _name: str = name) -> Any:
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setattr(results, name, counted)
    state = SessionState()
    documents: list[dict[str, Any]] = []
    tracker = ExportTracker(readonly(state), lambda name, doc: documents.append(doc), time.time_ns)
    packets, _ = play(state, tracker.on_change, race(2025, cars=6, laps=3, rate_hz=20, seed=3).frames())
    laps = sum(len(car["laps"]) for car in documents[-1]["cars"])
    assert laps == 18 and packets > 40_000
    assert calls["lap_record"] <= 2 * laps  # once per lap, again only if the game's history corrects it
    assert calls["standings"] <= 3 * laps and calls["stints"] <= 4 * laps and calls["results"] <= 2
    assert sum(calls.values()) < packets / 100


def test_silence_ends_the_session(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    frames = list(race(2025, cars=3, laps=3, rate_hz=10, seed=9).frames())

    async def main() -> ExportService:
        state = SessionState()
        service = ExportService(Section(str(tmp_path), idle_s=1.0), readonly(state), Faults())
        await service.start()
        try:
            play(state, service.on_change, frames[: len(frames) // 2])  # the game stops mid-race
            assert service.written == 0
            await until(lambda: service.written == 1, "the file after the silence", timeout=5)
        finally:
            await service.close()
        return service

    service = asyncio.run(main())
    assert service.written == 1 and service.last_path is not None  # close() had nothing new to write
    document = load(service.last_path)
    validate(document)
    assert document["session"]["ended_by"] == "idle" and document["classification"] is None


def test_a_recorded_gap_longer_than_idle_ends_the_session_offline(tmp_path: Path) -> None:
    frames = list(race(2025, cars=2, laps=2, rate_hz=10, seed=10).frames())
    cut = len(frames) * 3 // 4  # after the first lap
    gapped = frames[:cut] + [(t + 120.0, d) for t, d in frames[cut:]]
    capture = tmp_path / "gap.rbcap"
    write_capture(capture, gapped)
    result = export_capture(capture, idle_s=60.0)
    assert result.ends == ["idle", "classification", "session_end"]  # the pause wrote it, the end rewrote it
    [document] = result.documents.values()
    assert all(len(car["laps"]) == 2 for car in document["cars"])
    assert export_capture(capture, idle_s=200.0).ends == ["classification", "session_end"]


def test_hostile_datagrams_never_break_the_export(validate: Callable[[Any], None]) -> None:
    """Bytes flipped in one datagram in twenty (valid sizes, so they decode): the tracker never raises, and every
    document it hands on is JSON that fits the schema."""
    rng = Random(5)
    state = SessionState()
    documents: list[dict[str, Any]] = []
    tracker = ExportTracker(readonly(state), lambda name, doc: documents.append(doc), time.time_ns)

    def mutate(data: bytes) -> bytes:
        if rng.random() >= 0.05:
            return data
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(29, len(mutated))] = rng.randrange(256)  # the body: the header stays valid
        return bytes(mutated)

    play(state, tracker.on_change, race(2025, cars=4, laps=2, rate_hz=10, seed=13).frames(), mutate)
    tracker.finish("stop")
    assert documents
    for document in documents:
        validate(json.loads(document_bytes(document)))
