"""The live delta on constructed laps: equal laps read 0 to the line, a slower lap is tracked, the reference is the
best whole valid lap, and a sample costs the same wherever it falls (a list index, no search)."""

from __future__ import annotations

import math

import pytest

from bridge.state.aids.delta import BUCKET_M, MAX_BUCKETS, DeltaModel, process_delta_lap, process_delta_sample

LENGTH = 4318.0  # Austria
RATE_HZ = 60


def lap_samples(lap_ms: float, *, rate_hz: int = RATE_HZ, wobble: float = 0.0) -> list[tuple[float, float]]:
    """(distance, time ms) samples of a lap driven at a speed that varies along the lap (corners and straights):
    `lap_ms` at the line; `wobble` shifts the sampling phase (another packet timing)."""
    samples = []
    t = wobble
    step = 1000.0 / rate_hz
    while t < lap_ms:
        # time as a smooth, increasing function of distance: d(t) inverted from t(d) = lap_ms * (u + 0.03 sin 2πu)
        u = _u_at(t / lap_ms)
        samples.append((u * LENGTH, t))
        t += step
    return samples


def _u_at(fraction: float) -> float:
    """Inverse of f(u) = u + 0.03 sin(2πu) on [0, 1] by bisection (monotonic)."""
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if mid + 0.03 * math.sin(2 * math.pi * mid) < fraction:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def drive(model: DeltaModel, lap: int, samples: list[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """Feed a lap; (distance, time, delta) after each sample."""
    out = []
    for d, t in samples:
        process_delta_sample(model, lap, d, t)
        if model.delta_ms is not None:
            out.append((d, t, model.delta_ms))
    return out


def reference(lap_ms: float = 70_000.0) -> DeltaModel:
    model = DeltaModel()
    drive(model, 1, lap_samples(lap_ms))
    assert process_delta_lap(model, 1, round(lap_ms), True, LENGTH)
    return model


def test_a_lap_equal_to_the_reference_reads_zero_all_the_way_to_the_line() -> None:
    model = reference()
    seen = drive(model, 2, lap_samples(70_000.0, wobble=7.0))  # the same lap, sampled at other instants
    assert len(seen) > 4000
    assert max(abs(delta) for _, _, delta in seen) < 5.0
    last_d, _, last_delta = seen[-1]
    assert last_d > LENGTH - 5 and abs(last_delta) < 5.0  # at the line


def test_a_slower_lap_is_tracked_at_every_distance() -> None:
    model = reference(70_000.0)
    seen = drive(model, 2, lap_samples(73_500.0))  # 5 % slower everywhere
    assert len(seen) > 4000
    for d, t, delta in seen:
        expected = t - t / 1.05  # the reference reached this distance 5 % sooner
        assert delta == pytest.approx(expected, abs=5.0), d
    assert seen[-1][2] == pytest.approx(3500, abs=10)


def test_the_reference_is_the_best_whole_valid_lap() -> None:
    model = reference(70_000.0)
    drive(model, 2, lap_samples(72_000.0))
    assert not process_delta_lap(model, 2, 72_000, True, LENGTH)  # slower: kept
    drive(model, 3, lap_samples(69_000.0))
    assert not process_delta_lap(model, 3, 69_000, False, LENGTH)  # invalid: kept
    assert model.ref_ms == 70_000
    drive(model, 4, lap_samples(69_500.0))
    assert process_delta_lap(model, 4, 69_500, True, LENGTH)
    assert model.ref_ms == 69_500
    seen = drive(model, 5, lap_samples(69_500.0, wobble=3.0))
    assert max(abs(delta) for _, _, delta in seen) < 5.0


def test_a_lap_joined_midway_or_broken_by_a_teleport_never_becomes_the_reference() -> None:
    model = DeltaModel()
    drive(model, 1, lap_samples(70_000.0)[2000:])  # the bridge started halfway round
    assert not process_delta_lap(model, 1, 70_000, True, LENGTH)
    samples = lap_samples(70_000.0)
    drive(model, 2, samples[:1000] + samples[2500:])  # 1.5 km skipped between two samples
    assert not process_delta_lap(model, 2, 70_000, True, LENGTH)
    assert model.ref_ms is None and model.delta_ms is None


def test_a_flashback_within_the_lap_drops_what_lies_ahead() -> None:
    model = reference(70_000.0)
    samples = lap_samples(70_000.0)
    drive(model, 2, samples[:3000])
    seen = drive(model, 2, samples[1500:])  # back 1500 samples, then the rest of the lap again
    assert max(abs(delta) for _, _, delta in seen) < 5.0
    assert process_delta_lap(model, 2, 69_999, True, LENGTH)


def test_hostile_samples_never_raise() -> None:
    model = reference()
    for d, t in [(math.nan, 1.0), (1.0, math.inf), (-50.0, 10.0), (1e12, 5.0), (MAX_BUCKETS * BUCKET_M * 3, 1.0)]:
        process_delta_sample(model, 2, d, t)
    assert model.delta_ms is None


def test_a_sample_does_constant_work() -> None:
    """One sample writes at most the boundaries it crossed: the lists never grow, nothing is searched."""
    model = reference()
    ids = (id(model.trace), id(model.ref))
    drive(model, 2, lap_samples(70_000.0))
    assert len(model.trace) == len(model.ref) == MAX_BUCKETS
    assert {id(model.trace), id(model.ref)} == set(ids)


def test_a_standing_start_lap_is_recorded_from_the_line() -> None:
    """Lap 1 from the grid: 150 m behind the line at 0 ms; the line is crossed 3 s later and its time there counts."""
    model = DeltaModel()
    samples = [(-150.0 + 50.0 * k, 1000.0 * k) for k in range(3)]  # 50 m/s to the line
    samples += [(d, 3000.0 + t) for d, t in lap_samples(70_000.0)[1:]]
    drive(model, 1, samples)
    assert process_delta_lap(model, 1, 73_000, True, LENGTH)
    seen = drive(model, 2, lap_samples(70_000.0, wobble=5.0))
    assert all(delta == pytest.approx(-3000.0, abs=5.0) for _, _, delta in seen)  # 3 s quicker: no start
