"""The real game's datagrams (../shared/captures): a session with the game's FinalClassification exports to a file
that fits the schema, its classification as the packet has it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.export.offline import export_capture
from bridge.games.f1.codec import Packet, decode
from tests.harness import write_capture

FINAL_CLASSIFICATION = 8


def sessions_with_classification(folder: Path) -> list[tuple[str, list[tuple[int, bytes]]]]:
    """Per format, the datagrams of the session UID that has a FinalClassification (and those of UID 0, which
    belong to no session), FinalClassification last: (format, [(packet id, datagram)])."""
    found = []
    for fmt in (2023, 2024, 2025):
        decoded = [(p, decode(p.read_bytes())) for p in sorted(folder.glob(f"{fmt}-*.bin"))]
        valid = [(p, packet) for p, packet in decoded if isinstance(packet, Packet)]
        uids = {packet.session_uid for _, packet in valid if packet.packet_id == FINAL_CLASSIFICATION}
        for uid in uids:
            chosen = [(packet.packet_id, p.read_bytes()) for p, packet in valid if packet.session_uid in (uid, 0)]
            chosen.sort(key=lambda item: item[0] == FINAL_CLASSIFICATION)
            found.append((str(fmt), chosen))
    return found


def test_real_sessions_with_a_classification_export_and_validate(
    parser_captures: Path, tmp_path: Path, validate: Callable[[Any], None]
) -> None:
    sessions = sessions_with_classification(parser_captures)
    assert {fmt for fmt, _ in sessions} >= {"2023", "2024"}, "the captures hold FinalClassification for 2023, 2024"
    for fmt, datagrams in sessions:
        capture = tmp_path / f"{fmt}.rbcap"
        write_capture(capture, [(n * 0.05, [data]) for n, (_, data) in enumerate(datagrams)])
        result = export_capture(capture)
        assert result.failed == 0 and result.game == "f1", fmt
        classified = [d for d in result.documents.values() if d["session"]["classified"]]
        assert len(classified) == 1, (fmt, list(result.documents))
        for document in result.documents.values():
            validate(document)
        packet = decode(datagrams[-1][1])
        assert isinstance(packet, Packet) and packet.packet_id == FINAL_CLASSIFICATION
        rows = classified[0]["classification"]["cars"]
        assert len(rows) == packet["numCars"], fmt
        layout = packet.layout
        for row in rows:
            i = row["index"]
            for key, field in (("position", "position"), ("laps", "numLaps"), ("grid_position", "gridPosition"),
                               ("pit_stops", "numPitStops"), ("points", "points")):
                assert row[key] == packet.values[layout.index("classificationData", i, field)], (fmt, i, key)
        assert [row["position"] for row in rows] == sorted(row["position"] for row in rows)

