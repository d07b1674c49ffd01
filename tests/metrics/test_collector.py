"""The metrics collector without a server: names, units, labels, values, and the text format."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import Bridge
from bridge.games.f1.codec import build, encode
from bridge.games.f1.layouts import LAYOUTS
from bridge.publish import metrics as M
from bridge.publish.catalog import CATALOG, WHEELS
from bridge.state.session import STALE_REASONS
from bridge.status import Histogram
from tests.harness import settings_for
from tests.metrics.conftest import UNIT_RIG, feed, synthetic_frames

ROOT = Path(__file__).resolve().parents[2]
NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Name parts that would mean a non-base unit (Prometheus: seconds, meters, bytes, ratios, celsius, joules...).
NOT_BASE_UNITS = {"ms", "msec", "millis", "milliseconds", "us", "microseconds", "minutes", "hours", "kph", "kmh",
                  "mph", "percent", "pct", "psi", "bar", "kb", "mb", "kilobytes", "megabytes", "kilometers",
                  "millimeters", "fahrenheit", "mj", "kj", "kilojoules", "megajoules", "degrees"}


def exposed(family: M.Family) -> str:
    return family.name + "_total" if family.type == "counter" else family.name


def all_families(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> list[M.Family]:
    """What a scrape would serve (bridge families, snapshot failures, process), the snapshot taken right here."""
    exporter = bridge.metrics
    assert exporter is not None
    monkeypatch.setattr(exporter, "snapshot", lambda: M.take_snapshot(M.Sources.from_deps(bridge.deps), exporter.lag))
    return exporter.collect()


def samples(fams: list[M.Family]) -> list[tuple[str, dict[str, str], float]]:
    return [(name, dict(zip(labels, values, strict=True)), value)
            for f in fams for name, labels, values, value in f.samples]


def series(fams: list[M.Family], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted((k, v) for k, v in labels.items() if k != "rig")): value
            for n, labels, value in samples(fams) if n == name}


def test_names_follow_prometheus_conventions(raced_bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    fams = all_families(raced_bridge, monkeypatch)
    names = [exposed(f) for f in fams]
    assert len(names) == len(set(names)), [n for n, c in Counter(names).items() if c > 1]
    for f in fams:
        name = exposed(f)
        assert NAME_RE.fullmatch(name), name
        assert name.startswith(("rigbridge_", "process_")), name
        assert f.type in ("counter", "gauge", "histogram"), (name, f.type)
        assert (f.type == "counter") == name.endswith("_total"), name
        assert not set(name.split("_")) & NOT_BASE_UNITS, name
        assert f.help and "\n" not in f.help, name
        if name.endswith("_info"):
            assert f.type == "gauge" and all(s[3] == 1 for s in f.samples), name
        for sample_name, labels, values, value in f.samples:
            assert sample_name.startswith(f.name), (sample_name, f.name)
            assert labels[0] == "rig" and values[0] == UNIT_RIG, (sample_name, labels)
            assert len(labels) == len(values) == len(set(labels)), sample_name
            assert all(LABEL_RE.fullmatch(label) and not label.startswith("__") for label in labels), labels
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (sample_name, value)
    # Units visible in the names where the value has one.
    for name in names:
        if name.startswith("rigbridge_") and ("temperature" in name):
            assert name.endswith("_celsius"), name
        if "_lap_seconds" in name or "gap" in name:
            assert name.endswith("_seconds"), name


def test_ratios_are_between_zero_and_one(raced_families: list[M.Family]) -> None:
    checked = 0
    for f in raced_families:
        if f.name.endswith("_ratio"):
            for _, _, _, value in f.samples:
                assert 0.0 <= value <= 1.0, (f.name, value)
                checked += 1
    assert checked >= 4 + 4 + 3  # throttle, brake, rev lights; four wheels of wear and of damage


def test_label_values_are_bounded(raced_bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    fams = all_families(raced_bridge, monkeypatch)
    packets = {layout.key for layout in LAYOUTS.packets.values()}
    allowed = {
        "car": {str(i) for i in range(M.MAX_CARS)},
        "wheel": set(WHEELS),
        "sector": {"1", "2", "3"},
        "reason": {*M.DROP_REASONS, *STALE_REASONS},
        "rate_class": set(M.PUBLISH_CLASSES),
        "state": set(M.BROKER_STATES),
        "packet": packets,
    }
    per_family = {}
    for f in fams:
        per_family[exposed(f)] = len(f.samples)
        for _, labels, values, _ in f.samples:
            for label, value in zip(labels, values, strict=True):
                if label in allowed:
                    assert value in allowed[label], (f.name, label, value)
                elif label in ("name", "team", "race_number", "compound", "visual", "track", "session_type",
                               "formula", "weather", "status", "version", "le", "rig"):
                    assert len(value) <= M.LABEL_MAX and value.isprintable(), (f.name, label, value)
                else:
                    pytest.fail(f"{f.name}: unexpected label {label!r}")
    # Per-car families: one series per active car, and nothing else grows with the race.
    assert max(per_family.values()) <= 24, max(per_family.items(), key=lambda kv: kv[1])
    assert per_family["rigbridge_car_position"] == 20
    assert per_family["rigbridge_car_info"] == 20
    assert sum(per_family.values()) < 600


def test_every_prometheus_field_of_the_catalogue_is_exported(raced_families: list[M.Family]) -> None:
    exported = {f.name for f in raced_families if f.samples}
    declared = {f"rigbridge_{f.prom.name}" for f in CATALOG if f.prom is not None}
    assert declared - exported == set()


def test_values_agree_with_the_state_in_base_units(raced_bridge: Bridge, raced_families: list[M.Family]) -> None:
    view = raced_bridge.view
    player = view.player
    assert player is not None
    one = lambda name: series(raced_families, name)[()]

    assert one("rigbridge_player_speed_meters_per_second") == pytest.approx(player.speed_kph / 3.6)
    assert one("rigbridge_player_throttle_ratio") == pytest.approx(player.throttle)
    assert one("rigbridge_player_brake_ratio") == pytest.approx(player.brake)
    assert one("rigbridge_player_rev_lights_ratio") == pytest.approx(player.rev_lights_pct / 100)
    assert one("rigbridge_player_fuel_kilograms") == pytest.approx(player.fuel_kg)
    assert one("rigbridge_player_ers_store_joules") == pytest.approx(player.ers_store_j)
    assert one("rigbridge_player_engine_rpm") == player.rpm
    assert one("rigbridge_player_gear") == player.gear
    assert one("rigbridge_player_last_lap_seconds") == player.last_lap_ms / 1000  # exactly: 68.317, not ...001
    pressures = series(raced_families, "rigbridge_player_tyre_pressure_pascals")
    for w, wheel in enumerate(WHEELS):
        assert pressures[(("wheel", wheel),)] == pytest.approx(player.tyre_pressures_psi[w] * 6894.757, rel=1e-6)
    wear = series(raced_families, "rigbridge_player_tyre_wear_ratio")
    assert wear[(("wheel", "fl"),)] == pytest.approx(player.tyre_wear_pct[2] / 100)
    # Sectors of the last lap add up to the lap; best sectors exist once a lap is complete.
    sectors = series(raced_families, "rigbridge_player_last_lap_sector_seconds")
    assert sorted(k[0][1] for k in sectors) == ["1", "2", "3"]
    assert sum(sectors.values()) == pytest.approx(player.last_completed.time_ms / 1000, abs=0.002)
    assert len(series(raced_families, "rigbridge_player_best_sector_seconds")) == 3
    # Every active car: positions a permutation, gaps never negative, names from the participants.
    positions = series(raced_families, "rigbridge_car_position")
    assert sorted(positions.values()) == list(range(1, len(view.active) + 1))
    assert all(v >= 0 for v in series(raced_families, "rigbridge_car_gap_leader_seconds").values())
    info = series(raced_families, "rigbridge_car_info")
    names = {dict(k)["car"]: dict(k)["name"] for k in info}
    assert names == {str(i): view.car(i).name for i in view.active}
    compounds = series(raced_families, "rigbridge_car_tyre_compound_info")
    assert len(compounds) == len(view.active) and all(dict(k)["visual"] for k in compounds)
    session = series(raced_families, "rigbridge_session_info")
    assert [dict(k)["track"] for k in session] == ["austria"]
    assert one("rigbridge_session_total_laps") == 3


def test_health_counters_come_from_one_snapshot(raced_bridge: Bridge, raced_families: list[M.Family]) -> None:
    received = series(raced_families, "rigbridge_datagrams_received_total")[()]
    decoded = sum(series(raced_families, "rigbridge_datagrams_decoded_total").values())
    dropped = series(raced_families, "rigbridge_datagrams_dropped_total")
    assert received == raced_bridge.ingest.received > 20_000
    assert decoded + sum(v for k, v in dropped.items() if k != (("reason", "kernel_overflow"),)) == received
    assert set(k[0][1] for k in dropped) >= set(M.DROP_REASONS)  # every reason present, 0 until it happens


def test_histograms_are_cumulative() -> None:
    h = Histogram()
    for value in (0.00005, 0.0003, 0.0003, 0.002, 0.7, 5.0):
        h.observe(value)
    family = M.histogram("rigbridge_x_seconds", "x", "r", M.HistogramCopy.of(h))
    buckets = [(values[1], v) for name, _, values, v in family.samples if name.endswith("_bucket")]
    assert buckets[0] == ("0.0001", 1)
    assert buckets[-1] == ("+Inf", 6)
    counts = [v for _, v in buckets]
    assert counts == sorted(counts)
    assert dict((name, v) for name, _, _, v in family.samples if not name.endswith("_bucket")) == {
        "rigbridge_x_seconds_count": 6, "rigbridge_x_seconds_sum": pytest.approx(5.70265)}
    assert dict(buckets)["0.25"] == 4 and dict(buckets)["1.0"] == 5


def parsed(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_text_format_parses_like_prometheus_clients_own(raced_bridge: Bridge, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    exporter = raced_bridge.metrics
    assert exporter is not None
    snap = M.take_snapshot(M.Sources.from_deps(raced_bridge.deps), exporter.lag)
    monkeypatch.setattr(exporter, "snapshot", lambda: snap)
    monkeypatch.setattr(exporter.process, "collect", lambda: iter(()))  # process figures move between calls
    ours = exporter.text.render(exporter.collect()).decode()
    theirs = generate_latest(exporter.registry).decode()
    assert parsed(ours) == parsed(theirs)
    assert len(parsed(ours)) > 300
    types = {f.name: f.type for f in text_string_to_metric_families(ours)}
    assert types["rigbridge_datagrams_received"] == "counter"
    assert types["rigbridge_pipeline_latency_seconds"] == "histogram"
    assert types["rigbridge_car_info"] == "gauge"
    # The second render of the same families (label prefixes cached) is identical.
    assert exporter.text.render(exporter.collect()).decode() == ours


def test_promtool_accepts_the_exposition(raced_bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package: prometheus)")
    exporter = raced_bridge.metrics
    assert exporter is not None
    text = exporter.text.render(all_families(raced_bridge, monkeypatch))
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).decode().splitlines() if line.strip()]
    # Fuel is in kilograms (the catalogue's unit); promtool's lint would have grams. Nothing else may appear.
    assert [p for p in problems if "fuel_kilograms" not in p] == []


def test_hostile_driver_names_are_escaped_and_bounded() -> None:
    bridge = Bridge(settings_for(1883, rig="hostile"))
    evil = ['Ev"il\\Dr', "line\nbreak\x01\x7f", "Ünïcödé 🏎", "x" * 31]
    packet = build(2025, 4, {"numActiveCars": 4,
                             "participants": [{"name": n.encode()[:31], "teamId": 1} for n in evil]},
                   session_uid=99, frame=1)
    bridge.on_datagram(encode(packet), ("127.0.0.1", 1), 0)
    assert bridge.metrics is not None
    fams = M.families(M.take_snapshot(M.Sources.from_deps(bridge.deps), bridge.metrics.lag), "hostile")
    text = bridge.metrics.text.render(fams).decode()
    names = sorted(dict(k)["name"] for k in series(fams, "rigbridge_car_info"))
    back = sorted(dict(labels)["name"] for (name, labels) in parsed(text) if name == "rigbridge_car_info")
    assert back == names
    assert 'Ev"il\\Dr' in names
    assert all(n.isprintable() and len(n) <= M.LABEL_MAX for n in names)
    assert any(n.startswith("line break") for n in names)  # control characters became spaces
    assert M.label("a" * 500) == "a" * M.LABEL_MAX


def test_spectating_exports_cars_but_no_player() -> None:
    bridge = Bridge(settings_for(1883, rig="spectator"))
    feed(bridge, synthetic_frames(3.0, player_index=255, cars=6))
    assert bridge.metrics is not None
    fams = M.families(M.take_snapshot(M.Sources.from_deps(bridge.deps), bridge.metrics.lag), "spectator")
    by_name = {f.name: f for f in fams}
    assert len(by_name["rigbridge_car_position"].samples) == 6
    assert by_name["rigbridge_player_speed_meters_per_second"].samples == []
    assert by_name["rigbridge_player_tyre_pressure_pascals"].samples == []
    assert by_name["rigbridge_player_rev_lights_ratio"].samples == []


def test_nothing_to_show_before_the_first_datagram() -> None:
    bridge = Bridge(settings_for(1883, rig="empty"))
    assert bridge.metrics is not None
    assert bridge.metrics.snapshot() is None  # not started: no loop to ask, so no snapshot at all
    fams = M.families(M.take_snapshot(M.Sources.from_deps(bridge.deps), bridge.metrics.lag), "empty")
    with_samples = {exposed(f) for f in fams if f.samples}
    assert with_samples >= {"rigbridge_info", "rigbridge_datagrams_received_total", "rigbridge_mqtt_state"}
    assert not any(n.startswith(("rigbridge_player_", "rigbridge_car_")) for n in with_samples)
    for f in fams:
        for _, _, _, value in f.samples:
            assert math.isfinite(value)


def test_every_metric_is_documented(raced_bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    exported = {exposed(f) for f in all_families(raced_bridge, monkeypatch)}
    documented = set(re.findall(r"`((?:rigbridge|process)_[a-z0-9_]+)", doc))
    assert {n for n in exported if n.startswith("rigbridge_")} - documented == set()
    assert documented - exported == set()


def test_skipping_unchanged_columns_gives_the_same_values(race: list[tuple[float, list[bytes]]]) -> None:
    """A snapshot that reuses unchanged per-car columns equals one that reads every car again, all race long."""
    bridge = Bridge(settings_for(1883, rig="cache"))
    assert bridge.metrics is not None
    cache = M.ColumnCache()

    def comparable(snap: M.Snapshot) -> list[M.Family]:
        fams = M.families(snap, "cache")
        return [f for f in fams if f.name != "rigbridge_metrics_snapshot_duration_seconds"]

    compared = 0
    for start in range(0, len(race), 240):  # every 4 s of race: laps, pit stops and positions change meanwhile
        feed(bridge, race[start:start + 240])
        cached = comparable(M.take_snapshot(M.Sources.from_deps(bridge.deps), bridge.metrics.lag, cache))
        fresh = comparable(M.take_snapshot(M.Sources.from_deps(bridge.deps), bridge.metrics.lag))
        assert cached == fresh
        compared += sum(len(f.samples) for f in fresh if f.name.startswith("rigbridge_car_"))
    assert compared > 2000
