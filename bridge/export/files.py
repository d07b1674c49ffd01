"""The export's files: the name of a session's file, the atomic write, and the CSV view for spreadsheets.

A file is written to a temporary name in the same folder, flushed to the disk (`fsync`), renamed over the final
name, and the folder itself is synced: a reader (or a power cut) sees the previous file or the new one, never a
half-written one. A failed write removes its temporary file and raises; the caller reports it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.state.enums import slugify

__all__ = ["CSV_COLUMNS", "csv_rows", "csv_text", "document_bytes", "file_name", "plain", "started_iso", "write_atomic"]

MAX_SEGMENT = 40  # characters of a track or session type in a file name (names come from the data)


def _segment(text: str, fallback: str) -> str:
    return slugify(text)[:MAX_SEGMENT] or fallback


def file_name(started_ns: int, track: str, session_type: str, suffix: str = ".json") -> str:
    """`2026-12-05_081121_monza_race.json`: the session's start (UTC, to the second), its track and its type."""
    started = datetime.fromtimestamp(started_ns / 1e9, UTC)
    return f"{started:%Y-%m-%d_%H%M%S}_{_segment(track, 'track')}_{_segment(session_type, 'session')}{suffix}"


def started_iso(started_ns: int) -> str:
    """The session's start as an ISO 8601 UTC time, to the second (what the file name shows)."""
    return datetime.fromtimestamp(started_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plain(value: Any) -> Any:
    """A JSON-safe copy: NaN and infinities (a hostile datagram can carry them) become None, bytes text, tuples
    lists, anything else its text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def document_bytes(document: Mapping[str, Any]) -> bytes:
    """The file's content: UTF-8 JSON of a JSON-safe copy (`plain`), keys in the document's order."""
    return (json.dumps(plain(document), ensure_ascii=False, allow_nan=False, indent=1) + "\n").encode()


def write_atomic(directory: Path, name: str, data: bytes) -> Path:
    """Write `data` to `directory/name` through a temporary file, fsync and rename; returns the final path."""
    final = directory / name
    temporary = directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):  # already gone or never created: nothing left behind either way
            os.unlink(temporary)
        raise
    _sync_directory(directory)
    return final


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the folder); platforms without it skip this."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename has happened all the same
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------------------
# CSV: one row per lap per car, the car's identity repeated on each row so a spreadsheet can filter and pivot.

# (column, where it comes from: "<scope>.<key>[.<list index>]", the scope being the session, the car or the lap)
CSV_SOURCES: tuple[tuple[str, str], ...] = (
    ("session_start", "session.started_at"),
    ("track", "session.track"),
    ("session_type", "session.type"),
    ("car", "car.index"),
    ("driver", "car.name"),
    ("team", "car.team"),
    ("race_number", "car.race_number"),
    ("final_position", "car.position"),
    ("lap", "lap.lap"),
    ("lap_time_ms", "lap.time_ms"),
    ("sector1_ms", "lap.sectors_ms.0"),
    ("sector2_ms", "lap.sectors_ms.1"),
    ("sector3_ms", "lap.sectors_ms.2"),
    ("valid", "lap.valid"),
    ("position", "lap.position"),
    ("tyre", "lap.tyre"),
    ("compound", "lap.compound"),
    ("tyre_age_laps", "lap.tyre_age_laps"),
    ("wear_added_pct", "lap.wear_added_pct"),
    ("top_speed_kph", "lap.top_speed_kph"),
    ("fuel_used_kg", "lap.fuel_used_kg"),
    ("fuel_used_pct", "lap.fuel_used_pct"),
)
CSV_COLUMNS = tuple(column for column, _ in CSV_SOURCES)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def csv_rows(document: Mapping[str, Any]) -> Iterator[list[Any]]:
    """The rows after the header, in car then lap order."""
    session = document.get("session", {})
    for car in document.get("cars", ()):
        for lap in car.get("laps", ()):
            scopes = {"session": session, "car": car, "lap": lap}
            yield [_cell(_lookup(scopes, source)) for _, source in CSV_SOURCES]


def _lookup(scopes: Mapping[str, Any], source: str) -> Any:
    scope, key, *index = source.split(".")
    value = scopes[scope].get(key)
    for i in index:
        value = value[int(i)] if isinstance(value, list) and int(i) < len(value) else None
    return value


def csv_text(document: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(document))
    return out.getvalue()
