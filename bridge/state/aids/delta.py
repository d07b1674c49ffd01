"""The live delta: the player's lap against a reference lap, compared at the same distance into the lap.

The reference is the best valid lap the bridge saw completed in full, kept as the time at every `BUCKET_M`
boundary of lap distance in a fixed-size list indexed by bucket: no search, O(1) per telemetry packet. The lap
being driven is recorded the same way (each boundary crossed gets its time, interpolated between the two samples
either side), and becomes the reference when it ends as a better valid lap: the two lists swap, nothing is copied.
"""

from __future__ import annotations

import math

BUCKET_M = 10.0  # one reference point per 10 m: under 3 ms between points at racing speed
MAX_BUCKETS = 1024  # 10.24 km: longer than any F1 track; beyond it the delta is unknown
MAX_STEP_BUCKETS = 64  # a jump of more than 640 m between two samples is a teleport, not driving
START_WINDOW_M = 120.0  # a lap recorded from its first sample must start this close to the line
END_WINDOW_M = 150.0  # and its last sample must be this close to the line to be a whole lap


class DeltaModel:
    """The reference lap and the lap being driven, as times (ms) at each bucket boundary."""

    __slots__ = (
        "delta_ms",
        "filled",
        "prev_d",
        "prev_t",
        "recording",
        "ref",
        "ref_filled",
        "ref_length",
        "ref_ms",
        "trace",
        "trace_lap",
    )

    def __init__(self) -> None:
        self.trace = [0.0] * MAX_BUCKETS  # the lap being driven
        self.trace_lap = -1
        self.filled = -1  # the last boundary recorded (-1: none yet)
        self.recording = False  # the lap is recorded from its start: it can become the reference
        self.prev_d = 0.0
        self.prev_t = 0.0
        self.ref = [0.0] * MAX_BUCKETS
        self.ref_filled = -1
        self.ref_length = 0.0  # the line, where the reference's time is `ref_ms`
        self.ref_ms: int | None = None
        self.delta_ms: float | None = None  # now: positive = slower than the reference


def reference_time(model: DeltaModel, d: float) -> float | None:
    """The reference lap's time (ms) at lap distance `d`, interpolated; None beyond what it covers."""
    if model.ref_ms is None or not 0.0 <= d <= model.ref_length:
        return None
    b = int(d // BUCKET_M)
    ref = model.ref
    if b < model.ref_filled:
        t0 = ref[b]
        return t0 + (ref[b + 1] - t0) * (d - b * BUCKET_M) / BUCKET_M
    if b == model.ref_filled:  # the last part: from the last boundary to the line
        start = b * BUCKET_M
        t0 = ref[b]
        return t0 + (model.ref_ms - t0) * (d - start) / (model.ref_length - start)
    return None


def process_delta_sample(model: DeltaModel, lap: int, d: float, t: float) -> None:
    """One sample of the player's lap (lap number, distance into it in m, time into it in ms): O(1)."""
    if not (math.isfinite(d) and math.isfinite(t)):
        model.delta_ms = None
        return
    if lap != model.trace_lap:  # a new lap: recorded from the line if it starts there (or on the grid behind it)
        model.trace_lap = lap
        model.recording = d < START_WINDOW_M
        model.filled = -1
        model.prev_d, model.prev_t = (d, t) if d < 0.0 else (0.0, 0.0)  # a lap from the line starts at 0 ms
    if model.recording:
        if d < model.prev_d:  # a flashback within the lap: forget what lies ahead of it
            model.filled = min(model.filled, int(d // BUCKET_M)) if d >= 0.0 else -1
        elif d >= 0.0:
            b = min(int(d // BUCKET_M), MAX_BUCKETS - 1)
            if b - model.filled > MAX_STEP_BUCKETS:
                model.recording = False  # a teleport: this lap is no reference
            elif b > model.filled:
                trace, d0, t0 = model.trace, model.prev_d, model.prev_t
                slope = (t - t0) / (d - d0) if d > d0 else 0.0  # d == d0: the boundary is that sample
                for k in range(model.filled + 1, b + 1):
                    trace[k] = t0 + slope * (k * BUCKET_M - d0)
                model.filled = b
        model.prev_d, model.prev_t = d, t
    ref_t = reference_time(model, d)
    model.delta_ms = None if ref_t is None else t - ref_t


def process_delta_lap(model: DeltaModel, lap: int, time_ms: int, valid: bool, track_length_m: float | None) -> bool:
    """The player completed `lap`: it becomes the reference when it is a whole, valid lap better than the
    reference. True when it did."""
    whole = model.trace_lap == lap and model.recording and model.filled >= 0
    whole = whole and time_ms + 1 >= model.prev_t  # no lap ends before its last sample (ms rounding aside)
    length = track_length_m if track_length_m and track_length_m > 0 else model.prev_d
    whole = whole and model.prev_d >= length - END_WINDOW_M
    if not (valid and whole and (model.ref_ms is None or time_ms < model.ref_ms)):
        return False
    model.trace, model.ref = model.ref, model.trace
    model.ref_filled = model.filled
    model.ref_length = max(length, model.filled * BUCKET_M + 1.0)
    model.ref_ms = time_ms
    model.recording = False  # the old reference's list is the next lap's, recorded from its first sample
    return True
