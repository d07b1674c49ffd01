"""The catalogue against the writers: every field a game provides names a change group its writer emits, and
reads only view attributes that exist. Each live game's synthetic race runs through its writer to find out.

Without these, a field naming a group nobody emits is simply never published again after its first read, and a
misspelt view attribute is an AttributeError in production (a `handler_error` per packet, no value)."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import pytest

from bridge.config import default_settings
from bridge.games.registry import LIVE, Game
from bridge.publish.catalog import CATALOG, RATE_CLASSES
from bridge.publish.fieldread import Context
from bridge.publish.leds import Lights
from bridge.state.changes import ALL_GROUPS, BRIDGE_GROUPS, CAR_GROUPS, Changes
from bridge.state.session import SessionState
from bridge.state.view import SessionView, readonly
from bridge.status import BridgeStatus

RACE_LAPS = 2  # a lap completed and a pit stop, so the per-car groups appear too


@dataclasses.dataclass
class RaceRun:
    view: SessionView
    emitted: set[str]  # every group the writer emitted, session-wide and per-car
    car_emitted: set[str]  # the per-car groups among them
    session_emitted: set[str]


def _configs(game: Game) -> list[Any]:
    """The game's synthetic race, short, once per format the game has (F1's 2026 format sends more)."""
    assert game.synth is not None
    _, config = game.synth(1)
    names = {f.name for f in dataclasses.fields(config)}
    short = {k: v for k, v in (("laps", RACE_LAPS), ("rate_hz", 10)) if k in names}
    config = dataclasses.replace(config, **short)
    if "packet_format" not in names:
        return [config]
    formats = importlib.import_module(f"bridge.games.{game.key}.layouts").SUPPORTED_FORMATS
    return [dataclasses.replace(config, packet_format=f) for f in formats]


def run_race(game: Game) -> RaceRun:
    assert game.synth is not None and game.process is not None and game.tables is not None
    make, _ = game.synth(1)
    cars: set[str] = set()
    session: set[str] = set()
    for config in _configs(game):
        state = SessionState(game.tables)
        for _, datagrams in make(config).frames():
            for data in datagrams:
                packet = game.decode(data)
                assert packet, packet
                changed = game.process(state, packet)
                assert isinstance(changed, Changes) and changed is state.changed  # one object per state, reused
                session.update(changed.groups)
                cars.update(changed.cars)
                assert all(changed.cars.values()), changed  # a per-car group always names its cars
    return RaceRun(readonly(state), session | cars, cars, session)


@pytest.fixture(scope="module", params=[g.key for g in LIVE])
def race(request: pytest.FixtureRequest) -> tuple[Game, RaceRun]:
    game = next(g for g in LIVE if g.key == request.param)
    return game, run_race(game)


def test_the_writer_emits_only_known_groups(race: tuple[Game, RaceRun]) -> None:
    _, run = race
    assert run.emitted <= ALL_GROUPS, run.emitted - ALL_GROUPS  # no free strings: constants of bridge.state.changes
    assert run.car_emitted <= CAR_GROUPS and not run.session_emitted & CAR_GROUPS


def test_every_field_the_game_provides_names_a_group_its_writer_emits(race: tuple[Game, RaceRun]) -> None:
    game, run = race
    provided = [f for f in CATALOG if run.view.provides(f.path)]
    assert provided
    never = sorted(f"{f.path}: {f.group}" for f in provided
                   if f.group not in BRIDGE_GROUPS and f.group not in run.emitted)
    assert never == [], f"{game.key}: catalogue fields wait for groups the writer never emits"


def test_the_check_fails_for_a_group_nobody_emits(race: tuple[Game, RaceRun]) -> None:
    _, run = race
    assert "cars.telemtry" not in run.emitted  # a typo in a field's group would be caught


def test_every_field_the_game_provides_reads_existing_view_attributes(race: tuple[Game, RaceRun]) -> None:
    game, run = race
    view = run.view
    context = Context(view, BridgeStatus(), Lights(view, default_settings().lights))
    missing = []
    subjects: dict[str, list[Any]] = {
        "car": [view.car(i) for i in view.active],
        "player": [view.player] if view.player is not None else [],
    }
    assert subjects["car"] and subjects["player"], "the race ended with no cars"
    for f in CATALOG:
        if not view.provides(f.path):
            continue
        for subject in subjects.get(f.scope, [context]):
            try:
                f.read(subject)
            except AttributeError as exc:
                missing.append(f"{f.path}: {exc}")
                break
    assert missing == [], f"{game.key}: fields read view attributes that do not exist"


def test_a_missing_view_attribute_is_caught() -> None:
    view = readonly(SessionState())
    with pytest.raises(AttributeError):
        view.car(0).no_such_value  # noqa: B018 - the read is the test


# ------------------------------------------------------------------------------------------------ the catalogue itself


def test_catalogue_invariants() -> None:
    """What the catalogue promises every reader (checked here, not by asserts gone under `python -O`)."""
    seen: set[str] = set()
    for f in CATALOG:
        assert f.rate in RATE_CLASSES, f.path
        assert f.path not in seen, f"duplicate topic {f.path}"
        assert not (f.retain and f.rate == "realtime"), f"realtime topic {f.path} must not be retained"
        assert f.group in ALL_GROUPS, f"{f.path}: unknown change group {f.group!r}"
        # A per-car group names cars: only fields read from a car can wait for it.
        assert f.group not in CAR_GROUPS or f.scope in ("car", "player"), f.path
        seen.add(f.path)
