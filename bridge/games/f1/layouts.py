"""Packet layouts as data, compiled once into `struct.Struct`.

The tables live in `spec/layouts.json` (vendored from the F1 UDP specification by `tools/import_spec.py`).
Each (format, packet id) becomes a `PacketLayout`: one `Struct` for the whole datagram, header included, so
decoding is a single `unpack_from` into a flat tuple. Every field knows where its values sit in that tuple
(`Field.index`, `Field.width`), which is what lets views, column getters and the encoder share one table.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from operator import itemgetter
from typing import Any

HEADER_SIZE = 29
SUPPORTED_FORMATS = (2023, 2024, 2025, 2026)
EVENT_PACKET_ID = 3
EVENT_DETAILS_OFFSET = 33
EVENT_DETAILS_SIZE = 12

# Counts whose array has a fixed capacity; real game data sometimes overstates them (spec pitfall 4).
COUNTED_ARRAYS = {
    "numMarshalZones": "marshalZones",
    "numWeatherForecastSamples": "weatherForecastSamples",
    "numLaps": "lapHistoryData",
    "numTyreStints": "tyreStintsHistoryData",
    "numSessionsInWeekend": "weekendStructure",
    "numActiveAeroZonesFull": "activeAeroZonesFull",
    "numActiveAeroZonesPartial": "activeAeroZonesPartial",
    "numDRSZones": "drsZones",
    "numColours": "liveryColours",
}

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD = re.compile(r"([a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """`engineRPM` -> `engine_rpm`, `sessionUID` -> `session_uid`, `sector1TimeMSPart` -> `sector1_time_ms_part`."""
    return _WORD.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", name)).lower()


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: a scalar, an array of scalars, a string, or an array of nested records."""

    name: str  # the specification's name (camelCase, `m_` dropped)
    key: str  # snake_case, as `rigbridge decode` prints it
    type: str  # struct letter; "s" for a string; "struct" for nested records
    count: int  # array length (1 = scalar); byte length for strings
    record: Record | None
    enum: str | None
    note: str
    index: int  # position of the first value, relative to the owning record's first value
    width: int  # number of flat values this field takes

    @property
    def is_array(self) -> bool:
        return self.type != "s" and (self.count > 1 or self.record is not None)

    @property
    def fmt(self) -> str:
        if self.record is not None:
            return self.record.fmt * self.count
        if self.type == "s":
            return f"{self.count}s"
        return self.type if self.count == 1 else f"{self.count}{self.type}"

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


@dataclass(frozen=True, eq=False)
class Record:
    """An ordered group of fields; its flat values are contiguous in the datagram's tuple."""

    name: str
    fields: tuple[Field, ...]
    by_name: dict[str, Field] = field(repr=False)

    @cached_property
    def fmt(self) -> str:
        return "".join(f.fmt for f in self.fields)

    @cached_property
    def width(self) -> int:
        return sum(f.width for f in self.fields)

    @cached_property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]


def _build_record(name: str, rows: list[list[Any]], structs: dict[str, Record]) -> Record:
    fields = []
    index = 0
    for fname, ftype, count, struct_name, enum, note in rows:
        record = structs[struct_name] if ftype == "struct" else None
        width = record.width * count if record is not None else (1 if ftype == "s" else count)
        fields.append(Field(fname, snake(fname), ftype, count, record, enum, note or "", index, width))
        index += width
    by_name = {f.name: f for f in fields}
    by_name.update({f.key: f for f in fields})
    return Record(name, tuple(fields), by_name)


def _build_structs(tables: dict[str, list[list[Any]]]) -> dict[str, Record]:
    """Compile every nested record, each after the records it contains."""
    structs: dict[str, Record] = {}

    def build(name: str) -> Record:
        if name not in structs:
            for row in tables[name]:
                if row[1] == "struct":
                    build(row[3])
            structs[name] = _build_record(name, tables[name], structs)
        return structs[name]

    for name in tables:
        build(name)
    return structs


