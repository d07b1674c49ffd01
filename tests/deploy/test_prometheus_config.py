"""dashboards/prometheus/prometheus.yml: accepted by promtool, and scrapes rigbridge as compose runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "dashboards" / "prometheus" / "prometheus.yml"


def _load() -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_promtool_accepts_the_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package: prometheus)")
    result = subprocess.run(
        [promtool, "check", "config", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rigbridge_job_scrapes_the_compose_service_every_5s() -> None:
    jobs = {job["job_name"]: job for job in _load()["scrape_configs"]}
    job = jobs["rigbridge"]
    assert job["scrape_interval"] == "5s"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert targets == ["rigbridge:9464"]
