"""Decode and encode F1 datagrams with the compiled layouts.

`decode()` never raises: it returns a `Packet` (or `EventPacket`), or a `DecodeError` whose `reason` is one of
`REASONS`. Validation happens before any unpacking: header length, supported `packetFormat`, known packet id,
exact size. A valid datagram costs one `Struct.unpack_from` into a flat tuple; named access, nested views and
dictionaries are built only when someone asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from bridge.games.f1.layouts import (
    COUNTED_ARRAYS,
    EVENT_DETAILS_OFFSET,
    EVENT_DETAILS_SIZE,
    EVENT_PACKET_ID,
    HEADER_SIZE,
    LAYOUTS,
    EventLayout,
    Field,
    PacketLayout,
    Record,
)

TOO_SHORT = "too_short"
UNKNOWN_FORMAT = "unknown_format"
UNKNOWN_PACKET_ID = "unknown_packet_id"
WRONG_SIZE = "wrong_size"
BAD_EVENT = "bad_event"
REASONS = (TOO_SHORT, UNKNOWN_FORMAT, UNKNOWN_PACKET_ID, WRONG_SIZE, BAD_EVENT)

# Header values sit first in every packet's flat tuple, in this order.
H_FORMAT, H_GAME_YEAR, H_MAJOR, H_MINOR, H_PACKET_VERSION, H_PACKET_ID = range(6)
H_SESSION_UID, H_SESSION_TIME, H_FRAME, H_OVERALL_FRAME, H_PLAYER, H_SECONDARY_PLAYER = range(6, 12)
EVENT_CODE_INDEX = 12  # the 4-byte code follows the header in the event packet's tuple

_FORMATS = LAYOUTS.formats
_EVENT_CODE_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class DecodeError:
    """Why a datagram was dropped. Falsy, so `if not result:` reads as "did not decode"."""

    __slots__ = ("reason", "size", "packet_format", "packet_id", "detail")

    def __init__(
        self, reason: str, size: int, packet_format: int | None = None, packet_id: int | None = None, detail: str = ""
    ) -> None:
        self.reason = reason
        self.size = size
        self.packet_format = packet_format
        self.packet_id = packet_id
        self.detail = detail

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DecodeError({self.reason!r}, size={self.size}, format={self.packet_format}, id={self.packet_id})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.reason, "size": self.size}
        if self.packet_format is not None:
            out["packet_format"] = self.packet_format
        if self.packet_id is not None:
            out["packet_id"] = self.packet_id
        if self.detail:
            out["detail"] = self.detail
        return out


def decode(data: bytes | bytearray | memoryview) -> Packet | DecodeError:
    """Validate and decode one datagram. Never raises."""
    size = len(data)
    if size < HEADER_SIZE:
        return DecodeError(TOO_SHORT, size, detail=f"header needs {HEADER_SIZE} bytes")
    packet_format = data[0] | data[1] << 8
    by_id = _FORMATS.get(packet_format)
    if by_id is None:
        return DecodeError(UNKNOWN_FORMAT, size, packet_format)
    packet_id = data[6]
    layout = by_id.get(packet_id)
    if layout is None:
        return DecodeError(UNKNOWN_PACKET_ID, size, packet_format, packet_id)
    if size != layout.size:
        return DecodeError(WRONG_SIZE, size, packet_format, packet_id, f"expected {layout.size} bytes")
    values = layout.struct.unpack_from(data)
    if packet_id == EVENT_PACKET_ID:
        return _decode_event(layout, values, data, size)
    return Packet(layout, values)


def _decode_event(
    layout: PacketLayout, values: tuple[Any, ...], data: bytes | bytearray | memoryview, size: int
) -> EventPacket | DecodeError:
    raw_code: bytes = values[EVENT_CODE_INDEX]
    if not _EVENT_CODE_BYTES.issuperset(raw_code):
        return DecodeError(BAD_EVENT, size, layout.format, EVENT_PACKET_ID, f"event code {raw_code!r}")
    code = raw_code.decode("ascii")
    event = layout.events.get(code)
    detail_values = event.struct.unpack_from(data, EVENT_DETAILS_OFFSET) if event is not None else ()
    return EventPacket(layout, values, code, event, detail_values)


def text(raw: bytes) -> str:
    """A char[n] field: cut at the first NUL, invalid UTF-8 replaced, never raises."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _field_value(f: Field, values: tuple[Any, ...], base: int) -> Any:
    i = base + f.index
    if f.record is not None:
        if f.count == 1:  # a single nested record (TimeTrial's data sets), not an array
            return RecordView(f.record, values, i)
        width = f.record.width
        return [RecordView(f.record, values, i + n * width) for n in range(f.count)]
    if f.type == "s":
        return text(values[i])
    if f.count > 1:
        return values[i : i + f.count]
    return values[i]


