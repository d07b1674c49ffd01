"""The decoder on the real full datagrams: what must decode does, what must not is rejected by reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.games.f1.codec import UNKNOWN_FORMAT, WRONG_SIZE, decode, encode

SUSPECT_WRONG_LENGTH = {"2024-03-RDFL.bin", "2024-03-SCAR.bin"}


def real_files(root: Path, prefix: str) -> list[Path]:
    return sorted(p for p in root.glob(f"{prefix}-*.bin"))


@pytest.mark.parametrize("year", ["2023", "2024"])
def test_every_real_datagram_decodes_and_round_trips(parser_captures: Path, year: str) -> None:
    files = real_files(parser_captures, year)
    assert files, f"no {year} captures found"
    for path in files:
        data = path.read_bytes()
        result = decode(data)
        if path.name in SUSPECT_WRONG_LENGTH:
            assert not result and result.reason == WRONG_SIZE, path.name
            continue
        assert result, f"{path.name}: {result!r}"
        assert result.packet_format == int(year)
        assert encode(result) == data, path.name


def test_f1_22_datagrams_are_an_unsupported_format(parser_captures: Path) -> None:
    files = real_files(parser_captures, "2022")
    assert len(files) > 10
    for path in files:
        result = decode(path.read_bytes())
        assert not result and result.reason == UNKNOWN_FORMAT and result.packet_format == 2022, path.name


def test_known_values_from_real_captures(parser_captures: Path) -> None:
    session = decode((parser_captures / "2024-01.bin").read_bytes())
    assert (session["trackId"], session["trackLength"], session["sessionType"]) == (3, 5408, 15)
    assert session["sector2LapDistanceStart"] == pytest.approx(1804.6, abs=0.1)
    spt = decode((parser_captures / "2024-03-SPTP.bin").read_bytes())
    assert spt.code == "SPTP" and spt.detail("vehicleIdx") == 1
    assert spt.detail("speed") == pytest.approx(268.11, abs=0.01)
    flbk = decode((parser_captures / "2024-03-FLBK.bin").read_bytes())
    assert flbk.details()["flashback_frame_identifier"] == 528
    tt = decode((parser_captures / "2024-14.bin").read_bytes())
    assert tt["personalBestDataSet"]["lapTimeInMS"] == 87027
