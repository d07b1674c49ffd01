"""DDP, the Distributed Display Protocol (http://www.3waylabs.com/ddp/), as WLED and ESPHome receive it on UDP 4048.

Each datagram is a 10-byte header and up to `MAX_DATA` bytes of pixel data:

    byte 0     flags: VV x T S R Q P   version 1 (0b01 in the top two bits), T timecode, S storage, R reply,
                                        Q query, P push ("show what you have now")
    byte 1     sequence number in the low 4 bits: 1-15, 0 = not used
    byte 2     data type: C R TTT SSS  TTT 001 = RGB, SSS 011 = 8 bits per element: 0x0B
    byte 3     destination id: 1 = the default output device
    bytes 4-7  data offset in bytes, 32 bits, most significant first
    bytes 8-9  data length in bytes, 16 bits, most significant first

A frame longer than one datagram is split at `MAX_DATA` (480 RGB pixels); every part carries the frame's one
sequence number, and only the last has the push flag, so the device shows the whole frame at once.
"""

from __future__ import annotations

import struct

__all__ = ["DEFAULT_PORT", "HEADER", "MAX_DATA", "ddp_frame"]

DEFAULT_PORT = 4048
HEADER = struct.Struct(">BBBBIH")
VERSION_1 = 0x40
PUSH = 0x01
RGB_8BIT = 0x0B  # type RGB (001), 8 bits per element (011)
DISPLAY = 1  # the default output device
MAX_DATA = 1440  # bytes of data per datagram the specification recommends: 480 RGB pixels, fits any Ethernet MTU


def ddp_frame(pixels: bytes, first_led: int, sequence: int) -> list[bytes]:
    """The datagrams that put `pixels` (RGB, 3 bytes per LED) on the strip from LED `first_led`, then show them.

    `sequence` (1-15) is the frame's number: a device may drop a late part of an older frame by it.
    """
    if not 1 <= sequence <= 15:
        raise ValueError(f"DDP sequence numbers are 1 to 15 (got {sequence})")
    offset = first_led * 3
    datagrams = []
    for start in range(0, max(len(pixels), 1), MAX_DATA):
        data = pixels[start : start + MAX_DATA]
        flags = VERSION_1 | (PUSH if start + MAX_DATA >= len(pixels) else 0)
        datagrams.append(HEADER.pack(flags, sequence, RGB_8BIT, DISPLAY, offset + start, len(data)) + data)
    return datagrams
