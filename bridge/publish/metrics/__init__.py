"""Prometheus metrics: bridge health and race telemetry, served over HTTP(S) from one snapshot per scrape.

The event loop thread owns every number the metrics show (ingest counters, bridge status, the session state).
The HTTP server runs on its own threads, so a scrape never reads those numbers itself: it asks the loop for a
`Snapshot` (`loop.call_soon_threadsafe` + a future with a timeout), which `take_snapshot` builds in one
synchronous call on the loop thread. Nothing can change while it runs, so the figures of one scrape agree with
each other (decoded + dropped == received, buckets == count). The server thread then turns the snapshot into
metric families (`families`) and formats them (`TextFormat`). The writer never touches a metric object, and
nothing here writes state. The same families are offered to prometheus-client users by `BridgeCollector`, in
the exporter's own registry (never the global default one, so several bridges can live in one process).

Every series carries a constant `rig` label (`mqtt.rig`), so one Prometheus can scrape several rigs and the
dashboards select one with their `$rig` variable; `rigbridge_info{rig, version}` lists the rigs. Label values
are bounded: car indices (0-23), wheels, sectors, packet names, drop reasons, rate classes, broker states, the
places and kinds of caught failures (chosen by code, at most `faults.MAX_KEYS` pairs), and the enumerations of
the game's spec (compounds, tracks, weather...). Driver names and teams appear only in
`rigbridge_car_info`, one series per active car.

Units are base units: seconds, meters, meters per second, celsius, pascals, joules, kilograms, and ratios
(0 to 1) instead of percentages. Telemetry from the field catalogue uses the catalogue's `Prom` name and scale.
Process figures (CPU, memory, file descriptors) come from prometheus-client's `ProcessCollector`, relabelled
with `rig`.

Cost (docs/performance.md, "Metrics cost"): a scrape of a full field is about 400 series. The snapshot skips
per-car reads whose raw column did not change (`ColumnCache`), and the text format is written by
`exposition.py` rather than by prometheus-client's. See docs/metrics.md for every metric.

Modules: `snapshot` (the telemetry table and the snapshot), `families` (metric families from a snapshot),
`exposition` (the text format, the prometheus-client collector), `server` (the HTTP server, `MetricsExporter`).
"""

from __future__ import annotations

from bridge.drops import DROP_REASONS
from bridge.publish.metrics.exposition import TextFormat
from bridge.publish.metrics.families import (
    BROKER_STATES,
    PUBLISH_CLASSES,
    Family,
    families,
    health_families,
    histogram,
    led_families,
    telemetry_families,
)
from bridge.publish.metrics.server import MetricsExporter
from bridge.publish.metrics.snapshot import (
    LABEL_MAX,
    MAX_CARS,
    ColumnCache,
    HistogramCopy,
    Snapshot,
    Sources,
    label,
    take_snapshot,
)

__all__ = [
    "BROKER_STATES",
    "DROP_REASONS",
    "LABEL_MAX",
    "MAX_CARS",
    "PUBLISH_CLASSES",
    "ColumnCache",
    "Family",
    "HistogramCopy",
    "MetricsExporter",
    "Snapshot",
    "Sources",
    "TextFormat",
    "families",
    "health_families",
    "histogram",
    "label",
    "led_families",
    "take_snapshot",
    "telemetry_families",
]
