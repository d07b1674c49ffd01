"""Metrics for a league: the file-based service discovery config (dashboards/prometheus/league.yml) run by a real
Prometheus scraping several bridges, and the League table of the Bridge health dashboard read through it."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Mosquitto, free_port
from tests.harness import BridgeThread, send_frames, settings_for
from tests.metrics import dashboards as D
from tests.metrics.test_prometheus import Prometheus

PROMETHEUS_DIR = D.ROOT / "dashboards" / "prometheus"
LEAGUE_CONFIG = PROMETHEUS_DIR / "league.yml"
SHIPPED_TARGETS = "/etc/prometheus/rigs/*.json"
# The table's columns, as the issue names them, in order after the rig.
COLUMNS = ["Rig", "Online", "Broker", "Receiving", "Packets/s", "Drops/s", "MQTT pending", "Publish failures"]
RUNNING = {"lg-rig1": "site-a", "lg-rig2": "site-a", "lg-rig3": "site-b"}
SILENT = "lg-rig4"  # listed in the target files, nothing answers on its port


def league_config(targets_glob: str, fast: bool) -> str:
    """The shipped league.yml with the target files elsewhere and, for a quick test, 1 s scrapes."""
    text = LEAGUE_CONFIG.read_text()
    replacements = {SHIPPED_TARGETS: targets_glob}
    if fast:
        replacements |= {"scrape_interval: 5s": "scrape_interval: 1s", "scrape_timeout: 4s": "scrape_timeout: 1s"}
    for old, new in replacements.items():
        assert text.count(old) == 1, f"league.yml: expected {old!r} once"
        text = text.replace(old, new)
    return text


def league_table() -> dict[str, Any]:
    health = D.load(D.DASHBOARDS / "bridge-health.json")
    (table,) = [p for p in D.panels(health) if p["title"] == "Rigs"]
    return table


def test_promtool_accepts_the_league_config_and_its_target_files(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package: prometheus)")
    shipped = sorted(PROMETHEUS_DIR.glob("rigs/*.json"))
    assert shipped, "no example target files in dashboards/prometheus/rigs/"
    config = tmp_path / "league.yml"
    config.write_text(league_config(str(PROMETHEUS_DIR / "rigs" / "*.json"), fast=False))
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr  # promtool reads the target files too


def test_the_league_table_shows_what_the_issue_asks_for() -> None:
    health = D.load(D.DASHBOARDS / "bridge-health.json")
    table = league_table()
    assert table["type"] == "table" and table["gridPos"]["y"] <= 1, "the table comes first"
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    merge, organize = table["transformations"]
    assert merge["id"] == "merge" and organize["id"] == "organize"
    names = organize["options"]["renameByName"]
    order = sorted(organize["options"]["indexByName"], key=organize["options"]["indexByName"].get)
    assert [names[field] for field in order] == COLUMNS
    for query in D.queries({"uid": health["uid"], "panels": [table]}):
        assert "by (rig)" in query.expr, query.expr  # one row per rig
        for metric, matchers in D.selectors(query.expr):
            assert 'rig=~"$rigs"' in matchers, (metric, query.expr)
    (rigs,) = [v for v in D.variables(health) if v["name"] == "rigs"]
    assert rigs["multi"] and rigs["includeAll"] and rigs["allValue"] == ".+"
    assert rigs["current"]["value"] == ["$__all"]


def table_rows(prometheus: Prometheus, table: dict[str, Any], rigs: str) -> dict[str, dict[str, float]]:
    """Column -> {rig: value} of the table's queries, as Grafana would run them with `$rigs` = `rigs`."""
    names = table["transformations"][1]["options"]["renameByName"]
    values = {**D.BUILTINS, "rigs": rigs}
    out: dict[str, dict[str, float]] = {}
    for target in table["targets"]:
        result = prometheus.query(D.substitute(target["expr"], values))
        out[names[f"Value #{target['refId']}"]] = {s["metric"]["rig"]: float(s["value"][1]) for s in result}
    return out


def test_prometheus_scrapes_every_rig_of_the_target_files(mosquitto: Mosquitto, tmp_path: Path,
                                                          race: list[tuple[float, list[bytes]]]) -> None:  # fmt: skip
    bridges = {rig: BridgeThread(settings_for(mosquitto.port, rig=rig)).start() for rig in RUNNING}
    prometheus: Prometheus | None = None
    senders: list[threading.Thread] = []
    try:
        targets = tmp_path / "rigs"
        targets.mkdir()
        groups = [(f"127.0.0.1:{bt.bridge.metrics.port}", rig, RUNNING[rig]) for rig, bt in bridges.items()]
        groups.append((f"127.0.0.1:{free_port()}", SILENT, "site-b"))
        (targets / "league.json").write_text("[" + ",\n".join(
            f'{{"targets": ["{address}"], "labels": {{"rig": "{rig}", "site": "{site}"}}}}'
            for address, rig, site in groups) + "]\n")  # fmt: skip
        prometheus = Prometheus(tmp_path / "prometheus", "unused")
        (prometheus.directory / "prometheus.yml").write_text(league_config(str(targets / "*.json"), fast=True))
        prometheus.start()
        for bt in bridges.values():
            sender = threading.Thread(target=send_frames, args=(bt.udp_port, race), kwargs={"duration": 15.0},
                                      daemon=True)  # fmt: skip
            sender.start()
            senders.append(sender)

        table = league_table()
        running = set(RUNNING)

        def complete(rows: dict[str, dict[str, float]]) -> bool:
            return (rows["Online"] == {**{rig: 1.0 for rig in running}, SILENT: 0.0}
                    and all(rows[c] == {rig: 1.0 for rig in running} for c in ("Broker", "Receiving"))
                    and set(rows["Packets/s"]) == running and min(rows["Packets/s"].values()) > 0
                    and all(set(rows[c]) == running for c in ("Drops/s", "MQTT pending", "Publish failures"))
                    )  # fmt: skip

        deadline = time.monotonic() + 30
        rows = table_rows(prometheus, table, ".+")
        while not complete(rows) and time.monotonic() < deadline:
            time.sleep(1.0)
            rows = table_rows(prometheus, table, ".+")
        assert complete(rows), rows
        # The selection narrows the table to the chosen rigs (Grafana writes a multi-value as a|b).
        assert set(table_rows(prometheus, table, "lg-rig1|lg-rig3")["Online"]) == {"lg-rig1", "lg-rig3"}
        # The bridges' own rig label is kept (honor_labels), the target files' site label added.
        info = prometheus.query("rigbridge_info")
        assert {s["metric"]["rig"] for s in info} == running
        assert all("exported_rig" not in s["metric"] for s in info)
        assert {s["metric"]["rig"]: s["metric"]["site"] for s in info} == RUNNING
    finally:
        for sender in senders:
            sender.join(30)
        if prometheus is not None:
            prometheus.stop()
        for bt in bridges.values():
            bt.stop()
