"""The shipped Grafana dashboards and provisioning, read for the tests: panels, queries, variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "dashboards" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources"
PROVIDERS = GRAFANA / "provisioning" / "dashboards"

# Grafana's built-in variables, as the query test substitutes them (Prometheus scrapes every second there).
BUILTINS = {
    "__rate_interval": "30s",
    "__interval": "5s",
    "__interval_ms": "5000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panels(panel)


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str


def queries(dashboard: dict[str, Any]) -> list[Query]:
    return [
        Query(dashboard["uid"], panel.get("title", ""), target.get("refId", ""), target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard.get("templating", {}).get("list", []))


def variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query", "")
    return str(query or variable.get("definition", ""))


_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def substitute(expr: str, values: dict[str, str]) -> str:
    """`$name`, `${name}`, `${name:format}` and `[[name]]` replaced; an unknown name is an error."""

    def replace(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise KeyError(f"unknown variable ${name} in {expr!r}")
        return values[name]

    return _VAR.sub(replace, expr)


def referenced_metrics(expr: str) -> set[str]:
    """Metric names an expression selects (the bridge's and the process figures)."""
    return set(re.findall(r"\b((?:rigbridge|process)_[a-zA-Z0-9_]+)\b", expr))


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, label matchers) of each selector of a bridge metric in the expression."""
    return [(m.group(1), m.group(2) or "") for m in re.finditer(r"\b((?:rigbridge|process)_\w+)\s*(\{[^}]*\})?", expr)]
