"""Enumerations per format (tracks, teams, session types, compounds...), as data.

Lookups tolerate unknown ids: real game data carries values outside the published tables (unused car slots,
new content), so `label()` answers "unknown(N)" and `slug()` answers "unknown_N" instead of raising.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from importlib import resources
from typing import Any, cast

from bridge.state import enums as state_enums
from bridge.state.enums import slugify

_TABLES: dict[str, dict[str, Any]] = json.loads(
    resources.files("bridge.games.f1").joinpath("spec/enums.json").read_text(encoding="utf-8")
)["enums"]

NAMES = tuple(_TABLES)


@lru_cache(maxsize=1024)  # every enumeration in every format fits (63 x 4); bounded all the same
def table(enum: str, packet_format: int) -> dict[int, str]:
    """Value -> label for one enumeration in one format (empty where the format does not define it)."""
    values = _TABLES[enum]["values"].get(str(packet_format), {})
    return {int(k): v for k, v in values.items()}


def label(enum: str, packet_format: int, value: int) -> str:
    """Human label, e.g. `label("sessionType", 2024, 15) == "Race"`."""
    return table(enum, packet_format).get(value, f"unknown({value})")


@lru_cache(maxsize=4096)
def slug(enum: str, packet_format: int, value: int) -> str:
    """Lowercase payload name, e.g. `slug("visualTyreCompound", 2025, 16) == "soft"`."""
    known = table(enum, packet_format).get(value)
    return slugify(known) if known is not None else f"unknown_{value}"


def flags(enum: str, packet_format: int, value: int) -> list[str]:
    """Labels of the bits set in a bit-flag value (`buttonFlags`, `lapValidBitFlags`)."""
    return [name for mask, name in table(enum, packet_format).items() if value & mask]


def is_bits(enum: str) -> bool:
    return cast(bool, _TABLES[enum]["kind"] == "bits")


FORMATS = (2023, 2024, 2025, 2026)


@lru_cache(maxsize=256)
def names(enum: str) -> tuple[str, ...]:
    """Every readable name of an enumeration over every format, first seen first."""
    return tuple(dict.fromkeys(name for fmt in FORMATS for name in table(enum, fmt).values()))


state_enums.register(sys.modules[__name__], NAMES)