@dataclass(frozen=True, eq=False)
class EventLayout:
    """The detail member of the event union for one code in one format."""

    code: str
    meaning: str
    record: Record
    struct: struct.Struct


@dataclass(frozen=True, eq=False)
class PacketLayout:
    """One (format, packet id): the datagram's size, its compiled `Struct` and its record tree."""

    format: int
    packet_id: int
    name: str  # "CarTelemetry"
    key: str  # "car_telemetry"
    size: int
    rate: str
    num_cars: int
    record: Record  # header fields first, then the body
    struct: struct.Struct
    events: dict[str, EventLayout] = field(default_factory=dict, repr=False)

    def index(self, *path: str | int) -> int:
        """Flat tuple index of a field: `index("carTelemetryData", 3, "speed")` or `index("sessionType")`."""
        record = self.record
        base = 0
        f: Field | None = None
        steps = list(path)
        while steps:
            step = steps.pop(0)
            if isinstance(step, int):
                if f is None or step < 0 or step >= f.count:
                    raise IndexError(f"{path}: index {step} out of range")
                if f.record is not None:
                    base += step * f.record.width
                    record = f.record
                else:
                    base += step
                continue
            if record is None:
                raise KeyError(f"{path}: {step} is not inside a record")
            f = record[step]
            base += f.index
            record = f.record  # type: ignore[assignment]
        return base

    def column(self, array: str, name: str) -> itemgetter[Any]:
        """Getter returning `name` of every record of `array` (one value per car slot) from the flat tuple."""
        arr = self.record[array]
        assert arr.record is not None, f"{array} is not an array of records"
        start = arr.index + arr.record[name].index
        stride = arr.record.width
        return itemgetter(*range(start, start + stride * arr.count, stride))


class Layouts:
    """Every compiled layout, keyed by (format, packet id)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.header = _build_record("PacketHeader", data["header"], {})
        self.header_struct = struct.Struct("<" + self.header.fmt)
        assert self.header_struct.size == HEADER_SIZE
        self.packets: dict[tuple[int, int], PacketLayout] = {}
        self.formats: dict[int, dict[int, PacketLayout]] = {}
        self.num_cars: dict[int, int] = {}
        for year_text, fmt in data["formats"].items():
            year = int(year_text)
            self.num_cars[year] = fmt["numCars"]
            structs = _build_structs(fmt["structs"])
            events = {
                code: _event_layout(code, e["meaning"], _build_record(code, e["fields"], structs))
                for code, e in fmt["events"].items()
            }
            per_format: dict[int, PacketLayout] = {}
            for pid_text, p in fmt["packets"].items():
                pid = int(pid_text)
                record = _build_record(p["name"], data["header"] + p["fields"], structs)
                layout = PacketLayout(
                    format=year,
                    packet_id=pid,
                    name=p["name"],
                    key=snake(p["name"]),
                    size=p["size"],
                    rate=p["rate"],
                    num_cars=fmt["numCars"],
                    record=record,
                    struct=struct.Struct("<" + record.fmt),
                    events=events if pid == EVENT_PACKET_ID else {},
                )
                if layout.struct.size != layout.size:
                    raise ValueError(f"layout {year}/{pid} compiles to {layout.struct.size} bytes, not {layout.size}")
                per_format[pid] = layout
                self.packets[(year, pid)] = layout
            self.formats[year] = per_format

    def get(self, packet_format: int, packet_id: int) -> PacketLayout:
        return self.packets[(packet_format, packet_id)]


def _event_layout(code: str, meaning: str, record: Record) -> EventLayout:
    return EventLayout(code, meaning, record, struct.Struct("<" + record.fmt))


def _load() -> Layouts:
    text = resources.files("bridge.games.f1").joinpath("spec/layouts.json").read_text(encoding="utf-8")
    return Layouts(json.loads(text))


LAYOUTS = _load()
