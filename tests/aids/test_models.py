"""The fuel, tyre, battle and rejoin models on constructed histories: known burn, known wear slope, known gaps."""

from __future__ import annotations

import random

import pytest

from bridge.state.aids.battle import BattleModel, neighbours, process_battle_line
from bridge.state.aids.fuel import FuelModel, average_burn, process_fuel_line, process_fuel_mark
from bridge.state.aids.pitwindow import DEFAULT_PIT_LOSS_S, PIT_LOSS_S, pit_loss_s, rejoin
from bridge.state.aids.tyres import TyreModel, fit, process_tyre_line, process_tyre_sample


def test_fuel_known_burn_gives_the_finish() -> None:
    model = FuelModel()
    process_fuel_mark(model, 0, 100.0)
    fuel = 100.0
    for lap in range(1, 11):
        fuel -= 1.8
        estimate = process_fuel_line(model, lap, fuel, True, 30.0 - lap, game_laps=None)
    assert estimate.used_last_lap == pytest.approx(1.8)
    assert estimate.per_lap == pytest.approx(1.8)
    assert estimate.remaining_laps == 20
    assert estimate.to_finish == pytest.approx(36.0)
    assert estimate.surplus_kg == pytest.approx(82.0 - 36.0)
    assert estimate.surplus_laps == pytest.approx(46.0 / 1.8)
    assert estimate.target_per_lap == pytest.approx(82.0 / 20)


def test_fuel_safety_car_laps_are_left_out_of_the_average() -> None:
    model = FuelModel()
    process_fuel_mark(model, 0, 50.0)
    fuel = 50.0
    for lap, (burn, green) in enumerate([(2.0, True), (2.0, True), (0.9, False), (0.9, False), (2.0, True)], 1):
        fuel -= burn
        estimate = process_fuel_line(model, lap, fuel, green, 10.0, game_laps=5.0)
    assert estimate.per_lap == pytest.approx(2.0)
    assert estimate.versus_game_laps == pytest.approx(estimate.surplus_laps - 5.0)  # type: ignore[operator]
    assert average_burn({1: (0.9, False), 2: (1.1, False)}) == pytest.approx(1.0)  # no green lap: all of them


def test_fuel_refuel_and_flashback_do_not_count_as_burn() -> None:
    model = FuelModel()
    process_fuel_mark(model, 0, 20.0)
    process_fuel_line(model, 1, 18.0, True, 5.0, None)
    estimate = process_fuel_line(model, 2, 30.0, True, 4.0, None)  # more than before: refuelled
    assert estimate.used_last_lap is None and estimate.per_lap == pytest.approx(2.0)
    process_fuel_mark(model, 1, 18.0)  # a flashback to the line of lap 1: lap 2 is driven again
    assert 2 not in model.burns and 2 not in model.marks


def test_tyres_known_wear_slope_through_noise() -> None:
    rng = random.Random(4)
    model = TyreModel()
    rates = (2.4, 2.6, 1.9, 2.0)
    for lap in range(0, 9):
        wear = tuple(1.0 + r * lap + rng.uniform(-0.3, 0.3) for r in rates)
        estimate = process_tyre_line(model, "stint 1", lap, wear, 70.0, 30.0 - lap)
    for fitted, true in zip(estimate.rate_pct_per_lap, rates, strict=True):
        assert fitted == pytest.approx(true, abs=0.1)
    rl_rate, rr_rate = estimate.rate_pct_per_lap[0], estimate.rate_pct_per_lap[1]
    assert rl_rate is not None and rr_rate is not None
    assert estimate.laps_to_limit[1] == pytest.approx((70.0 - estimate.wear_pct[1]) / rr_rate)
    assert estimate.laps_left == min(estimate.laps_to_limit)  # type: ignore[type-var]
    assert estimate.wear_at_finish_pct[0] == pytest.approx(estimate.wear_pct[0] + 22 * rl_rate)


