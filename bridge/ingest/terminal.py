"""What `rigbridge record` and `rigbridge replay` share on the terminal: the status line's pace, sizes, clock
times and the words for an OS error."""

from __future__ import annotations

STATUS_INTERVAL_S = 0.25  # the status line is redrawn this often


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def clock(seconds: float) -> str:
    minutes, sec = divmod(max(seconds, 0.0), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{sec:04.1f}"


def reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
