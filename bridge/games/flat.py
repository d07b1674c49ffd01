"""Fixed layouts as data: a table of (key, struct letter) rows compiled once into one `struct.Struct`.

Used by the games whose datagrams are one flat record (GT7, Codemasters "extradata", OutGauge). Every row is
one value of the flat tuple; a letter such as "4s" is one bytes value. Fields nobody has decoded are kept as
rows too (named `unknown_*`), so that a datagram packs back byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any


class FlatLayout:
    """One datagram layout: its name, exact size, rows, and the compiled little-endian `Struct`."""

    __slots__ = ("name", "keys", "letters", "struct", "index", "size")

    def __init__(self, name: str, size: int, rows: Sequence[tuple[str, str]]) -> None:
        self.name = name
        self.keys: tuple[str, ...] = tuple(key for key, _ in rows)
        self.letters: tuple[str, ...] = tuple(letter for _, letter in rows)
        self.struct = struct.Struct("<" + "".join(self.letters))
        if self.struct.size != size:
            raise ValueError(f"layout {name} compiles to {self.struct.size} bytes, not {size}")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"layout {name} names a field twice")
        self.size = size
        self.index: dict[str, int] = {key: i for i, key in enumerate(self.keys)}

    def __repr__(self) -> str:
        return f"FlatLayout({self.name!r}, {self.size} bytes)"

    def unpack(self, data: bytes | bytearray | memoryview) -> tuple[Any, ...]:
        return self.struct.unpack_from(data)

    def as_dict(self, values: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self.keys, values))

    def pack(self, fields: Mapping[str, Any]) -> bytes:
        """A datagram from named values; a field not given is zero (or empty bytes)."""
        unknown = set(fields) - set(self.index)
        if unknown:
            raise KeyError(f"layout {self.name} has no field {sorted(unknown)[0]!r}")
        values = [fields.get(key, b"" if letter.endswith("s") else 0) for key, letter in zip(self.keys, self.letters)]
        return self.struct.pack(*values)


def per_wheel(prefix: str, letter: str, wheels: Sequence[str] = ("fl", "fr", "rl", "rr")) -> list[tuple[str, str]]:
    """Four rows, one per wheel, in the order the game sends them."""
    return [(f"{prefix}_{wheel}", letter) for wheel in wheels]
