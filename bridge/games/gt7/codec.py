"""Decode GT7 packets: encrypted as the console sends them, or already decrypted (recordings, other tools).

`decode()` never raises: it returns a `Packet`, or a `Dropped` whose reason is one of `REASONS`. Checks come
before any work: a size one of the variants has, then the magic (after decryption with the seeds in turn).
A valid packet costs one Salsa20 pass and one `Struct.unpack_from`; names and derived values are built only
when asked for.
"""

from __future__ import annotations

from typing import Any

from bridge.games.dropped import BAD_MAGIC, TOO_SHORT, WRONG_SIZE, Dropped
from bridge.games.gt7 import crypto
from bridge.games.gt7.layouts import BY_SIZE, FLAGS, MAGIC, NO_SUGGESTED_GEAR, Variant

GAME_KEY = "gt7"
REASONS = (TOO_SHORT, WRONG_SIZE, BAD_MAGIC)
SIZES = frozenset(BY_SIZE)

_SEEDS_BY_SIZE = {size: crypto.seed_order(v.heartbeat) for size, v in BY_SIZE.items()}
_HEARTBEAT_BY_SEED = {seed: hb for hb, seed in crypto.SEEDS.items()}
_MIN_SIZE = min(SIZES)


class Packet:
    """A decoded packet: its variant, the flat tuple of its values, and how it arrived."""

    __slots__ = ("heartbeat", "values", "variant")

    def __init__(self, variant: Variant, values: tuple[Any, ...], heartbeat: bytes | None) -> None:
        self.variant = variant
        self.values = values
        self.heartbeat = heartbeat  # the heartbeat whose seed decrypted it; None when it came decrypted

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Packet({self.variant.name!r}, id={self.packet_id})"

    @property
    def layout(self) -> Variant:
        """The variant, under the name the session state reads records by (`record.layout`, `record.values`)."""
        return self.variant

    def __getitem__(self, key: str) -> Any:
        return self.values[self.variant.index[key]]

    def get(self, key: str, default: Any = None) -> Any:
        i = self.variant.index.get(key)
        return default if i is None else self.values[i]

    # The values people use, in the units rigbridge publishes.

    @property
    def packet_id(self) -> int:
        return int(self["packet_id"])

    @property
    def speed_kmh(self) -> float:
        return float(self["speed"]) * 3.6

    @property
    def gear(self) -> int:
        """The current gear as the game counts it (0 while in neutral or reverse)."""
        return int(self["gears"]) & 0x0F

    @property
    def suggested_gear(self) -> int | None:
        suggested = self["gears"] >> 4
        return None if suggested == NO_SUGGESTED_GEAR else suggested

    @property
    def throttle(self) -> float:
        return int(self["throttle_raw"]) / 255

    @property
    def brake(self) -> float:
        return int(self["brake_raw"]) / 255

    @property
    def boost_bar(self) -> float:
        return float(self["manifold_pressure"]) - 1.0

    @property
    def best_lap_ms(self) -> int | None:
        return _lap_time(self["best_lap_ms"])

    @property
    def last_lap_ms(self) -> int | None:
        return _lap_time(self["last_lap_ms"])

    def flag(self, name: str) -> bool:
        return bool(self["flags"] >> FLAGS[name] & 1)

    @property
    def flag_names(self) -> list[str]:
        """The flags that are set, by name."""
        bits = self["flags"]
        return [name for name, bit in FLAGS.items() if bits >> bit & 1]

    def to_dict(self) -> dict[str, Any]:
        """The `rigbridge decode` shape: game, variant, the heartbeat whose key decrypted it (None: it came in
        clear), every documented field as sent, then the gear byte's two halves and the flags by name."""
        out: dict[str, Any] = {
            "game": GAME_KEY,
            "packet": self.variant.name,
            "heartbeat": None if self.heartbeat is None else self.heartbeat.decode("ascii"),
        }
        for key, value in zip(self.variant.keys, self.values):
            if key == "magic" or key == "iv" or key.startswith("unknown_"):
                continue
            out[key] = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        gears = self["gears"]
        out.update(gear=gears & 0x0F, suggested_gear=gears >> 4, flag_names=self.flag_names)
        return out


def _lap_time(ms: int) -> int | None:
    return None if ms < 0 else ms


def _variant_for(size: int) -> Variant | Dropped:
    variant = BY_SIZE.get(size)
    if variant is not None:
        return variant
    if size < _MIN_SIZE:
        return Dropped(GAME_KEY, TOO_SHORT, size, f"a GT7 packet has at least {_MIN_SIZE} bytes")
    return Dropped(GAME_KEY, WRONG_SIZE, size, f"GT7 packets have {', '.join(map(str, sorted(SIZES)))} bytes")


def decode(data: bytes | bytearray | memoryview) -> Packet | Dropped:
    """One datagram, encrypted (as the console sends it) or already decrypted. Never raises."""
    variant = _variant_for(len(data))
    if isinstance(variant, Dropped):
        return variant
    if data[:4] == MAGIC:
        return Packet(variant, variant.unpack(data), None)
    plain = crypto.decrypt(data, _SEEDS_BY_SIZE[variant.size])
    if plain is None:
        return Dropped(GAME_KEY, BAD_MAGIC, len(data), "no heartbeat's key decrypts it to the magic 0S7G")
    return Packet(variant, variant.unpack(plain[0]), _HEARTBEAT_BY_SEED[plain[1]])


def encode(packet: Packet) -> bytes:
    """The packet in clear, byte for byte as it was decoded (`crypto.encrypt` makes the console's form)."""
    return packet.variant.struct.pack(*packet.values)


def decode_plain(data: bytes | bytearray | memoryview) -> Packet | Dropped:
    """A packet that is already decrypted. Never raises."""
    variant = _variant_for(len(data))
    if isinstance(variant, Dropped):
        return variant
    if data[:4] != MAGIC:
        return Dropped(GAME_KEY, BAD_MAGIC, len(data), f"starts with {bytes(data[:4])!r}, not the magic 0S7G")
    return Packet(variant, variant.unpack(data), None)


def matches(data: bytes | bytearray | memoryview) -> bool:
    """A GT7 size, and the magic in clear text or under one of the heartbeats' keys (four bytes decrypted)."""
    size = len(data)
    if size not in SIZES:
        return False
    if data[:4] == MAGIC:
        return True
    return crypto.find_seed(data, _SEEDS_BY_SIZE[size]) is not None
