"""The Prometheus text format, written here rather than by prometheus-client's exposition (which validates and
escapes every label of every sample on every scrape, and alone would cost more than the whole scrape does now);
conversions to and from prometheus-client's metrics, and the collector offered to its registries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bridge.publish.metrics.families import INF, Family, Number

# --------------------------------------------------------------------------------------------------- conversions

_TYPES = {"counter": "counter", "gauge": "gauge", "histogram": "histogram", "summary": "summary",
          "info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}  # fmt: skip


def from_metric(metric: Metric, rig: str) -> Family:
    """A prometheus-client family (ProcessCollector's) as a `Family`, with the `rig` label added."""
    family = Family(metric.name, metric.documentation, _TYPES.get(metric.type, "untyped"))
    for s in metric.samples:
        names = ("rig", *s.labels)
        family.samples.append((s.name, names, (rig, *s.labels.values()), s.value))
    return family


def to_metric(family: Family) -> Metric:
    """A `Family` as a prometheus-client family (what `BridgeCollector` yields)."""
    metric = Metric(family.name, family.help, family.type)
    for name, labels, values, value in family.samples:
        metric.add_sample(name, dict(zip(labels, values, strict=True)), value)
    return metric


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _format(value: Number) -> str:
    if type(value) is int:
        return str(value)
    if value != value:
        return "NaN"
    if value == INF:
        return "+Inf"
    if value == -INF:
        return "-Inf"
    return repr(float(value))


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABEL_CACHE_MAX = 20_000


class TextFormat:
    """The Prometheus text format (0.0.4) of a list of `Family`.

    prometheus-client's own exposition validates and escapes every label of every sample on every scrape,
    which for the ~400 series of a full field costs several milliseconds of CPU per scrape; here each series'
    `name{labels} ` prefix is built once and kept (label values are bounded, and the cache is cleared past
    `LABEL_CACHE_MAX` entries), so a scrape only formats the values. The output parses to exactly what
    prometheus-client's `generate_latest` gives for the same families (tested).
    """

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}

    def render(self, families: Iterable[Family]) -> bytes:
        prefixes = self._prefixes
        if len(prefixes) > LABEL_CACHE_MAX:
            prefixes.clear()
        out: list[str] = []
        add = out.append
        for family in families:
            name = family.name + "_total" if family.type == "counter" else family.name
            doc = family.help.replace("\\", "\\\\").replace("\n", "\\n")
            add(f"# HELP {name} {doc}\n# TYPE {name} {family.type}\n")
            for sample in family.samples:
                key = sample[:3]
                prefix = prefixes.get(key)
                if prefix is None:
                    sample_name, labels, values = key
                    inner = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(labels, values, strict=True))
                    prefix = prefixes[key] = f"{sample_name}{{{inner}}} " if labels else f"{sample_name} "
                add(prefix + _format(sample[3]) + "\n")
        return "".join(out).encode("utf-8")


# --------------------------------------------------------------------------------------------------- collector


class Collects(Protocol):
    def collect(self) -> list[Family]: ...


class BridgeCollector(Collector):
    """The bridge's metrics for a prometheus-client registry: the same families the endpoint serves."""

    def __init__(self, exporter: Collects) -> None:
        self._exporter = exporter

    def collect(self) -> Iterator[Metric]:
        for family in self._exporter.collect():
            yield to_metric(family)
