"""The synthetic Forza race: a plausible race in every variant, the same bytes for the same seed."""

from __future__ import annotations

import itertools

import pytest

from bridge.games.forza.codec import Telemetry, decode
from bridge.games.forza.enums import NEUTRAL_GEAR
from bridge.games.forza.layouts import BY_KEY
from bridge.games.forza.synth import GRID_WAIT_S, ForzaRace, SynthConfig, race

LAPS = 2


@pytest.fixture(scope="module")
def motorsport() -> tuple[ForzaRace, list[tuple[float, Telemetry]]]:
    r = race("motorsport", laps=LAPS, cars=12, seed=3)
    return r, [(t, decode(d)) for t, (d,) in r.frames()]  # type: ignore[misc]


def test_one_datagram_per_frame_at_the_rate(motorsport: tuple[ForzaRace, list[tuple[float, Telemetry]]]) -> None:
    _, frames = motorsport
    times = [t for t, _ in frames]
    assert times[0] == 0 and all(b - a == pytest.approx(1 / 60) for a, b in itertools.pairwise(times))
    assert all(isinstance(p, Telemetry) and p.variant.key == "motorsport" for _, p in frames)
    stamps = [p["TimestampMS"] for _, p in frames]
    assert {b - a for a, b in itertools.pairwise(stamps)} <= {16, 17}


def test_laps_lap_times_and_best_lap(motorsport: tuple[ForzaRace, list[tuple[float, Telemetry]]]) -> None:
    r, frames = motorsport
    racing = [p for _, p in frames if p.racing]
    laps = [p["LapNumber"] for p in racing]
    assert laps == sorted(laps) and laps[-1] == LAPS
    completed = [b["LastLap"] for a, b in itertools.pairwise(racing) if b["LapNumber"] != a["LapNumber"]]
    assert len(completed) == LAPS
    assert all(40 < lap < 200 for lap in completed)
    assert completed[0] > completed[1]  # the first lap is from a standing start
    assert racing[-1]["BestLap"] == pytest.approx(min(completed))
    # The current lap restarts at each line crossing; race time starts with the lights.
    first_lap = [p for p in racing if p["LapNumber"] == 0]
    assert first_lap[-1]["CurrentLap"] == pytest.approx(completed[0], abs=0.05)
    assert racing[0]["CurrentRaceTime"] == 0 and racing[-1]["CurrentRaceTime"] > sum(completed)
    assert racing[-1]["DistanceTraveled"] > LAPS * r.circuit.length_m


def test_positions_change(motorsport: tuple[ForzaRace, list[tuple[float, Telemetry]]]) -> None:
    _, frames = motorsport
    positions = [p["RacePosition"] for _, p in frames if p.racing]
    assert positions[0] == 12 // 2 + 1  # the grid slot
    assert all(1 <= x <= 12 for x in positions)
    changes = sum(1 for a, b in itertools.pairwise(positions) if a != b)
    assert len(set(positions)) >= 3 and changes >= 3


def test_engine_gears_and_speed_agree(motorsport: tuple[ForzaRace, list[tuple[float, Telemetry]]]) -> None:
    r, frames = motorsport
    racing = [p for _, p in frames if p.racing]
    assert {p["EngineIdleRpm"] for p in racing} == {r.idle_rpm}
    assert {p["EngineMaxRpm"] for p in racing} == {r.max_rpm}
    assert all(r.idle_rpm <= p["CurrentEngineRpm"] <= r.max_rpm for p in racing)
    assert max(p["CurrentEngineRpm"] for p in racing) > 0.9 * r.max_rpm
    grid = [p for t, p in frames if t < GRID_WAIT_S]
    assert all(p["Speed"] == 0 and p["Gear"] == 1 for p in grid)
    assert min(p["CurrentEngineRpm"] for p in grid) == r.idle_rpm
    for a, b in itertools.pairwise(racing):
        assert abs(b["Speed"] - a["Speed"]) < 0.5  # m/s per frame: at most about 3 g
    for p in racing:
        if p["Gear"] not in (NEUTRAL_GEAR, 0) and p["Speed"] > 5:
            expected = r.max_rpm * p["Speed"] / r.gear_top_speed(p["Gear"])
            assert p["CurrentEngineRpm"] == pytest.approx(min(expected, r.max_rpm), rel=0.01)
    gears = [p["Gear"] for p in racing]
    runs = [(g, len(list(run))) for g, run in itertools.groupby(gears)]
    assert {g for g, _ in runs} >= {1, 2, 3, 4, NEUTRAL_GEAR}
    assert all(n <= 13 for g, n in runs if g == NEUTRAL_GEAR)  # neutral only while changing gear
    assert any(p["Accel"] == 255 for p in racing) and any(p["Brake"] > 100 for p in racing)


def test_units_as_forza_sends_them(motorsport: tuple[ForzaRace, list[tuple[float, Telemetry]]]) -> None:
    _, frames = motorsport
    racing = [p for _, p in frames if p.racing]
    assert 1.0 >= racing[0]["Fuel"] > racing[-1]["Fuel"] > 0.0  # a fraction
    assert 140 < racing[0]["TireTempFrontLeft"] < racing[-1]["TireTempFrontLeft"] < 200  # °F
    assert 0 <= racing[0]["TireWearRearLeft"] < racing[-1]["TireWearRearLeft"] < 1
    assert max(p["Speed"] for p in racing) < 90  # m/s


def test_back_to_the_menus_after_the_flag(motorsport: tuple[ForzaRace, list[tuple[float, Telemetry]]]) -> None:
    _, frames = motorsport
    flags = [p["IsRaceOn"] for _, p in frames]
    assert flags[0] == 1 and flags[-1] == 0
    assert flags == sorted(flags, reverse=True)  # one switch, from racing to the menus
    menus = [p for _, p in frames if not p.racing]
    assert all(p["Speed"] == 0 and p["CurrentEngineRpm"] == 0 for p in menus)


@pytest.mark.parametrize("variant", ["sled", "dash", "horizon", "motorsport"])
def test_every_variant_same_seed_same_bytes(variant: str) -> None:
    config = SynthConfig(variant=variant, laps=1, rate_hz=10, seed=5)
    first = [d for _, (d,) in ForzaRace(config).frames()]
    assert first == [d for _, (d,) in ForzaRace(config).frames()]
    assert {len(d) for d in first} == {BY_KEY[variant].size}
    assert first != [d for _, (d,) in ForzaRace(SynthConfig(variant=variant, laps=1, rate_hz=10, seed=6)).frames()]
    laps = [p["LapNumber"] for p in map(decode, first) if p.get("LapNumber") is not None]
    assert variant == "sled" or max(laps) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "gt"}, "variant must be one of sled, dash, horizon, motorsport"),
        ({"cars": 0}, "cars must be 1..24"),
        ({"rate_hz": 59}, "rate_hz must be one of"),
        ({"laps": 0}, "laps must be 1..100"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SynthConfig(**kwargs)
