"""GT7, Codemasters and OutGauge in the live pipeline: their writers over the synthetic races and the real
captures, rev lights, auto-detection among all five games, and each synthetic race end to end through a real
mosquitto (laps, best lap, rev lights, the LED frame, Home Assistant discovery of the game's fields only)."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.config import default_settings
from bridge.games.codemasters.codec import encode as codemasters_encode
from bridge.games.codemasters.synth import StageConfig, SyntheticStage
from bridge.games.f1.layouts import SUPPORTED_FORMATS
from bridge.games.forza.layouts import VARIANTS as FORZA_VARIANTS
from bridge.games.gt7 import crypto
from bridge.games.gt7.layouts import BY_SIZE as GT7_BY_SIZE
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7
from bridge.games.outgauge.layouts import LIGHTS
from bridge.games.outgauge.synth import GaugeConfig, SyntheticGauge
from bridge.games.registry import BY_KEY, CODEMASTERS, GT7, LIVE, OUTGAUGE, Game, identify_live
from bridge.publish.catalog import CATALOG
from bridge.publish.leds import Lights
from bridge.settings import RealtimeDevice
from bridge.state.session import SessionState
from bridge.state.view import readonly as _readonly
from tests.broker import Mosquitto
from tests.games.test_registry import f1_synthetic, forza_synthetic
from tests.harness import BridgeThread, Subscriber, retained_snapshot, send_frames, settings_for

ROOT = "rigbridge/rig1"
DDP_HEADER = 10  # DDP's header without a timecode; the RGB bytes follow
F1_ONLY = ("player/drs", "player/ers_store_j", "session/track", "player/tyre_compound", "player/fuel_kg")


def readonly(state: SessionState) -> Any:
    """The read-only view; its game values are properties made at run time, so typed as Any here."""
    return _readonly(state)


def gt7_race(laps: int = 2, rate_hz: int = 20) -> SyntheticGt7:
    return SyntheticGt7(Gt7SynthConfig(laps=laps, rate_hz=rate_hz, seed=4))


def stage(laps: int = 2, rate_hz: int = 20) -> SyntheticStage:
    return SyntheticStage(StageConfig(length_m=1500, laps=laps, rate_hz=rate_hz, seed=4))


def gauge(source: str = "lfs", rate_hz: int = 20) -> SyntheticGauge:
    return SyntheticGauge(GaugeConfig(source=source, laps=1, rate_hz=rate_hz, seed=4))


def fold(game: Game, datagrams: Iterator[bytes], state: SessionState | None = None,
         each: Callable[[Any], None] | None = None) -> SessionState:  # fmt: skip
    """Every datagram identified, decoded and written as the bridge does; `each(record)` after each one."""
    state = state or SessionState()
    for data in datagrams:
        assert identify_live(data) is game
        record = game.decode(data)
        assert record, record
        assert game.process is not None
        game.process(state, record)
        if each is not None:
            each(record)
    return state


def datagrams(race: Any) -> Iterator[bytes]:
    for _, frame in race.frames():
        yield from frame


# ------------------------------------------------------------------------------------------------ writers


def test_gt7_laps_best_lap_and_values_in_published_units() -> None:
    packets = [GT7.decode(d) for d in datagrams(gt7_race())]
    state = fold(GT7, datagrams(gt7_race()))
    view = readonly(state)
    player = view.player
    assert view.game == "gt7" and view.active == (0,) and view.total_laps == 2 and view.entrants == 16
    sent = [b["last_lap_ms"] for a, b in itertools.pairwise(packets) if b["lap"] != a["lap"]]
    assert sorted(player.laps) == [1] and [player.laps[1].time_ms] == sent
    assert player.best_lap_ms == sent[0] == view.best_lap[0]
    last = packets[-1]
    assert player.speed_kph == pytest.approx(last["speed"] * 3.6) and player.rpm == round(last["rpm"])
    assert player.gear == last.gear and player.max_rpm == last["rpm_limiter"]
    assert player.rev_warning_rpm == last["rpm_warning"] and player.car_ordinal == last["car_id"]
    assert player.fuel_pct == pytest.approx(last["fuel"] / last["fuel_capacity"] * 100)
    assert player.tyre_surface_temps_c == (last["tyre_temp_rl"], last["tyre_temp_rr"], last["tyre_temp_fl"],
                                           last["tyre_temp_fr"])  # fmt: skip
    assert player.boost_psi is None  # the synthetic car has no turbo
    assert view.racing is True and view.paused is False and view.loading is False
    assert player.drs_open is None and player.idle_rpm is None  # not GT7's


def test_gt7_rev_lights_follow_the_games_warning_range_and_limiter_flag() -> None:
    state = SessionState()
    lights = Lights(readonly(state), default_settings().lights)
    seen: set[int | None] = set()

    def check(packet: Any) -> None:
        pct = lights.rev_pct
        seen.add(pct)
        if packet.flag("rev_limiter"):
            assert pct == 100 and lights.shift is True
        elif packet["rpm"] <= packet["rpm_warning"]:
            assert pct == 0 and lights.shift is False
        else:
            expected = (packet["rpm"] - packet["rpm_warning"]) / (packet["rpm_limiter"] - packet["rpm_warning"])
            assert pct == max(0, min(100, round(expected * 100)))
        assert lights.leds is not None

    fold(GT7, itertools.islice(datagrams(gt7_race(laps=1)), 2000), state, check)
    assert {0, 100} <= seen and len(seen) > 5


def test_codemasters_stage_laps_and_values() -> None:
    records = [CODEMASTERS.decode(d) for d in datagrams(stage())]
    state = fold(CODEMASTERS, datagrams(stage()))
    view = readonly(state)
    player = view.player
    assert view.game == "codemasters" and view.total_laps == 2 and view.track_length_m == 1500
    sent = [round(b["last_lap_time"] * 1000) for a, b in itertools.pairwise(records) if b["lap"] != a["lap"]]
    assert sorted(player.laps) == [1, 2] and [player.laps[n].time_ms for n in (1, 2)] == sent
    assert player.best_lap_ms == min(sent) and player.stage_progress_pct == 100
    assert 150 < max(r["brake_temp_fl"] for r in records) < 1000  # heated by braking, as real brakes are
    mid = records[len(records) // 2]
    fold(CODEMASTERS, iter([codemasters_encode(mid)]), state)
    assert player.rpm == round(mid.rpm) and (player.idle_rpm, player.max_rpm) == (2000, 8000)
    assert player.speed_kph == pytest.approx(mid.speed_kmh) and player.gear == mid.gear
    assert player.brake_temps_c[0] == pytest.approx(mid["brake_temp_rl"])
    assert player.tyre_pressures_psi is None and player.fuel_pct == pytest.approx(mid["fuel"] / 60 * 100)


@pytest.mark.parametrize("source", ["lfs", "beamng"])
def test_outgauge_dashboard_lights_drive_the_lights_and_no_laps(source: str) -> None:
    state = SessionState()
    view = readonly(state)
    lights = Lights(view, default_settings().lights)
    shifts = []

    def check(gauge_: Any) -> None:
        shift_light = gauge_.light("shift")
        assert lights.rev_pct == (100 if shift_light else 0) and lights.shift is shift_light
        assert lights.pit_limiter is gauge_.light("pit_limiter")
        assert view.player.dash_lights["abs"] is gauge_.light("abs")
        shifts.append(shift_light)

    fold(OUTGAUGE, datagrams(gauge(source)), state, check)
    player = view.player
    assert any(shifts) and not all(shifts)
    assert player.lap is None and not player.laps and view.best_lap is None
    assert player.car_model == (None if source == "beamng" else "XRT")
    assert 0 < player.fuel_pct <= 100 and player.oil_temp_c == 95


def test_a_light_the_car_lacks_reads_none() -> None:
    state: Any = fold(OUTGAUGE, itertools.islice(datagrams(gauge()), 1))
    gauge_ = state.latest["telemetry"]
    values = list(gauge_.values)
    values[gauge_.layout.index["dash_lights"]] &= ~(1 << LIGHTS["shift"])
    state.latest["telemetry"] = type(gauge_)(gauge_.layout, tuple(values))
    view = readonly(state)
    assert view.player.rev_lights_pct is None and Lights(view, default_settings().lights).leds is None


# ------------------------------------------------------------------------------------------------ real data


def test_every_real_gt7_packet_goes_through_the_writer_encrypted(captures: Path) -> None:
    folder = captures / "gt7"
    if not folder.is_dir():
        pytest.skip(f"no GT7 captures in {captures}")
    plain = gzip.decompress((folder / "replay-368-decrypted.gz").read_bytes())
    rng = random.Random(9)
    sent = (crypto.encrypt(plain[i : i + 368], rng.getrandbits(32)) for i in range(0, len(plain), 368))
    speeds: list[float] = []
    state = SessionState()
    fold(GT7, sent, state, lambda packet: speeds.append(readonly(state).player.speed_kph))
    player = readonly(state).player
    assert len(speeds) == 6914 and 300 < max(speeds) < 330
    assert sorted(player.laps) == [1] and player.laps[1].time_ms == 115_244 == player.best_lap_ms
    assert player.max_rpm == 17000 and player.rev_warning_rpm == 16000 and player.boost_psi is not None
    one = fold(GT7, iter([(folder / "encrypted-296.bin").read_bytes()]))
    car = readonly(one).player
    assert car.lap == 4 and 190 < car.speed_kph < 210 and readonly(one).packet_format == 296


def test_every_real_dirt_rally_datagram_goes_through_the_writer(captures: Path) -> None:
    path = captures / "dirt" / "dirt-rally-ps4-264.bin"
    if not path.is_file():
        pytest.skip(f"no DiRT capture in {captures}")
    raw = path.read_bytes()
    state = SessionState()
    view = readonly(state)
    seen: list[tuple[float, int, int]] = []

    def check(record: Any) -> None:
        car = view.player
        assert 0 <= car.speed_kph < 250 and car.gear in range(-1, 8) and 0 <= car.stage_progress_pct <= 100
        assert car.rpm is None or 1000 <= car.rpm <= 8100  # it dips below the 2000 idle when stalling
        assert all(0 <= t < 1200 for t in car.brake_temps_c)
        seen.append((car.speed_kph, car.rpm or 0, car.current_lap_ms))

    fold(CODEMASTERS, (raw[i : i + 264] for i in range(0, len(raw), 264)), state, check)
    assert len(seen) == 2627 and max(s for s, _, _ in seen) > 100 and max(t for _, _, t in seen) == 78_331
    assert view.player.lap == 1 and view.track_length_m == 6456 and view.player.fuel_pct is None


# ------------------------------------------------------------------------------------------------ auto


def _samples() -> dict[str, list[bytes]]:
    """Synthetic datagrams of every game, every variant or format."""
    out: dict[str, list[bytes]] = {"f1": [], "forza": [], "gt7": [], "codemasters": [], "outgauge": []}
    for packet_format in SUPPORTED_FORMATS:
        out["f1"] += list(itertools.islice(f1_synthetic(packet_format), 150))
    for forza in FORZA_VARIANTS:
        out["forza"] += list(itertools.islice(forza_synthetic(forza.key), 40))
    for gt7 in GT7_BY_SIZE.values():
        gt7_race_ = SyntheticGt7(Gt7SynthConfig(heartbeat=gt7.heartbeat, variant=gt7, laps=1))
        out["gt7"] += [d for _, d in itertools.islice(gt7_race_.packets(), 40)]
    out["codemasters"] = [d for _, d in itertools.islice(stage(laps=1).datagrams(), 300)]
    for source, with_id in itertools.product(("lfs", "beamng"), (False, True)):
        lap = SyntheticGauge(GaugeConfig(source=source, with_id=with_id, laps=1))
        out["outgauge"] += [d for _, d in itertools.islice(lap.datagrams(), 100)]
    return out


def test_auto_detection_never_confuses_any_pair_of_the_five_games() -> None:
    """`udp.game: auto` follows the first live game whose signature matches: each game's datagrams start that
    game and no other, for every pair (the matrix is diagonal)."""
    samples = _samples()
    assert {game.key for game in LIVE} == set(samples)
    confusion = {(key, getattr(identify_live(data), "key", None)) for key, batch in samples.items() for data in batch}
    assert confusion == {(key, key) for key in samples}


# ------------------------------------------------------------------------------------------------ end to end


@dataclass(frozen=True)
class Race:
    game: Game
    frames: Callable[[], Any]
    laps: bool  # the game sends laps: lap, last and best lap are published
    present: tuple[str, ...]
    absent: tuple[str, ...]


RACES = {
    "gt7": Race(GT7, lambda: gt7_race().frames(), True,
                ("player/speed_kph", "player/rpm", "player/gear", "player/fuel_pct", "player/max_rpm",
                 "player/rev_warning_rpm", "player/tyres/fl/surface_temp_c", "player/oil_temp_c",
                 "player/water_temp_c", "session/racing", "session/total_laps", "session/entrants"),
                ("player/idle_rpm", "player/brakes/fl/temp_c", "player/dash/abs")),
    "codemasters": Race(CODEMASTERS, lambda: stage().frames(), True,
                        ("player/speed_kph", "player/rpm", "player/gear", "player/idle_rpm", "player/max_rpm",
                         "player/brakes/fl/temp_c", "player/stage_progress_pct", "session/track_length_m"),
                        ("player/tyres/fl/surface_temp_c", "player/suggested_gear", "session/racing")),
    "outgauge": Race(OUTGAUGE, lambda: gauge().frames(), False,
                     ("player/speed_kph", "player/rpm", "player/gear", "player/fuel_pct", "player/dash/abs",
                      "player/oil_temp_c", "player/car/model", "lights/pit_limiter"),
                     ("player/lap", "player/last_lap_ms", "player/best_lap_ms", "session/best_lap_ms",
                      "player/max_rpm")),
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(RACES))
def test_the_synthetic_race_end_to_end_through_mosquitto(tmp_path: Path, key: str) -> None:
    race = RACES[key]
    broker = Mosquitto(tmp_path / "mosquitto").start()
    sub = Subscriber(broker.port, "#").start()
    strip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a DDP LED strip on loopback
    strip.bind(("127.0.0.1", 0))
    strip.setblocking(False)
    led_output = {"realtime": (RealtimeDevice(("127.0.0.1", strip.getsockname()[1])),)}
    bridge = BridgeThread(settings_for(broker.port, lights=led_output)).start()  # udp.game auto: the datagrams say
    try:
        send_frames(bridge.udp_port, race.frames(), speed=40.0)
        bridge.wait(lambda b: b.game is race.game, 5, key)
        done = f"{ROOT}/player/best_lap_ms" if race.laps else f"{ROOT}/player/dash/abs"
        sub.wait_for(lambda ms: any(m.topic == done for m in ms), 10, done)
        last = sub.last()
        assert last[f"{ROOT}/game/name"].payload == key
        if race.laps:
            assert int(last[f"{ROOT}/player/lap"].payload) >= 2
            assert int(last[f"{ROOT}/player/best_lap_ms"].payload) == min(
                int(p) for p in sub.payloads(f"{ROOT}/player/last_lap_ms"))
        assert {int(p) for p in sub.payloads(f"{ROOT}/lights/rev_pct")} >= {0, 100}
        assert "true" in sub.payloads(f"{ROOT}/lights/shift")
        frames = sub.payloads(f"{ROOT}/lights/leds")
        assert any(set(p) == {"0"} for p in frames) and any(set(p) != {"0"} for p in frames)
        pixels = []
        with contextlib.suppress(BlockingIOError):
            while True:
                pixels.append(strip.recv(2048)[DDP_HEADER:])
        assert any(any(p) for p in pixels) and any(not any(p) for p in pixels)  # the strip lit, and dark
        for topic in race.present:
            assert f"{ROOT}/{topic}" in last, topic
        published = {m.topic for m in sub.snapshot()}
        assert not any(t.startswith(f"{ROOT}/cars/") for t in published)
        assert not {f"{ROOT}/{t}" for t in (*F1_ONLY, *race.absent)} & published
        # Home Assistant announces the game's fields only, under its device model.
        discovery = {t: m for t, m in retained_snapshot(broker.port, "homeassistant/#").items() if m.payload}
        configs = {t.split("/")[-2]: json.loads(m.payload) for t, m in discovery.items()}
        tables = race.game.tables
        assert tables is not None
        provided = {f.path.replace("/", "_") for f in CATALOG if tables.provides(f.path)}
        assert configs and set(configs) <= provided, set(configs) - provided
        assert "player_speed_kph" in configs
        assert {c["device"]["model"] for c in configs.values() if "device" in c} == {race.game.ha_model}
    finally:
        bridge.stop()
        strip.close()
        sub.stop()
        broker.stop()


def test_every_live_game_names_its_model_and_synth() -> None:
    for key in ("gt7", "codemasters", "outgauge"):
        game = BY_KEY[key]
        assert game.process is not None and game.tables is not None and game.synth is not None
        assert game.tables.model == game.ha_model and game.tables.game == key
