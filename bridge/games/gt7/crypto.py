"""The Salsa20 layer around every GT7 packet.

The key is the first 32 bytes of a fixed text; the 8-byte nonce comes from a 32-bit IV the console writes in
clear text at offset 0x40: (IV xor seed, IV), both little-endian, where the seed depends on the heartbeat the
listener sent ("A", "B" or "~"). A wrong seed yields noise, so the magic `0S7G` at the start of the decrypted
packet tells which seed is right.
"""

from __future__ import annotations

import struct
from typing import Any

# pycryptodome's Salsa20 is a maintained, audited C implementation: a stream cipher written by hand here would
# be slower and one more thing to get subtly wrong.
from Crypto.Cipher import Salsa20

from bridge.games.gt7.layouts import IV_OFFSET, MAGIC

KEY = b"Simulator Interface Packet GT7 ver 0.0"[:32]
SEEDS: dict[bytes, int] = {b"A": 0xDEADBEAF, b"B": 0xDEADBEEF, b"~": 0x55FABB4F}
MIN_SIZE = IV_OFFSET + 4

_IV = struct.Struct("<I")
_NONCE = struct.Struct("<II")


def _keystream_cipher(iv: int, seed: int) -> Any:  # pycryptodome ships no type for its cipher objects
    return Salsa20.new(key=KEY, nonce=_NONCE.pack(iv ^ seed, iv))


def seed_order(heartbeat: bytes) -> tuple[int, ...]:
    """The seeds to try: the one of the expected heartbeat first, then the others."""
    first = SEEDS[heartbeat]
    return (first, *(s for s in SEEDS.values() if s != first))


def find_seed(data: bytes | bytearray | memoryview, seeds: tuple[int, ...]) -> int | None:
    """The seed under which the packet starts with the magic (four bytes decrypted per try), or None."""
    if len(data) < MIN_SIZE:
        return None
    (iv,) = _IV.unpack_from(data, IV_OFFSET)
    head = bytes(data[:4])
    for seed in seeds:
        if _keystream_cipher(iv, seed).decrypt(head) == MAGIC:
            return seed
    return None


def decrypt(data: bytes | bytearray | memoryview, seeds: tuple[int, ...]) -> tuple[bytes, int] | None:
    """The plain packet and the seed that produced the magic, or None when no seed does (or it is too short).

    The first seed (the expected heartbeat's) decrypts the whole packet at once: one cipher set-up in the
    common case; the others are tried on four bytes first."""
    if len(data) < MIN_SIZE:
        return None
    data = bytes(data)
    (iv,) = _IV.unpack_from(data, IV_OFFSET)
    plain = _keystream_cipher(iv, seeds[0]).decrypt(data)
    if plain[:4] == MAGIC:
        return plain, seeds[0]
    seed = find_seed(data, seeds[1:])
    if seed is None:
        return None
    return _keystream_cipher(iv, seed).decrypt(data), seed


def encrypt(plain: bytes | bytearray, iv: int, heartbeat: bytes = b"~") -> bytes:
    """The packet as the console sends it to a listener of `heartbeat`, with `iv` in clear text at 0x40.

    The plain packet's own 0x40 field cannot survive (the IV takes its place): `decrypt(encrypt(p))` equals `p`
    except for those four bytes, as with the console's packets.
    """
    if len(plain) < MIN_SIZE:
        raise ValueError(f"a GT7 packet has at least {MIN_SIZE} bytes, not {len(plain)}")
    out = bytearray(_keystream_cipher(iv & 0xFFFFFFFF, SEEDS[heartbeat]).encrypt(bytes(plain)))
    _IV.pack_into(out, IV_OFFSET, iv & 0xFFFFFFFF)
    return bytes(out)
