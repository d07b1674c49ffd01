"""The synthetic GT7 race: every packet decodes, and the race inside is plausible and consistent."""

from __future__ import annotations

import pytest

from bridge.games.gt7 import codec
from bridge.games.gt7.layouts import PACKET_368
from bridge.games.gt7.synth import CAR, Gt7SynthConfig, SyntheticGt7


@pytest.mark.parametrize("heartbeat, size", [(b"A", 296), (b"B", 316), (b"~", 344)])
def test_every_packet_decodes_with_its_heartbeats_key(heartbeat: bytes, size: int) -> None:
    race = SyntheticGt7(Gt7SynthConfig(heartbeat=heartbeat, laps=1, rate_hz=20))
    packets = [codec.decode(d) for _, d in race.packets()]
    assert packets and all(packets)
    assert {p.variant.size for p in packets} == {size} and {p.heartbeat for p in packets} == {heartbeat}


def test_the_race_is_plausible() -> None:
    config = Gt7SynthConfig(laps=3, rate_hz=30, variant=PACKET_368)
    sent = list(SyntheticGt7(config).packets())
    packets = [codec.decode(d) for _, d in sent]
    assert all(packets) and {p.variant.name for p in packets} == {"368"}
    times = [t for t, _ in sent]
    assert times == sorted(times) and abs((times[1] - times[0]) - 1 / 30) < 1e-9
    ids = [p.packet_id for p in packets]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert [p["lap"] for p in packets] == sorted(p["lap"] for p in packets)
    assert {p["lap"] for p in packets} == {1, 2, 3} and {p["laps_in_race"] for p in packets} == {3}
    lasts = sorted({p.last_lap_ms for p in packets if p.last_lap_ms is not None})
    assert len(lasts) == 2 and all(60_000 < t < 150_000 for t in lasts)
    assert packets[-1].best_lap_ms == min(lasts)
    assert packets[0].best_lap_ms is None and packets[0].last_lap_ms is None
    for p in packets:
        assert 1 <= p.gear <= len(CAR.gear_ratios) and 0 < p["rpm"] <= p["rpm_limiter"]
        assert p.flag("in_race") and not p.flag("paused")
        assert p.flag("rev_limiter") == (p["rpm"] >= CAR.shift_rpm)
        if p.suggested_gear is not None:
            assert p.suggested_gear == min(p.gear + 1, len(CAR.gear_ratios)) and p["rpm"] >= p["rpm_warning"]
        assert 0 < p["fuel"] <= p["fuel_capacity"]
        assert not (p.throttle > 0 and p.brake > 0)
    assert any(p.flag("rev_limiter") for p in packets)
    assert packets[-1]["fuel"] < packets[0]["fuel"]
    assert max(p.speed_kmh for p in packets) > 200


def test_same_seed_same_bytes() -> None:
    a = [d for _, d in zip(range(50), SyntheticGt7(Gt7SynthConfig(seed=4)).packets())]
    b = [d for _, d in zip(range(50), SyntheticGt7(Gt7SynthConfig(seed=4)).packets())]
    c = [d for _, d in zip(range(50), SyntheticGt7(Gt7SynthConfig(seed=5)).packets())]
    assert a == b and a != c
