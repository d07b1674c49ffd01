"""Shift lights: the game's own rev lights passed through (or made from rpm for a game that sends none), plus an
LED frame for a configurable strip.

`Lights` is a reader: it looks at the player's car in the state view and at the lights settings, and answers
what the `lights/*` topics carry. The LED frame lights the profile's colours from the left up to the rev
percentage, scaled by brightness; with the pit limiter on, the whole strip flashes at `limiter_flash_hz`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bridge.settings import LightsSettings
from bridge.state.view import CarView, SessionView

ALL_REV_BITS = 0x7FFF  # 15 LEDs
SAFETY_CAR_FLAGS = {1: "safety_car", 2: "virtual_safety_car", 3: "safety_car"}  # full, virtual, formation lap
FIA_FLAGS = {1: "green", 2: "blue", 3: "yellow"}


def led_colours(settings: LightsSettings) -> list[tuple[int, int, int]]:
    """Each LED's colour at full rev, brightness applied."""
    scale = settings.brightness / 255
    colours = []
    for segment in settings.profile:
        r, g, b = segment.rgb
        colours.extend([(round(r * scale), round(g * scale), round(b * scale))] * segment.count)
    return colours


def render_frame(colours: list[tuple[int, int, int]], lit: int) -> str:
    """`lit` LEDs from the left in their colours, the rest off, as RRGGBB hex per LED."""
    return "".join(f"{r:02x}{g:02x}{b:02x}" if i < lit else "000000" for i, (r, g, b) in enumerate(colours))


def lit_count(rev_pct: int, leds: int) -> int:
    return max(0, min(leds, round(rev_pct * leds / 100)))


class Lights:
    """What the `lights/*` topics carry, read from the player's car."""

    def __init__(
        self, state: SessionView, settings: LightsSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._state = state
        self._settings = settings
        self._clock = clock
        self._colours = led_colours(settings)
        self._frames = [render_frame(self._colours, n) for n in range(settings.leds + 1)]
        self._rev_start = settings.rev_start_pct / 100
        self._rev_span = (settings.shift_pct - settings.rev_start_pct) / 100

    @property
    def _player(self) -> CarView | None:
        return self._state.player

    @property
    def rev_bits(self) -> int | None:
        p = self._player
        return None if p is None else p.rev_lights_bits

    @property
    def rev_pct(self) -> int | None:
        p = self._player
        if p is None:
            return None
        pct: int | None = p.rev_lights_pct  # a game value: the writer's, forwarded by the view
        return self._rev_pct_from_rpm(p) if pct is None else pct

    def _rev_pct_from_rpm(self, p: CarView) -> int | None:
        """0 below the start point, 100 at the shift point, of the range from idle to maximum rpm."""
        rpm, idle, top = p.rpm, p.idle_rpm, p.max_rpm
        if rpm is None or idle is None or top is None or top <= idle or not math.isfinite(rpm):
            return None
        position: float = (rpm - idle) / (top - idle)
        return max(0, min(100, round((position - self._rev_start) / self._rev_span * 100)))

    @property
    def shift(self) -> bool | None:
        pct = self.rev_pct
        if pct is None:
            return None
        bits = self.rev_bits
        return pct >= 100 or (bits is not None and bits & ALL_REV_BITS == ALL_REV_BITS)

    @property
    def drs(self) -> str | None:
        p = self._player
        if p is None or p.drs_open is None:
            return None
        return "active" if p.drs_open else ("allowed" if p.drs_allowed else "off")

    @property
    def pit_limiter(self) -> bool | None:
        p = self._player
        return None if p is None else p.pit_limiter

    @property
    def flag(self) -> str:
        state = self._state
        if state.red_flag:
            return "red"
        safety_car = SAFETY_CAR_FLAGS.get(state.safety_car_id or 0)
        if safety_car is not None:
            return safety_car
        p = self._player
        return FIA_FLAGS.get(p.fia_flag, "none") if p is not None and p.fia_flag is not None else "none"

    def limiter_phase_on(self) -> bool:
        return int(self._clock() * self._settings.limiter_flash_hz * 2) % 2 == 0

    @property
    def leds(self) -> str | None:
        pct = self.rev_pct
        if pct is None:
            return None
        if self.pit_limiter:
            return self._frames[-1] if self.limiter_phase_on() else self._frames[0]
        return self._frames[lit_count(pct, self._settings.leds)]
