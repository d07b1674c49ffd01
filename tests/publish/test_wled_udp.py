"""WLED's UDP realtime datagrams byte for byte, per https://kno.wled.ge/interfaces/udp-realtime/."""

from __future__ import annotations

import pytest

from bridge.publish.wled_udp import DNRGB_MAX, dnrgb, drgb, warls

RED, GREEN, BLUE = b"\xff\x00\x00", b"\x00\xff\x00", b"\x00\x00\xff"


def test_warls_gives_each_led_its_index() -> None:
    (datagram,) = warls(RED + GREEN, 3, 2)
    # protocol 1, timeout 2 s, then index, R, G, B per LED
    assert datagram.hex(" ") == "01 02 03 ff 00 00 04 00 ff 00"


def test_warls_refuses_an_index_past_254() -> None:
    assert warls(RED, 254, 1)[0][2] == 254
    with pytest.raises(ValueError, match="WARLS"):
        warls(RED + GREEN, 254, 1)


def test_drgb_is_rgb_from_led_0() -> None:
    assert drgb(RED + GREEN + BLUE, 255) == [bytes.fromhex("02 ff ff0000 00ff00 0000ff")]
    with pytest.raises(ValueError, match="490"):
        drgb(RED * 491, 2)


def test_dnrgb_carries_a_16_bit_start_index() -> None:
    (datagram,) = dnrgb(BLUE, 300, 1)
    assert datagram.hex(" ") == "04 01 01 2c 00 00 ff"  # protocol 4, timeout 1 s, start 0x012c = 300


def test_dnrgb_splits_a_long_strip_at_489_leds() -> None:
    pixels = b"".join(bytes((n % 256, 0, 0)) for n in range(1000))
    parts = dnrgb(pixels, 10, 2)
    assert [len(p) for p in parts] == [4 + 489 * 3, 4 + 489 * 3, 4 + 22 * 3]
    assert [p[:4].hex(" ") for p in parts] == ["04 02 00 0a", "04 02 01 f3", "04 02 03 dc"]  # 10, 499, 988
    assert b"".join(p[4:] for p in parts) == pixels
    assert len(dnrgb(RED * DNRGB_MAX, 0, 2)) == 1


@pytest.mark.parametrize("timeout", [-1, 256])
def test_the_timeout_is_one_byte(timeout: int) -> None:
    with pytest.raises(ValueError, match="one byte"):
        drgb(RED, timeout)
