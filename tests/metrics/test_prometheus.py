"""A real Prometheus scrapes a bridge during a synthetic race; every panel query of every dashboard returns data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.broker import Mosquitto, free_port
from tests.harness import BridgeThread, settings_for
from tests.metrics import dashboards as D

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PROMETHEUS = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
RIG = "prom-test"
REPLAY_SPEED = 5.0  # the 80 s race in 16 s
DEADLINE_S = 45.0  # from the start of the replay: every query must have returned data by then


class Prometheus:
    """A Prometheus server of our own: free port, data in a temporary folder, scraping one target every second."""

    def __init__(self, directory: Path, target: str) -> None:
        if PROMETHEUS is None:
            pytest.skip("prometheus is not installed (.ci/run installs the Debian package)")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (directory / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: rigbridge\n    static_configs:\n"
            f"      - targets: [\"{target}\"]\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        log = (self.directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"prometheus not ready within 30 s: {self.log()}")

    def log(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")[-3000:]

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[Any]:
        data = self.api("query", query=expr)
        result = data["result"]
        if data["resultType"] == "scalar":  # [time, value]
            return [result]
        return list(result)

    def label_values(self, selector: str | None, label: str) -> list[str]:
        if selector is None:
            return list(self.api(f"label/{label}/values"))
        series = self.api("series", **{"match[]": selector, "start": time.time() - 300})
        return sorted({s[label] for s in series if label in s}, key=lambda v: (len(v), v))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


_LABEL_VALUES = re.compile(r"label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)")


def resolve(prometheus: Prometheus, dashboard: dict[str, Any]) -> dict[str, str] | None:
    """Values for the dashboard's variables, as Grafana would offer them (None while one has no value yet)."""
    values = dict(D.BUILTINS)
    for variable in D.variables(dashboard):
        name = variable["name"]
        if variable["type"] == "query":
            match = _LABEL_VALUES.fullmatch(D.variable_query(variable).strip())
            assert match, f"{dashboard['uid']}: variable ${name}: unsupported query {D.variable_query(variable)!r}"
            selector = D.substitute(match.group(1), values) if match.group(1) else None
            options = prometheus.label_values(selector, match.group(2))
            if name == "rig":
                options = [RIG] if RIG in options else []
            if not options:
                return None
            values[name] = options[0]
        elif variable["type"] in ("custom", "interval", "constant", "textbox"):
            values[name] = str(variable.get("current", {}).get("value") or variable.get("query", "").split(",")[0])
        else:
            raise AssertionError(f"{dashboard['uid']}: variable ${name}: type {variable['type']} not handled")
    return values


def test_every_dashboard_query_returns_data(mosquitto: Mosquitto, race_capture: Path, tmp_path: Path) -> None:
    boards = [D.load(path) for path in D.dashboard_files()]
    assert len(boards) >= 2
    bt = BridgeThread(settings_for(mosquitto.port, rig=RIG)).start()
    prometheus: Prometheus | None = None
    replay: subprocess.Popen[bytes] | None = None
    pending: dict[tuple[str, str, str], str] = {}
    answered: dict[tuple[str, str, str], int] = {}
    try:
        prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{bt.bridge.metrics.port}").start()
        replay = subprocess.Popen(
            [sys.executable, "-m", "bridge", "replay", str(race_capture), "--to", f"127.0.0.1:{bt.udp_port}",
             "--speed", str(REPLAY_SPEED)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for board in boards:
            for q in D.queries(board):
                pending[(q.dashboard, q.panel, q.ref)] = q.expr
        deadline = time.monotonic() + DEADLINE_S
        while pending and time.monotonic() < deadline:
            time.sleep(1.0)
            for board in boards:
                values = resolve(prometheus, board)
                if values is None:
                    continue  # the bridge's series are not in Prometheus yet
                for q in D.queries(board):
                    key = (q.dashboard, q.panel, q.ref)
                    if key in pending:
                        result = prometheus.query(D.substitute(q.expr, values))
                        if result:
                            answered[key] = len(result)
                            del pending[key]
        assert replay.wait(60) == 0
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
            replay.wait(5)
        if prometheus is not None:
            prometheus.stop()
        bt.stop()
    assert pending == {}, "queries without data:\n" + "\n".join(f"{k}: {v}" for k, v in pending.items())
    # The per-car queries saw the whole field, the per-wheel ones four wheels.
    assert answered[("rigbridge-live-session", "Positions", "A")] == 20
    assert answered[("rigbridge-live-session", "Tyre surface temperature", "A")] == 4
    assert len(answered) >= 80
