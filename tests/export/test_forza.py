"""Forza sends the player's car only: its laps, its stint and the session file come from the same neutral code."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.export.files import csv_text
from bridge.export.offline import export_capture
from bridge.games.forza.synth import race
from tests.harness import write_capture


@pytest.mark.parametrize("variant", ["motorsport", "dash"])
def test_forza_race_exports_the_players_laps(tmp_path: Path, variant: str, validate: Callable[[Any], None]) -> None:
    capture = tmp_path / "forza.rbcap"
    write_capture(capture, race(variant, laps=3, rate_hz=20).frames())
    result = export_capture(capture)
    assert (result.game, result.dropped, result.failed) == ("forza", 0, 0)
    [(name, document)] = result.documents.items()
    validate(document)
    session = document["session"]
    assert (session["game"], session["uid"], session["ended_by"], session["classified"]) == (
        "forza", "0", "left_race", False)  # back in the menus after the race
    assert name.endswith("_forza_session.json")
    [car] = document["cars"]
    assert car["index"] == 0 and [lap["lap"] for lap in car["laps"]] == [1, 2, 3]
    assert all(lap["time_ms"] > 30_000 and lap["position"] for lap in car["laps"])
    assert [(s["start_lap"], s["end_lap"], s["laps"]) for s in car["stints"]] == [(1, 3, 3)]
    assert document["classification"] is None and document["events"] == []
    rows = list(csv.DictReader(io.StringIO(csv_text(document))))
    assert [(r["car"], r["lap"]) for r in rows] == [("0", "1"), ("0", "2"), ("0", "3")]


def test_two_forza_races_in_a_row_give_two_files(tmp_path: Path, validate: Callable[[Any], None]) -> None:
    """Forza names no session: the next race shows as the laps starting over after the menus."""
    first = list(race("motorsport", laps=2, rate_hz=20, seed=1).frames())
    second = list(race("motorsport", laps=3, rate_hz=20, seed=2).frames())
    gap = first[-1][0] + 5.0
    capture = tmp_path / "two.rbcap"
    write_capture(capture, first + [(t + gap, d) for t, d in second])
    result = export_capture(capture)
    assert result.ends == ["left_race", "left_race"]
    documents = list(result.documents.values())
    assert len(documents) == 2
    for document in documents:
        validate(document)
    assert [[lap["lap"] for lap in d["cars"][0]["laps"]] for d in documents] == [[1, 2], [1, 2, 3]]
