"""Grafana provisioning and dashboard JSON: valid, stable uids, datasource by uid, rig variable, known metrics."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bridge.app import Bridge
from bridge.publish import metrics as M
from tests.metrics import dashboards as D

EXPECTED_UIDS = {"live-session.json": "rigbridge-live-session", "bridge-health.json": "rigbridge-bridge-health"}


@pytest.fixture(scope="module")
def datasource_uid() -> str:
    files = sorted(D.DATASOURCES.glob("*.yml"))
    assert [f.name for f in files] == ["prometheus.yml"]
    config = D.load_yaml(files[0])
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"  # the compose service
    assert source["access"] == "proxy"
    uid = source["uid"]
    assert isinstance(uid, str) and uid == "rigbridge-prometheus"
    return uid


def test_dashboard_provider_loads_the_mounted_folder() -> None:
    files = sorted(D.PROVIDERS.glob("*.yml"))
    assert [f.name for f in files] == ["rigbridge.yml"]
    config = D.load_yaml(files[0])
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"  # where compose.yaml mounts them
    assert provider["allowUiUpdates"] is False
    compose = D.load_yaml(D.ROOT / "compose.yaml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./dashboards/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
    assert "./dashboards/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_dashboards_are_valid_json_with_stable_unique_uids() -> None:
    files = D.dashboard_files()
    assert {f.name for f in files} == set(EXPECTED_UIDS)
    uids = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)  # valid JSON
        assert data["uid"] == EXPECTED_UIDS[path.name]
        assert len(data["uid"]) <= 40  # Grafana's limit
        assert data.get("id") is None  # provisioned dashboards carry no database id
        assert data["schemaVersion"] >= 39
        assert data["title"].startswith("rigbridge")
        uids.append(data["uid"])
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_panels_use_the_provisioned_datasource_by_uid(name: str, datasource_uid: str) -> None:
    dashboard = D.load(D.DASHBOARDS / name)
    expected = {"type": "prometheus", "uid": datasource_uid}
    ids = [panel["id"] for panel in D.panels(dashboard)]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    targets = 0
    for panel in D.panels(dashboard):
        assert panel.get("datasource") == expected, panel.get("title")
        assert isinstance(panel["id"], int)
        for target in panel.get("targets", []):
            assert target.get("datasource") == expected, (panel["title"], target.get("refId"))
            assert target["expr"].strip() and target["refId"]
            targets += 1
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
    for variable in D.variables(dashboard):
        if variable["type"] == "query":
            assert variable["datasource"] == expected, variable["name"]
    assert targets >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_panels_tile_the_grid_without_overlapping(name: str) -> None:
    dashboard = D.load(D.DASHBOARDS / name)
    cells: dict[tuple[int, int], str] = {}
    for panel in D.panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] >= 1 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", sorted(EXPECTED_UIDS))
def test_every_query_selects_the_rig_variable(name: str) -> None:
    dashboard = D.load(D.DASHBOARDS / name)
    (rig,) = [v for v in D.variables(dashboard) if v["name"] == "rig"]
    assert rig["type"] == "query"
    assert D.variable_query(rig) == "label_values(rigbridge_info, rig)"
    assert rig.get("includeAll") is False and rig.get("multi") is False
    for query in D.queries(dashboard):
        found = D.selectors(query.expr)
        assert found, query
        # Bridge health's League table lists every rig ($rigs): see test_league_dashboards.py
        wanted = 'rig=~"$rigs"' if (name, query.panel) == ("bridge-health.json", "Rigs") else 'rig="$rig"'
        for metric, matchers in found:
            assert wanted in matchers, (query.panel, metric, query.expr)
        D.substitute(query.expr, {**D.BUILTINS, **{v["name"]: "x" for v in D.variables(dashboard)}})


def test_dashboards_use_only_exported_metrics(raced_bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = raced_bridge.metrics
    assert exporter is not None
    sources = M.Sources.from_deps(raced_bridge.deps)
    monkeypatch.setattr(exporter, "snapshot", lambda: M.take_snapshot(sources, exporter.lag))
    exported = {name for family in exporter.collect() for name, _, _, _ in family.samples}
    used: set[str] = set()
    for path in D.dashboard_files():
        dashboard = D.load(path)
        for query in D.queries(dashboard):
            used |= D.referenced_metrics(query.expr)
        for variable in D.variables(dashboard):
            used |= D.referenced_metrics(D.variable_query(variable))
    assert used - exported == set()
    assert len(used) >= 60


def test_the_dashboards_show_what_the_issue_asks_for() -> None:
    live = D.load(D.DASHBOARDS / "live-session.json")
    health = D.load(D.DASHBOARDS / "bridge-health.json")
    live_exprs = " ".join(q.expr for q in D.queries(live))
    health_exprs = " ".join(q.expr for q in D.queries(health))
    for metric in ("player_speed", "player_engine_rpm", "player_gear", "player_throttle_ratio", "player_brake_ratio",
                   "player_rev_lights_ratio", "player_fuel_kilograms", "player_ers_store_joules",
                   "player_tyre_surface_temperature", "player_tyre_pressure", "player_tyre_wear", "player_position",
                   "player_last_lap_seconds", "player_last_lap_sector_seconds", "car_position", "car_gap_leader",
                   "car_tyre_age_laps", "car_tyre_compound_info", "car_pit_stops", "car_info", "session_info",
                   "session_weather_info", "session_total_laps"):
        assert f"rigbridge_{metric}" in live_exprs, metric
    for metric in ("datagrams_received_total", "datagrams_decoded_total", "datagrams_dropped_total",
                   "mqtt_messages_published_total", "mqtt_publish_failures_total", "mqtt_state", "mqtt_connected",
                   "mqtt_reconnects_total", "mqtt_pending_messages", "pipeline_latency_seconds_bucket",
                   "event_loop_lag_seconds_bucket"):
        assert f"rigbridge_{metric}" in health_exprs, metric
    assert "histogram_quantile(0.99" in health_exprs and "process_cpu_seconds_total" in health_exprs
    types = Counter(p["type"] for p in D.panels(live))
    assert types["table"] >= 1 and types["gauge"] >= 2 and types["timeseries"] >= 5
    titles = {p["title"] for p in D.panels(live)} | {p["title"] for p in D.panels(health)}
    assert {"Positions", "Throttle and brake", "Gap to leader", "Lap times", "Pipeline latency",
            "Drops by reason", "Broker state"} <= titles