def test_tyres_the_fit_is_over_the_stint_not_the_last_lap() -> None:
    model = TyreModel()
    for lap, wear in enumerate([0.0, 2.0, 4.0, 6.0, 8.0, 14.0]):  # a last lap of 6 % (a lock-up) among 2 % laps
        estimate = process_tyre_line(model, "s", lap, (wear,) * 4, 70.0, None)
    assert 2.0 < estimate.rate_pct_per_lap[0] < 3.0  # type: ignore[operator]
    assert estimate.wear_at_finish_pct == (None,) * 4  # no finish known


def test_tyres_a_new_set_starts_the_fit_again() -> None:
    model = TyreModel()
    for lap in range(5):
        process_tyre_line(model, "stint 1", lap, (3.0 * lap,) * 4, 70.0, None)
    estimate = process_tyre_line(model, "stint 1", 5, (0.5,) * 4, 70.0, None)  # wear went down: other tyres
    assert estimate.rate_pct_per_lap == (None,) * 4 and estimate.laps_left is None
    process_tyre_sample(model, "stint 2", 6.0, (2.0,) * 4)
    assert model.samples == [(6.0, (2.0,) * 4)]
    assert fit([]) == ()


def test_battle_neighbours_and_trend() -> None:
    positions = (3, 1, 2, 4, 0, 5)  # slot 4 unused
    assert neighbours(positions, range(6), 0) == (2, 3)
    assert neighbours(positions, range(6), 1) == (None, 2)
    assert neighbours(positions, range(6), 5) == (3, None)
    assert neighbours(positions, range(6), 4) == (None, None)
    model = BattleModel()
    process_battle_line(model, 2, 1500, 3, 900)
    process_battle_line(model, 2, 1100, 3, 1300)
    assert (model.ahead.index, model.ahead.trend_ms_per_lap) == (2, -400)  # type: ignore[union-attr]
    assert (model.behind.index, model.behind.trend_ms_per_lap) == (3, 400)  # type: ignore[union-attr]
    process_battle_line(model, 5, 700, None, None)  # another car ahead: no trend yet
    assert model.ahead.trend_ms_per_lap is None and model.behind is None  # type: ignore[union-attr]


def test_rejoin_names_the_car_in_a_constructed_field() -> None:
    # gaps to the leader (ms): leader 0, then 4 s, 9 s, the player at 12 s, 20 s, 31 s, 40 s
    gaps = {7: 0, 3: 4000, 5: 9000, 0: 12000, 1: 20000, 4: 31000, 2: 40000}
    found = rejoin(0, gaps, 22.0)  # out at 34 s: behind car 4 (31 s), ahead of car 2 (40 s)
    assert found is not None
    assert (found.position, found.behind, found.gap_ms, found.ahead_of) == (6, 4, 3000, 2)
    leader = rejoin(7, gaps, 3.0)  # the leader losing 3 s stays ahead of the car 4 s back
    assert leader is not None and (leader.position, leader.behind, leader.ahead_of) == (1, None, 3)
    last = rejoin(2, gaps, 20.0)
    assert last is not None and (last.position, last.behind, last.ahead_of) == (7, 4, None)
    assert rejoin(9, gaps, 20.0) is None


def test_pit_loss_table_and_overrides() -> None:
    from bridge.games.f1 import enums

    tracks = {enums.slug("trackId", fmt, k) for fmt in enums.FORMATS for k in enums.table("trackId", fmt)}
    assert tracks <= set(PIT_LOSS_S), tracks - set(PIT_LOSS_S)  # every track the game names has a value
    assert all(10 < seconds < 40 for seconds in PIT_LOSS_S.values())
    assert pit_loss_s("austria") == PIT_LOSS_S["austria"]
    assert pit_loss_s("nowhere") == DEFAULT_PIT_LOSS_S and pit_loss_s(None) == DEFAULT_PIT_LOSS_S
    overrides = (("silverstone*", 30.0), ("silverstone_short", 12.0))
    assert pit_loss_s("silverstone_short", overrides) == 12.0  # the last match wins
    assert pit_loss_s("silverstone_reverse", overrides) == 30.0
