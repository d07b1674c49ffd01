"""Shift lights: the game's own rev lights passed through, and the LED frame drawn from the profile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bridge.config import LedSegment, default_settings
from bridge.games.f1.codec import build, decode
from bridge.games.f1.writer import process_packet
from bridge.publish.leds import Lights, led_colours, lit_count
from bridge.state.session import SessionState
from bridge.state.view import readonly

G, R, B, OFF = "00ff00", "ff0000", "0000ff", "000000"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def lights_for(pct: int, *, limiter: bool = False, bits: int = 0, **lights: object) -> tuple[Lights, Clock]:
    settings = dataclasses.replace(default_settings().lights, **lights)
    state = SessionState()
    process_packet(state, build(2025, 6, {"carTelemetryData": [{"revLightsPercent": pct,
                                                                 "revLightsBitValue": bits}]}, session_uid=1))
    process_packet(state, build(2025, 7, {"carStatusData": [{"pitLimiterStatus": int(limiter)}]}, session_uid=1))
    clock = Clock()
    return Lights(readonly(state), settings, clock), clock


@pytest.mark.parametrize(
    "pct,frame",
    [
        (0, OFF * 15),
        (7, G + OFF * 14),  # 7 % of 15 LEDs is 1.05: one lit
        (33, G * 5 + OFF * 10),
        (40, G * 5 + R + OFF * 9),
        (67, G * 5 + R * 5 + OFF * 5),
        (80, G * 5 + R * 5 + B * 2 + OFF * 3),
        (100, G * 5 + R * 5 + B * 5),
    ],
)
def test_led_frame_follows_the_default_profile(pct: int, frame: str) -> None:
    lights, _ = lights_for(pct)
    assert lights.leds == frame


def test_custom_profile_count_and_brightness() -> None:
    profile = (LedSegment(2, "#ffffff"), LedSegment(2, "#ff8000"))
    lights, _ = lights_for(50, leds=4, profile=profile, brightness=128)
    assert lights.leds == "808080" * 2 + OFF * 2  # half brightness, 2 of 4 lit
    assert led_colours(dataclasses.replace(default_settings().lights, leds=4, profile=profile))[3] == (255, 128, 0)
    assert [lit_count(p, 4) for p in (0, 12, 13, 50, 100, 120)] == [0, 0, 1, 2, 4, 4]


def test_pit_limiter_flashes_the_whole_strip() -> None:
    lights, clock = lights_for(20, limiter=True, limiter_flash_hz=4.0)
    frames = []
    for step in range(8):
        clock.now = step * 0.125  # 4 Hz: on for 1/8 s, off for 1/8 s
        frames.append(lights.leds)
    assert frames == [G * 5 + R * 5 + B * 5, OFF * 15] * 4
    assert lights.pit_limiter is True


def test_shift_flag_and_drs() -> None:
    lights, _ = lights_for(100, bits=0x7FFF)
    assert lights.shift is True and lights.rev_bits == 0x7FFF and lights.flag == "none" and lights.drs == "off"
    lights, _ = lights_for(60, bits=0x01FF)
    assert lights.shift is False


def test_rev_lights_carry_the_games_own_bits_from_real_datagrams(parser_captures: Path) -> None:
    for year in (2023, 2024):
        packet = decode((parser_captures / f"{year}-06.bin").read_bytes())
        state = SessionState()
        process_packet(state, packet)
        lights = Lights(readonly(state), default_settings().lights)
        record = packet["carTelemetryData"][packet.player_car_index]
        assert lights.rev_bits == record["revLightsBitValue"]
        assert lights.rev_pct == record["revLightsPercent"]
        assert lights.leds == (G * 5 + R * 5 + B * 5)[: 6 * lit_count(record["revLightsPercent"], 15)].ljust(90, "0")