def _record_dict(record: Record, values: tuple[Any, ...], base: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in record.fields:
        i = base + f.index
        if f.record is not None and f.count == 1:
            out[f.key] = _record_dict(f.record, values, i)
        elif f.record is not None:
            width = f.record.width
            out[f.key] = [_record_dict(f.record, values, i + n * width) for n in range(f.count)]
        elif f.type == "s":
            out[f.key] = text(values[i])
        elif f.count > 1:
            out[f.key] = list(values[i : i + f.count])
        else:
            out[f.key] = values[i]
    return out


class RecordView:
    """Named, read-only access to one record inside a packet's flat tuple (e.g. one car)."""

    __slots__ = ("record", "values", "base")

    def __init__(self, record: Record, values: tuple[Any, ...], base: int) -> None:
        self.record = record
        self.values = values
        self.base = base

    def __getitem__(self, name: str) -> Any:
        return _field_value(self.record[name], self.values, self.base)

    def to_dict(self) -> dict[str, Any]:
        return _record_dict(self.record, self.values, self.base)

    def __repr__(self) -> str:
        return f"<{self.record.name} {self.to_dict()}>"


class Packet:
    """A decoded datagram: its layout and the flat tuple of every value, header first."""

    __slots__ = ("layout", "values")

    def __init__(self, layout: PacketLayout, values: tuple[Any, ...]) -> None:
        self.layout = layout
        self.values = values

    def __bool__(self) -> bool:
        return True

    # Header, by position (identical in every supported format).
    @property
    def packet_format(self) -> int:
        return cast(int, self.values[H_FORMAT])

    @property
    def packet_id(self) -> int:
        return cast(int, self.values[H_PACKET_ID])

    @property
    def session_uid(self) -> int:
        return cast(int, self.values[H_SESSION_UID])

    @property
    def session_time(self) -> float:
        return cast(float, self.values[H_SESSION_TIME])

    @property
    def frame(self) -> int:
        return cast(int, self.values[H_FRAME])

    @property
    def overall_frame(self) -> int:
        return cast(int, self.values[H_OVERALL_FRAME])

    @property
    def player_car_index(self) -> int:
        return cast(int, self.values[H_PLAYER])

    @property
    def secondary_player_car_index(self) -> int:
        return cast(int, self.values[H_SECONDARY_PLAYER])

    @property
    def game_version(self) -> str:
        return f"{self.values[H_MAJOR]}.{self.values[H_MINOR]:02d}"

    @property
    def name(self) -> str:
        return self.layout.key

    def __getitem__(self, name: str) -> Any:
        return _field_value(self.layout.record[name], self.values, 0)

    def count(self, name: str) -> int:
        """A `num...` count clamped to its array's capacity (real data can overstate it)."""
        value = self.values[self.layout.record[name].index]
        return cast(int, min(value, self.layout.record[COUNTED_ARRAYS[name]].count))

    def header_dict(self) -> dict[str, Any]:
        return _record_dict(LAYOUTS.header, self.values, 0)

    def body_dict(self) -> dict[str, Any]:
        body = _record_dict(self.layout.record, self.values, 0)
        for f in LAYOUTS.header.fields:
            del body[f.key]
        return body

    def to_dict(self) -> dict[str, Any]:
        """The `rigbridge decode` shape: header, packet name, then the body's fields."""
        return {"header": self.header_dict(), "packet": self.layout.key, **self.body_dict()}

    def __repr__(self) -> str:
        return f"<{self.layout.name} format={self.packet_format} frame={self.frame}>"


class EventPacket(Packet):
    """The event packet: its 4-letter code and the union member for that code (empty for unknown codes)."""

    __slots__ = ("code", "event", "detail_values")

    def __init__(
        self,
        layout: PacketLayout,
        values: tuple[Any, ...],
        code: str,
        event: EventLayout | None,
        detail_values: tuple[Any, ...],
    ) -> None:
        super().__init__(layout, values)
        self.code = code
        self.event = event
        self.detail_values = detail_values

    @property
    def known(self) -> bool:
        return self.event is not None

    @property
    def raw_details(self) -> bytes:
        return bytes(self.values[EVENT_CODE_INDEX + 1 : EVENT_CODE_INDEX + 1 + EVENT_DETAILS_SIZE])

    def details(self) -> dict[str, Any]:
        """The detail member as a dict (snake_case keys); `{"raw": [...12 bytes]}` for an unknown code."""
        if self.event is None:
            return {"raw": list(self.raw_details)}
        return _record_dict(self.event.record, self.detail_values, 0)

    def detail(self, name: str) -> Any:
        assert self.event is not None
        return _field_value(self.event.record[name], self.detail_values, 0)

    def body_dict(self) -> dict[str, Any]:
        return {"event_string_code": self.code, "event_details": self.details()}


# ----------------------------------------------------------------------------------------------------------
# Encoding: the same tables, the other way round.


def encode(packet: Packet) -> bytes:
    """The datagram for a decoded (or built) packet; `encode(decode(d)) == d` for every valid datagram."""
    return packet.layout.struct.pack(*packet.values)


def blank_values(record: Record) -> list[Any]:
    """A flat value list of zeros (empty strings) for a record: a template to fill in by index."""
    out: list[Any] = []
    for f in record.fields:
        if f.record is not None:
            for _ in range(f.count):
                out.extend(blank_values(f.record))
        elif f.type == "s":
            out.append(b"")
        else:
            out.extend([0.0 if f.type in "fd" else 0] * f.count)
    return out


def _fill(record: Record, values: list[Any], base: int, tree: Mapping[str, Any]) -> None:
    for name, value in tree.items():
        f = record[name]
        i = base + f.index
        if f.record is not None and f.count == 1:
            _fill(f.record, values, i, value)
        elif f.record is not None:
            items: Sequence[Mapping[str, Any]] = value
            if len(items) > f.count:
                raise ValueError(f"{record.name}.{f.name}: {len(items)} records for {f.count} slots")
            for n, item in enumerate(items):
                _fill(f.record, values, i + n * f.record.width, item)
        elif f.type == "s":
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            if len(raw) > f.count:
                raise ValueError(f"{record.name}.{f.name}: {len(raw)} bytes for char[{f.count}]")
            values[i] = raw
        elif f.count > 1:
            seq = list(value)
            if len(seq) > f.count:
                raise ValueError(f"{record.name}.{f.name}: {len(seq)} values for {f.count} slots")
            values[i : i + len(seq)] = seq
        else:
            values[i] = value


def header_values(
    packet_format: int,
    packet_id: int,
    *,
    session_uid: int = 0,
    session_time: float = 0.0,
    frame: int = 0,
    overall_frame: int | None = None,
    player_car_index: int = 0,
    secondary_player_car_index: int = 255,
    game_year: int | None = None,
    game_version: tuple[int, int] = (1, 0),
) -> list[Any]:
    year = game_year if game_year is not None else min(packet_format, 2025) % 100
    return [
        packet_format,
        year,
        game_version[0],
        game_version[1],
        1,
        packet_id,
        session_uid,
        session_time,
        frame,
        frame if overall_frame is None else overall_frame,
        player_car_index,
        secondary_player_car_index,
    ]


def build(packet_format: int, packet_id: int, body: Mapping[str, Any] | None = None, **header: Any) -> Packet:
    """A packet from nested values (spec or snake_case names); anything not given is zero.

    `build(2025, 6, {"carTelemetryData": [{"speed": 250}], "suggestedGear": 0}, frame=10)`
    """
    layout = LAYOUTS.get(packet_format, packet_id)
    values = blank_values(layout.record)
    values[:HEADER_SIZE_VALUES] = header_values(packet_format, packet_id, **header)
    if body:
        _fill(layout.record, values, 0, body)
    return Packet(layout, tuple(values))


def build_event(packet_format: int, code: str, details: Mapping[str, Any] | None = None, **header: Any) -> EventPacket:
    """An event packet; `details` fills the union member of `code` (unused union bytes stay zero)."""
    layout = LAYOUTS.get(packet_format, EVENT_PACKET_ID)
    event = layout.events.get(code)
    detail_bytes = bytearray(EVENT_DETAILS_SIZE)
    if event is not None:
        dv = blank_values(event.record)
        _fill(event.record, dv, 0, details or {})
        event.struct.pack_into(detail_bytes, 0, *dv)
    elif details:
        raise ValueError(f"unknown event code {code!r} in format {packet_format} takes no details")
    values = (
        *header_values(packet_format, EVENT_PACKET_ID, **header),
        code.encode("ascii"),
        *detail_bytes,
    )
    packet = decode(layout.struct.pack(*values))
    assert isinstance(packet, EventPacket), packet
    return packet


HEADER_SIZE_VALUES = len(LAYOUTS.header.fields)
