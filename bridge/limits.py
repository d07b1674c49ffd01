"""Ranges of the numeric command-line options, shared by the parsers and the functions behind them.

A function such as `replay_main` or `synth_main` can be called without the parser (the demo, tests), so it checks
the same ranges itself: one definition here serves both.
"""

from __future__ import annotations

__all__ = ["MAX_DURATION_S", "MAX_SPEED", "MIN_SPEED", "duration_problem", "range_problem", "speed_problem"]

# Bounds of the numeric options: wide enough for any real use, narrow enough that no arithmetic on them overflows
# (a speed of 1e-300 or a duration of 1e308 would make a sleep or a schedule impossible).
MAX_DURATION_S = 366 * 86400.0
MIN_SPEED, MAX_SPEED = 0.001, 1000.0


def range_problem(value: float, low: float, high: float, *, low_exclusive: bool = False) -> str | None:
    """Why `value` is not a number in the range, as "must be ... (got X)"; None when it is (NaN never is)."""
    if (value > low if low_exclusive else value >= low) and value <= high:
        return None
    return f"must be a number {'above' if low_exclusive else 'from'} {_plain(low)} up to {_plain(high)} (got {value})"


def duration_problem(seconds: float) -> str | None:
    return range_problem(seconds, 0.0, MAX_DURATION_S, low_exclusive=True)


def speed_problem(speed: float) -> str | None:
    return range_problem(speed, MIN_SPEED, MAX_SPEED)


def _plain(x: float) -> str:
    return f"{x:.0f}" if x == int(x) else f"{x:g}"
