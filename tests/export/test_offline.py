"""`rigbridge export`: the session files of recorded races, the CSV view, practice sessions, a session cut short by
the next one, and clear errors."""

from __future__ import annotations

import csv
import os
import pty
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.export.offline import export_capture
from bridge.games.f1.codec import Packet, decode
from bridge.games.f1.synth import race
from tests.export.conftest import load
from tests.harness import write_capture

Frames = Iterable[tuple[float, list[bytes]]]
SESSION, FINAL_CLASSIFICATION = 1, 8


def run_export(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", "export", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def as_session_type(frames: Frames, session_type: int) -> Iterator[tuple[float, list[bytes]]]:
    """The race as another session type: Session packets say so, and the game sends no final classification."""
    for t, datagrams in frames:
        out = []
        for data in datagrams:
            packet = decode(data)
            if isinstance(packet, Packet) and packet.packet_id == FINAL_CLASSIFICATION:
                continue
            if isinstance(packet, Packet) and packet.packet_id == SESSION:
                values = list(packet.values)
                values[packet.layout.index("sessionType")] = session_type
                data = packet.layout.struct.pack(*values)
            out.append(data)
        yield t, out


def test_csv_has_one_row_per_lap_per_car(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    capture = tmp_path / "race.rbcap"
    write_capture(capture, race(2026, cars=8, laps=2, rate_hz=10, seed=5).frames())
    result = run_export(str(capture), "-o", str(tmp_path / "out"), "--csv")
    assert result.returncode == 0, result.stderr
    json_path, csv_path = (Path(line) for line in result.stdout.splitlines())
    document = load(json_path)
    validate(document)
    assert document["session"]["format"] == 2026
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [(car["index"], lap["lap"], lap["time_ms"]) for car in document["cars"] for lap in car["laps"]]
    assert len(expected) == 8 * 2
    assert [(int(r["car"]), int(r["lap"]), int(r["lap_time_ms"])) for r in rows] == expected
    names = {car["index"]: car["name"] for car in document["cars"]}
    assert all(r["driver"] == names[int(r["car"])] for r in rows)


def test_qualifying_is_saved_too(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    capture = tmp_path / "qualifying.rbcap"
    write_capture(capture, as_session_type(race(2024, cars=3, laps=2, rate_hz=10, seed=8).frames(), 8))
    [(name, document)] = export_capture(capture).documents.items()
    validate(document)
    assert name.endswith("_short_qualifying.json") and len(document["cars"]) == 3


def test_practice_is_saved_without_a_classification(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    capture = tmp_path / "practice.rbcap"
    write_capture(capture, as_session_type(race(2025, cars=4, laps=2, rate_hz=10, seed=7).frames(), 1))
    result = export_capture(capture)
    [(name, document)] = result.documents.items()
    validate(document)
    assert name.endswith("_practice_1.json") and document["session"]["type"] == "practice_1", name
    assert document["classification"] is None and not document["session"]["classified"]
    assert document["session"]["ended_by"] == "session_end"
    assert all(len(car["laps"]) == 2 for car in document["cars"]) and len(document["cars"]) == 4
    assert document["running_order"] and len(document["running_order"]) == 4


def test_a_session_cut_short_by_the_next_keeps_what_it_had(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    """The writer resets the state when the new session's first datagram arrives: the document of the one before
    must already hold its laps, stints, pit stops and events."""
    first = race(2025, cars=4, laps=3, rate_hz=10, seed=11)
    second = race(2025, cars=4, laps=2, rate_hz=10, seed=12)
    cut = first.duration_s * 0.8  # after the pit stops, before the flag
    head = [(t, d) for t, d in first.frames() if t < cut]
    tail = [(t + cut + 1.0, d) for t, d in second.frames()]
    capture = tmp_path / "two.rbcap"
    write_capture(capture, head + tail)
    documents = list(export_capture(capture).documents.values())
    assert len(documents) == 2
    for document in documents:
        validate(document)
    cut_short, complete = documents
    assert cut_short["session"]["uid"] == str(first.session_uid)
    assert complete["session"]["uid"] == str(second.session_uid)
    assert cut_short["session"]["ended_by"] == "new_session" and cut_short["classification"] is None
    assert all(car["laps"] and car["pit_stops"] for car in cut_short["cars"])
    assert cut_short["running_order"] and cut_short["events"][0]["code"] == "SSTA"
    first_seqs = {e["seq"] for e in cut_short["events"]}
    assert not first_seqs & {e["seq"] for e in complete["events"]}  # no event of one session in the other
    assert complete["events"][0]["code"] == "SSTA" and complete["session"]["classified"]


def test_missing_or_invalid_captures_and_unwritable_folders_fail_in_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.rbcap"
    write_capture(good, race(2025, cars=2, laps=1, rate_hz=10, seed=1).frames())
    garbage = tmp_path / "garbage.rbcap"
    garbage.write_bytes(b"not a capture at all")
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    cases = {
        (str(tmp_path / "missing.rbcap"), "-o", str(tmp_path / "out")): "missing.rbcap: no such file",
        (str(garbage), "-o", str(tmp_path / "out")): "garbage.rbcap: not a rigbridge capture file",
        (str(good), "-o", str(blocker / "sub")): "cannot create it",
        (str(good), "-o", str(blocker)): "not a directory",
    }
    for args, message in cases.items():
        result = run_export(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rigbridge export: ") and message in lines[0], lines
        assert result.stdout == ""
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_capture_without_a_session_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "menus.rbcap"
    write_capture(empty, [(0.0, [b"\x00" * 40])])
    result = run_export(str(empty), "-o", str(tmp_path))
    assert result.returncode == 1
    assert "no session to export" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_bar_only_on_a_terminal(tmp_path: Path, terminal: bool) -> None:
    capture = tmp_path / "race.rbcap"
    write_capture(capture, race(2025, cars=2, laps=1, rate_hz=10, seed=2).frames())
    if not terminal:
        result = run_export(str(capture), "-o", str(tmp_path))
        assert result.returncode == 0 and result.stderr == ""
        return
    leader, follower = pty.openpty()
    try:
        process = subprocess.run([sys.executable, "-m", "bridge", "export", str(capture), "-o", str(tmp_path)],
                                 stdout=subprocess.PIPE, stderr=follower, timeout=120)
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert process.returncode == 0
    assert b"race.rbcap" in shown and b"100.0%" in shown and b"[####" in shown
