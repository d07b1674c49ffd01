"""WLED's UDP realtime protocols (https://kno.wled.ge/interfaces/udp-realtime/), port 21324 by default.

ESPHome's `wled` light effect receives the same bytes. Byte 0 names the protocol, byte 1 is the timeout: the
seconds the device waits after the last datagram before it returns to its normal mode (255: never; ESPHome
blanks the strip instead). Then the pixels:

    WARLS  1   per LED: index, R, G, B              at most 255 LEDs (the index is one byte)
    DRGB   2   R, G, B per LED from LED 0            at most 490 LEDs
    DNRGB  4   start index (16 bits, high byte first), then R, G, B per LED from it
                                                     at most 489 LEDs per datagram: longer strips take several
"""

from __future__ import annotations

__all__ = ["DNRGB_MAX", "DRGB_MAX", "WARLS_MAX", "dnrgb", "drgb", "warls"]

DEFAULT_PORT = 21324
WARLS, DRGB, DNRGB = 1, 2, 4
WARLS_MAX = 255
DRGB_MAX = 490
DNRGB_MAX = 489


def _check_timeout(timeout_s: int) -> None:
    if not 0 <= timeout_s <= 255:
        raise ValueError(f"the timeout is one byte: 0 to 255 seconds (got {timeout_s})")


def warls(pixels: bytes, first_led: int, timeout_s: int) -> list[bytes]:
    """One WARLS datagram: each LED with its own index, from `first_led`."""
    _check_timeout(timeout_s)
    count = len(pixels) // 3
    if first_led < 0 or first_led + count > WARLS_MAX:
        raise ValueError(f"WARLS addresses LEDs 0 to {WARLS_MAX - 1} (got {count} from {first_led})")
    out = bytearray((WARLS, timeout_s))
    for n in range(count):
        out.append(first_led + n)
        out += pixels[3 * n : 3 * n + 3]
    return [bytes(out)]


def drgb(pixels: bytes, timeout_s: int) -> list[bytes]:
    """One DRGB datagram: the pixels from LED 0."""
    _check_timeout(timeout_s)
    if len(pixels) // 3 > DRGB_MAX:
        raise ValueError(f"DRGB carries at most {DRGB_MAX} LEDs (got {len(pixels) // 3})")
    return [bytes((DRGB, timeout_s)) + pixels]


def dnrgb(pixels: bytes, first_led: int, timeout_s: int) -> list[bytes]:
    """DNRGB datagrams of at most 489 LEDs each, every one with its own 16-bit start index."""
    _check_timeout(timeout_s)
    count = len(pixels) // 3
    if first_led < 0 or first_led + max(count - 1, 0) > 0xFFFF:
        raise ValueError(f"DNRGB start indices are 16 bits (got {count} LEDs from {first_led})")
    step = DNRGB_MAX * 3
    return [
        bytes((DNRGB, timeout_s, (index >> 8) & 0xFF, index & 0xFF)) + pixels[start : start + step]
        for start in range(0, max(len(pixels), 1), step)
        for index in (first_led + start // 3,)
    ]
