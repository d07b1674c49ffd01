"""Invariants over long synthetic races with random seeds, packet loss and reordering."""

from __future__ import annotations

import random

import pytest

from bridge.games.f1.codec import decode
from bridge.games.f1.synth import SynthConfig, SyntheticRace
from bridge.games.f1.values import LAP_DATA
from bridge.games.f1.writer import process_packet
from bridge.state.session import SessionState


def lossy(datagrams: list[bytes], rng: random.Random, loss: float, reorder: float) -> list[bytes]:
    """Drop some datagrams and move others a few places later, as a congested network might."""
    out = [d for d in datagrams if rng.random() >= loss]
    for i in range(len(out) - 1):
        if rng.random() < reorder:
            j = min(len(out) - 1, i + rng.randint(1, 8))
            out[i], out[j] = out[j], out[i]
    return out


@pytest.mark.parametrize(
    "fmt,cars,seed", [(2023, 20, 11), (2024, 22, 12), (2025, 22, 13), (2026, 24, 14)]
)
def test_race_invariants_hold_under_loss_and_reordering(fmt: int, cars: int, seed: int) -> None:
    rng = random.Random(seed)
    config = SynthConfig(packet_format=fmt, cars=cars, rate_hz=10, laps=3, seed=seed)
    datagrams = [d for _, frame in SyntheticRace(config).frames() for d in frame]
    delivered = lossy(datagrams, rng, loss=0.05, reorder=0.05)
    state = SessionState()
    highest_lap: dict[int, int] = {}
    flashbacks_seen = 0
    checked = 0
    for data in delivered:
        packet = decode(data)
        assert packet, packet
        changed = process_packet(state, packet)
        if packet.packet_id != LAP_DATA or not changed:
            continue
        checked += 1
        active = state.active_cars
        positions = sorted(car.position for car in active)
        assert positions == list(range(1, len(active) + 1)), positions
        for car in active:
            assert car.gap_ahead_ms >= 0 and car.gap_leader_ms >= 0
            lap = car.lap
            if lap < highest_lap.get(car.index, 0):
                assert state.flashbacks > flashbacks_seen, f"car {car.index} lap went back without a flashback"
            highest_lap[car.index] = max(highest_lap.get(car.index, 0), lap)
        flashbacks_seen = state.flashbacks
    assert checked > 1000
    assert len(state.active) == cars
    # Bests: never slower than any completed valid lap, overall and per car.
    completed = [lap for car in state.cars for lap in car.laps.values() if lap.valid]
    assert completed, "three laps of racing complete laps"
    assert state.best_lap is not None and all(state.best_lap[0] <= lap.time_ms for lap in completed)
    for car in state.cars:
        valid = [lap.time_ms for lap in car.laps.values() if lap.valid]
        if valid:
            assert car.best_lap_ms == min(valid)
        if car.laps:
            assert max(car.laps) <= car.lap  # no lap completed in the future, none counted twice (keyed by lap)
    # Every car pitted once: two stints, the second on a different compound.
    pitted = [car for car in state.active_cars if len(car.stints) >= 2]
    assert len(pitted) >= cars // 2
    assert all(car.stints[-1].visual_id != car.stints[-2].visual_id for car in pitted)
