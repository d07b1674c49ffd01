"""DDP datagrams byte for byte, as the specification (http://www.3waylabs.com/ddp/) lays out its header."""

from __future__ import annotations

import pytest

from bridge.publish.ddp import MAX_DATA, ddp_frame

RED, GREEN, BLUE = b"\xff\x00\x00", b"\x00\xff\x00", b"\x00\x00\xff"


def test_one_datagram_header_fields() -> None:
    (datagram,) = ddp_frame(RED + GREEN + BLUE, 0, 1)
    assert datagram.hex(" ") == (
        "41"  # version 1 (0b01......), push (.......1)
        " 01"  # sequence number 1
        " 0b"  # data type: RGB (..001...), 8 bits per element (.....011)
        " 01"  # destination: the default output device
        " 00 00 00 00"  # data offset in bytes
        " 00 09"  # data length in bytes
        " ff 00 00 00 ff 00 00 00 ff"
    )


def test_offset_is_in_bytes_from_the_first_led_and_the_sequence_is_the_low_nibble() -> None:
    (datagram,) = ddp_frame(GREEN * 2, 100, 15)
    assert datagram[:10].hex(" ") == "41 0f 0b 01 00 00 01 2c 00 06"  # LED 100 = byte 300 = 0x12c


def test_a_long_strip_is_split_at_1440_bytes_with_push_on_the_last_part_only() -> None:
    pixels = bytes(range(256)) * 6  # 1536 bytes: 512 LEDs
    first, second = ddp_frame(pixels, 20, 7)
    assert len(first) == 10 + MAX_DATA == 1450
    assert first[:10].hex(" ") == "40 07 0b 01 00 00 00 3c 05 a0"  # no push; offset 60; 1440 bytes
    assert second[:10].hex(" ") == "41 07 0b 01 00 00 05 dc 00 60"  # push; offset 60 + 1440; 96 bytes
    assert first[10:] + second[10:] == pixels


def test_exactly_one_full_datagram_carries_push() -> None:
    (datagram,) = ddp_frame(b"\x01" * MAX_DATA, 0, 2)
    assert datagram[0] == 0x41 and len(datagram) == 1450


@pytest.mark.parametrize("sequence", [0, 16])
def test_sequence_numbers_outside_1_to_15_are_refused(sequence: int) -> None:
    with pytest.raises(ValueError, match="1 to 15"):
        ddp_frame(RED, 0, sequence)
