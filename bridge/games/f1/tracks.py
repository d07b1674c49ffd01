"""Circuit facts used by the synthetic race: lap length, sector starts, typical race lap, pit lane, tyre range.

Lengths are the official circuit lengths (or the game's own value where a real Session packet showed it:
Sakhir 5408 m, Silverstone 5890 m); the short club layouts (ids 22-24) are approximate. Sector start
distances are approximate except where noted; the game reports the real ones in Session
(`sector2LapDistanceStart`, `sector3LapDistanceStart`, format 2024+). `hardest_compound` is a typical
allocation (C1 hardest ... C6 softest; C6 only exists from format 2025).
Ids are the game's `trackId` (see `enums.table("trackId", fmt)`; the list differs per format).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.games.f1 import enums


@dataclass(frozen=True, slots=True)
class TrackInfo:
    track_id: int
    name: str
    length_m: int
    sector2_start_m: float
    sector3_start_m: float
    race_lap_s: float  # a typical clean race lap
    pit_speed_kph: int = 80
    pit_entry_m: float = 300.0  # pit lane starts this far before the line
    pit_exit_m: float = 350.0  # and ends this far after it
    hardest_compound: int = 2  # the race's hard tyre is C<n>; medium C<n+1>, soft C<n+2>
    full_layout: bool = True  # False for the short / historic club layouts


def _t(
    track_id: int,
    name: str,
    length: int,
    s2: float,
    s3: float,
    lap: float,
    *,
    pit: int = 80,
    pit_in: float = 300.0,
    pit_out: float = 350.0,
    hard: int = 2,
    full: bool = True,
) -> TrackInfo:
    """Sector starts below 1.0 are fractions of the lap; larger values are metres."""
    s2_m = s2 * length if s2 < 1.0 else s2
    s3_m = s3 * length if s3 < 1.0 else s3
    return TrackInfo(track_id, name, length, round(s2_m, 1), round(s3_m, 1), lap, pit, pit_in, pit_out, hard, full)


TRACKS: dict[int, TrackInfo] = {
    t.track_id: t
    for t in (
        _t(0, "Melbourne", 5278, 0.33, 0.70, 80.5, hard=3),
        _t(1, "Paul Ricard", 5842, 0.30, 0.68, 96.0, hard=2),
        _t(2, "Shanghai", 5451, 0.34, 0.66, 96.5, hard=2),
        _t(3, "Sakhir (Bahrain)", 5408, 1804.6, 4006.0, 95.5, hard=1),  # sectors from a real F1 24 packet
        _t(4, "Catalunya", 4657, 0.35, 0.70, 77.5, hard=1),
        _t(5, "Monaco", 3337, 0.30, 0.66, 74.5, pit=60, pit_in=200.0, pit_out=220.0, hard=4),
        _t(6, "Montreal", 4361, 0.30, 0.64, 75.5, hard=3),
        _t(7, "Silverstone", 5890, 0.32, 0.70, 89.5, hard=1),
        _t(8, "Hockenheim", 4574, 0.36, 0.72, 75.5, hard=2),
        _t(9, "Hungaroring", 4381, 0.35, 0.72, 80.5, hard=3),
        _t(10, "Spa", 7004, 0.28, 0.68, 107.5, hard=2),
        _t(11, "Monza", 5793, 0.34, 0.67, 83.5, hard=3),
        _t(12, "Singapore", 4940, 0.33, 0.67, 96.5, pit=60, hard=3),
        _t(13, "Suzuka", 5807, 0.34, 0.70, 93.5, hard=1),
        _t(14, "Abu Dhabi", 5281, 0.33, 0.65, 88.5, hard=3),
        _t(15, "Texas", 5513, 0.33, 0.68, 99.0, hard=2),
        _t(16, "Brazil", 4309, 0.27, 0.66, 73.5, hard=2),
        _t(17, "Austria", 4318, 0.32, 0.66, 68.5, hard=3),
        _t(18, "Sochi", 5848, 0.33, 0.70, 98.0, hard=3),
        _t(19, "Mexico", 4304, 0.35, 0.70, 80.5, hard=2),
        _t(20, "Baku (Azerbaijan)", 6003, 0.34, 0.68, 105.5, hard=3),
        _t(21, "Sakhir Short", 3543, 0.35, 0.70, 57.0, hard=1, full=False),
        _t(22, "Silverstone Short", 2000, 0.35, 0.68, 38.0, pit_in=200.0, pit_out=220.0, hard=1, full=False),
        _t(23, "Texas Short", 3400, 0.35, 0.68, 60.0, hard=2, full=False),
        _t(24, "Suzuka Short", 2243, 0.36, 0.70, 43.0, pit_in=200.0, pit_out=220.0, hard=1, full=False),
        _t(25, "Hanoi", 5607, 0.34, 0.66, 100.0, hard=2),
        _t(26, "Zandvoort", 4259, 0.33, 0.70, 74.5, pit=60, hard=1),
        _t(27, "Imola", 4909, 0.33, 0.68, 79.5, hard=4),
        _t(28, "Portimão", 4653, 0.34, 0.70, 83.0, hard=1),
        _t(29, "Jeddah", 6174, 0.33, 0.68, 92.0, hard=2),
        _t(30, "Miami", 5412, 0.33, 0.65, 92.0, hard=2),
        _t(31, "Las Vegas", 6201, 0.33, 0.66, 96.0, hard=3),
        _t(32, "Losail", 5419, 0.33, 0.70, 86.0, hard=1),
        _t(39, "Silverstone (Reverse)", 5890, 0.30, 0.68, 90.0, hard=1),
        _t(40, "Austria (Reverse)", 4318, 0.34, 0.68, 69.0, hard=3),
        _t(41, "Zandvoort (Reverse)", 4259, 0.30, 0.67, 75.0, pit=60, hard=1),
        _t(42, "Madrid", 5474, 0.33, 0.67, 90.0, hard=3),
    )
}


def tracks_for(packet_format: int, *, full_only: bool = False) -> list[TrackInfo]:
    """The tracks the game of this format knows (its `trackId` table), sorted by id."""
    known = enums.table("trackId", packet_format)
    return [t for tid, t in sorted(TRACKS.items()) if tid in known and (t.full_layout or not full_only)]
