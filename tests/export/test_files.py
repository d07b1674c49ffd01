"""The export's files: names from the session, atomic replacement, the CSV view."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bridge.export.files import CSV_COLUMNS, csv_text, document_bytes, file_name, write_atomic

# 2026-12-05 08:11:21 UTC
STARTED_NS = 1_796_458_281 * 10**9


def test_file_name_has_date_time_track_and_type() -> None:
    assert file_name(STARTED_NS, "monza", "race") == "2026-12-05_081121_monza_race.json"
    assert file_name(STARTED_NS, "Spa / Francorchamps!", "short_qualifying") == (
        "2026-12-05_081121_spa_francorchamps_short_qualifying.json"
    )


def test_file_name_from_hostile_text_stays_one_short_safe_segment() -> None:
    name = file_name(STARTED_NS, "../../etc/passwd\0" + "x" * 500, "")
    assert "/" not in name and "\0" not in name and ".." not in name
    assert name.endswith("_session.json") and len(name) < 120


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    write_atomic(tmp_path, "a.json", b"old")
    path = write_atomic(tmp_path, "a.json", b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    write_atomic(tmp_path, "a.json", b"old")
    (tmp_path / "a.json.d").mkdir()  # the rename target is a directory: the rename fails after the data is written
    with pytest.raises(OSError):
        write_atomic(tmp_path, "a.json.d", b"new")
    assert (tmp_path / "a.json").read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_document_bytes_are_json_whatever_the_values() -> None:
    assert json.loads(document_bytes({"a": [1, "é"]})) == {"a": [1, "é"]}
    hostile: dict[str, Any] = {"a": float("nan"), "b": (float("-inf"), b"\xff\x00"), "3": {"c": object}}
    assert json.loads(document_bytes(hostile)) == {"a": None, "b": [None, "\ufffd\x00"], "3": {"c": str(object)}}


def test_csv_has_one_row_per_lap_per_car_with_the_car_repeated() -> None:
    document = {
        "session": {"started_at": "2026-12-05T08:11:21Z", "track": "monza", "type": "race"},
        "cars": [
            {"index": 0, "name": "A, with comma", "team": "x", "race_number": 1, "position": 2,
             "laps": [{"lap": 1, "time_ms": 90000, "sectors_ms": [30000, 30000, 30000], "valid": True},
                      {"lap": 2, "time_ms": 89000, "sectors_ms": [29000, None], "valid": False}]},
            {"index": 3, "name": "B", "laps": [{"lap": 1, "time_ms": 91000, "compound": "soft"}]},
            {"index": 4, "name": "no laps", "laps": []},
        ],
    }
    rows = list(csv.reader(io.StringIO(csv_text(document))))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [(r["car"], r["lap"]) for r in body] == [("0", "1"), ("0", "2"), ("3", "1")]
    assert body[0]["driver"] == "A, with comma" and body[1]["valid"] == "false" and body[2]["compound"] == "soft"
    sectors = (body[0]["sector3_ms"], body[1]["sector2_ms"], body[1]["sector3_ms"], body[2]["sector1_ms"])
    assert sectors == ("30000", "", "", "")
    assert all(r["track"] == "monza" for r in body)


def test_write_atomic_into_a_folder_that_is_a_file_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    with pytest.raises(OSError):
        write_atomic(blocker, "a.json", b"x")
    assert os.listdir(tmp_path) == ["blocker"]
