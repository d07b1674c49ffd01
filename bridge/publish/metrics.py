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
per-car reads whose raw column did not change (`ColumnCache`), and the text format is written here rather than
by prometheus-client's exposition, which validates and escapes every label of every sample on every scrape and
alone would cost more than the whole scrape does now. See docs/metrics.md for every metric.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn, TCPServer
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bridge.config import MetricsSettings
from bridge.ingest.stats import DECODE_REASONS, HANDLER_ERROR, KERNEL_OVERFLOW, NOT_ALLOWED, OTHER_SOURCE
from bridge.ingest.udp import PortInUseError
from bridge.publish.catalog import CATALOG, RATE_CLASSES, WHEELS, Field, by_path
from bridge.publish.fieldread import FieldReader
from bridge.publish.led_realtime import LedRealtime
from bridge.state.session import STALE_REASONS
from bridge.status import Histogram
from bridge.supervise import supervise, supervise_thread

if TYPE_CHECKING:
    from bridge.app import Bridge

__all__ = [
    "BridgeCollector",
    "ColumnCache",
    "Family",
    "MetricsExporter",
    "Snapshot",
    "TextFormat",
    "families",
    "take_snapshot",
]

log = logging.getLogger("rigbridge.metrics")

PREFIX = "rigbridge_"
LAG_INTERVAL_S = 0.25  # how often the lag probe sleeps and measures its overshoot
LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SNAPSHOT_TIMEOUT_S = 2.0  # a scrape waits this long for the loop; then it answers without the bridge's figures
POLL_INTERVAL_S = 0.25  # the HTTP server's shutdown check
REQUEST_TIMEOUT_S = 10.0  # a client (or a TLS handshake) that stalls longer is dropped
MAX_CARS = 24  # car slots in any format: the `car` label is 0..23
PSI_TO_PASCALS = 6894.757293168

DROP_REASONS = (*DECODE_REASONS, NOT_ALLOWED, OTHER_SOURCE, KERNEL_OVERFLOW, HANDLER_ERROR)
BROKER_STATES = ("starting", "connected", "reconnecting", "stopped")
PUBLISH_CLASSES = (*RATE_CLASSES, "event", "status", "discovery", "clear")


# --------------------------------------------------------------------------------------------------- telemetry table


@dataclass(frozen=True)
class Gauge:
    """One telemetry gauge: a catalogue field, its metric name, help and scale to base units."""

    name: str
    help: str
    read: Callable[[Any], Any]
    scale: float = 1.0
    source: str | None = None  # the per-car state value behind it (`Field.source`)
    path: str = ""  # the catalogue field: exported only while the running game provides it


def _catalogue_gauges(scopes: tuple[str, ...]) -> tuple[Gauge, ...]:
    return tuple(
        Gauge(PREFIX + f.prom.name, f.prom.help, f.read, f.prom.scale, f.source, f.path)
        for f in CATALOG
        if f.prom is not None and f.scope in scopes
    )


PLAYER_GAUGES = _catalogue_gauges(("player",))
CAR_GAUGES = _catalogue_gauges(("car",))
CONTEXT_GAUGES = _catalogue_gauges(("session", "lights", "game", "bridge"))

# Per wheel, for the player's car: (metric, help, state value (RL, RR, FL, FR array), scale).
WHEEL_GAUGES = (
    ("rigbridge_player_tyre_surface_temperature_celsius", "tyre surface temperature", "tyre_surface_temps_c", 1.0),
    ("rigbridge_player_tyre_inner_temperature_celsius", "tyre carcass (inner) temperature", "tyre_inner_temps_c", 1.0),
    ("rigbridge_player_tyre_pressure_pascals", "tyre pressure", "tyre_pressures_psi", PSI_TO_PASCALS),
    ("rigbridge_player_tyre_wear_ratio", "tyre wear, 0 to 1", "tyre_wear_pct", 0.01),
    ("rigbridge_player_tyre_damage_ratio", "tyre damage, 0 to 1", "tyre_damage_pct", 0.01),
    ("rigbridge_player_brake_temperature_celsius", "brake temperature", "brake_temps_c", 1.0),
)

_FIELDS = by_path()


def _field(path: str) -> Field:
    return _FIELDS[path]


# Label values read through the catalogue (already slugs: "soft", "austria", "light_cloud"...).
CAR_INFO = (("name", _field("cars/{car}/name")), ("team", _field("cars/{car}/team")),
            ("race_number", _field("cars/{car}/race_number")))  # fmt: skip
CAR_COMPOUND = (("compound", _field("cars/{car}/tyre_compound")), ("visual", _field("cars/{car}/tyre_visual")))
CAR_LABELS = (*CAR_INFO, *CAR_COMPOUND)
PLAYER_COMPOUND = (("compound", _field("player/tyre_compound")), ("visual", _field("player/tyre_visual")))
SESSION_INFO = (("track", _field("session/track")), ("session_type", _field("session/type")),
                ("formula", _field("session/formula")))  # fmt: skip
WEATHER = _field("session/weather")
SAFETY_CAR = _field("session/safety_car")
LABEL_MAX = 64  # characters kept of a label value taken from the game (driver names)


def _label(value: Any) -> str:
    """A label value from game text: control characters removed, bounded length."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    return text[:LABEL_MAX]


# --------------------------------------------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class HistogramCopy:
    bounds: tuple[float, ...]
    counts: tuple[int, ...]  # per bucket (not cumulative), the last one above the highest bound
    total: float
    count: int

    @classmethod
    def of(cls, h: Histogram) -> HistogramCopy:
        return cls(tuple(h.bounds), tuple(h.counts), h.total, h.count)


@dataclass
class Snapshot:
    """Everything one scrape shows, copied on the event loop thread in one synchronous call."""

    version: str
    # ingest
    received: int
    received_bytes: int
    dropped: dict[str, int]
    decoded: dict[str, int]
    forwarded: int
    forward_errors: int
    receiving: bool
    # publishing
    published: dict[str, int]
    publish_failures: int
    broker_connected: bool
    broker_state: str
    reconnects: int
    pending: int
    latency: HistogramCopy
    lag: HistogramCopy
    # failures: caught exceptions and refusals by (where, kind), stale packets and refused publishes by reason
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    refusals: dict[tuple[str, str], int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    publish_failure_reasons: dict[str, int] = field(default_factory=dict)
    oversize_skipped: int = 0
    # realtime LED devices (`lights.realtime`): empty when there are none
    led_frames: dict[str, int] = field(default_factory=dict)
    led_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    led_latency: HistogramCopy = field(default_factory=lambda: HistogramCopy.of(Histogram()))
    # telemetry (raw values; scaled when the families are built)
    context: list[Any] = field(default_factory=list)  # aligned with CONTEXT_GAUGES
    player: list[Any] | None = None  # aligned with PLAYER_GAUGES; None: no player car (spectating)
    player_wheels: list[Any] = field(default_factory=list)  # aligned with WHEEL_GAUGES: 4-tuples or None
    player_last_sectors_ms: tuple[int, ...] | None = None
    player_best_sectors_ms: tuple[int | None, ...] | None = None
    player_compound: tuple[str, ...] | None = None
    cars: tuple[int, ...] = ()  # the active cars' indices
    car_values: list[list[Any]] = field(default_factory=list)  # per CAR_GAUGES: one value per car of `cars`
    car_labels: list[list[Any]] = field(default_factory=list)  # per CAR_LABELS: one value per car of `cars`
    session: tuple[str, ...] | None = None  # aligned with SESSION_INFO
    weather: str | None = None
    safety_car: str | None = None
    track_length_m: Any = None
    session_best_lap_ms: Any = None
    duration_s: float = 0.0  # time the loop spent taking this snapshot


def _labels_of(fields: tuple[tuple[str, Field], ...], subject: Any) -> tuple[str, ...] | None:
    values = tuple(f.read(subject) for _, f in fields)
    if all(v is None for v in values):
        return None
    return tuple(_label(v) for v in values)


class ColumnCache:
    """The per-car values of the last snapshot, read again only when the raw column behind them moved.

    A catalogue field's `source` names the per-car state value behind it, and its value for a car is a function
    of that raw value (and the packet format): when the whole column is unchanged since the last snapshot (the
    field reader's column compare, as the publish engine does it), the values read then are still right.
    Positions, laps, pit stops, names and compounds change rarely, so most per-car reads are skipped. Used on the
    loop thread only.
    """

    def __init__(self) -> None:
        self._reader: FieldReader | None = None
        self._values: dict[str, tuple[tuple[int, ...], list[Any]]] = {}  # key -> (cars, their values)

    def read(self, key: str, read: Callable[[Any], Any], source: str | None, view: Any, cars: tuple[int, ...]
             ) -> list[Any]:
        reader = self._reader
        if reader is None or reader.view is not view:
            reader = self._reader = FieldReader(view)
            self._values.clear()
        moved = reader.moved(key, source, cars)
        hit = self._values.get(key)
        if hit is not None and hit[0] == cars and moved == ():
            return hit[1]
        values = [read(view.car(i)) for i in cars]
        self._values[key] = (cars, values)
        return values


def take_snapshot(bridge: Bridge, lag: Histogram, cache: ColumnCache | None = None) -> Snapshot:
    """Copy what the metrics show. Runs on the event loop thread: nothing changes while it runs."""
    started = time.perf_counter()
    cache = cache or ColumnCache()
    ingest, status, engine, view = bridge.ingest, bridge.status, bridge.engine, bridge.view
    snap = Snapshot(
        version=status.version,
        received=ingest.received,
        received_bytes=ingest.received_bytes,
        dropped=dict(ingest.dropped),
        decoded=dict(ingest.decoded),
        forwarded=ingest.forwarded,
        forward_errors=ingest.forward_errors,
        receiving=status.receiving,
        published=dict(status.published),
        publish_failures=status.publish_failures,
        broker_connected=status.broker_connected,
        broker_state=status.broker_state,
        reconnects=status.reconnects,
        pending=engine.outbox.pending_size(),
        latency=HistogramCopy.of(status.latency),
        lag=HistogramCopy.of(lag),
        errors=bridge.faults.errors,
        refusals=bridge.faults.refusals,
        stale=dict(bridge.state.stale_dropped),
        publish_failure_reasons=dict(status.publish_failures_by_reason),
        oversize_skipped=status.oversize_skipped,
    )
    for reader in bridge.readers:
        if isinstance(reader, LedRealtime):
            stats = reader.stats
            snap.led_frames = {name: stats.frames[name] for name in reader.devices}
            snap.led_errors = dict(stats.errors)
            snap.led_latency = HistogramCopy.of(stats.latency)
    ctx = engine.context
    provides = view.provides
    snap.context = [g.read(ctx) if provides(g.path) else None for g in CONTEXT_GAUGES]
    if view.session_uid:  # a session is known: telemetry is meaningful
        player = view.player
        if player is not None:
            snap.player = [g.read(player) if provides(g.path) else None for g in PLAYER_GAUGES]
            snap.player_wheels = [getattr(player, attr) for _, _, attr, _ in WHEEL_GAUGES]
            last = player.last_completed
            snap.player_last_sectors_ms = None if last is None else tuple(last.sectors_ms)
            snap.player_best_sectors_ms = tuple(player.best_sectors_ms)
            snap.player_compound = _labels_of(PLAYER_COMPOUND, player)
        cars = tuple(i for i in view.active if 0 <= i < MAX_CARS)
        snap.cars = cars
        snap.car_values = [cache.read(g.name, g.read, g.source, view, cars) for g in CAR_GAUGES]
        snap.car_labels = [cache.read(f.path, f.read, f.source, view, cars) for _, f in CAR_LABELS]
        snap.session = _labels_of(SESSION_INFO, ctx)
        snap.weather = WEATHER.read(ctx)
        snap.safety_car = SAFETY_CAR.read(ctx)
        snap.track_length_m = view.track_length_m
        best = view.best_lap
        snap.session_best_lap_ms = None if best is None else best[0]
    snap.duration_s = time.perf_counter() - started
    return snap


# --------------------------------------------------------------------------------------------------- families

RIG = ("rig",)
RIG_LE = ("rig", "le")
RIG_CAR = ("rig", "car")
RIG_WHEEL = ("rig", "wheel")
RIG_SECTOR = ("rig", "sector")
_INF = float("inf")

Number = int | float
Sample = tuple[str, tuple[str, ...], tuple[str, ...], Number]  # sample name, label names, label values, value


@dataclass(slots=True)
class Family:
    """One metric family as served: prometheus-client's shape (a counter's `name` has no `_total`, its samples
    do), with label names and values as tuples so a scrape builds no dictionaries. Info-style metrics are gauges
    named `*_info` with the value 1."""

    name: str
    help: str
    type: str  # counter | gauge | histogram
    samples: list[Sample] = field(default_factory=list)

    def add(self, labels: tuple[str, ...], values: tuple[str, ...], value: Number, suffix: str = "") -> None:
        self.samples.append((self.name + suffix, labels, values, value))


def _number(value: Any, scale: float = 1.0) -> Number | None:
    """A sample value, or None when there is nothing to show (unknown, not a number, not finite)."""
    if value is None or isinstance(value, str):
        return None
    if scale == 1.0:
        if isinstance(value, int):
            return int(value)  # bools too
        number = float(value)
    else:
        number = float(value) / (1.0 / scale)  # 68317 ms -> 68.317 s, where * 0.001 gives 68.31700000000001
    return number if -_INF < number < _INF else None


def gauge(name: str, doc: str, rig: str, value: Number | None) -> Family:
    family = Family(name, doc, "gauge")
    if value is not None:
        family.add(RIG, (rig,), value)
    return family


def counter(name: str, doc: str, rig: str, value: Number) -> Family:
    family = Family(name, doc, "counter")
    family.add(RIG, (rig,), value, "_total")
    return family


def labelled_counter(name: str, doc: str, rig: str, label: str, counts: dict[str, int], known: Iterable[str]
                     ) -> Family:
    """A counter per label value; the `known` values are always there (0 until they happen)."""
    family = Family(name, doc, "counter")
    values = dict.fromkeys(known, 0)
    values.update(counts)
    labels = ("rig", label)
    for key in sorted(values):
        family.add(labels, (rig, key), values[key], "_total")
    return family


def fault_counter(name: str, doc: str, rig: str, kind: str, counts: dict[tuple[str, str], int]) -> Family:
    """A counter per (where, kind) reported to `Faults` (a table bounded by `faults.MAX_KEYS`)."""
    family = Family(name, doc, "counter")
    labels = ("rig", "where", kind)
    for (where, what), n in sorted(counts.items()):
        family.add(labels, (rig, where, what), n, "_total")
    return family


def histogram(name: str, doc: str, rig: str, h: HistogramCopy) -> Family:
    family = Family(name, doc, "histogram")
    running = 0
    for bound, n in zip(h.bounds, h.counts, strict=False):
        running += n
        family.add(RIG_LE, (rig, repr(float(bound))), running, "_bucket")
    family.add(RIG_LE, (rig, "+Inf"), h.count, "_bucket")
    family.add(RIG, (rig,), h.count, "_count")
    family.add(RIG, (rig,), h.total, "_sum")
    return family


def info(name: str, doc: str, labels: tuple[str, ...], values: tuple[str, ...] | None) -> Family:
    family = Family(name, doc, "gauge")
    if values is not None:
        family.add(labels, values, 1)
    return family


def health_families(snap: Snapshot, rig: str) -> list[Family]:
    """The bridge's own figures."""
    states = Family("rigbridge_mqtt_state", "broker connection state: 1 for the current one", "gauge")
    for state in sorted({*BROKER_STATES, snap.broker_state}):
        states.add(("rig", "state"), (rig, state), 1 if state == snap.broker_state else 0)
    return [
        info("rigbridge_info", "the bridge: its rig and version (value 1)", ("rig", "version"), (rig, snap.version)),
        counter("rigbridge_datagrams_received", "datagrams read from the UDP socket", rig, snap.received),
        counter("rigbridge_datagrams_received_bytes", "bytes of the datagrams read", rig, snap.received_bytes),
        labelled_counter("rigbridge_datagrams_decoded", "datagrams decoded, by packet type", rig, "packet",
                         snap.decoded, ()),
        labelled_counter("rigbridge_datagrams_dropped", "datagrams dropped, by reason", rig, "reason",
                         snap.dropped, DROP_REASONS),
        counter("rigbridge_datagrams_forwarded", "datagrams forwarded, one per datagram per target", rig,
                snap.forwarded),
        counter("rigbridge_datagrams_forward_errors", "forwarding sends that failed", rig, snap.forward_errors),
        labelled_counter("rigbridge_packets_stale", "decoded packets the session state ignored as stale, by reason",
                         rig, "reason", snap.stale, STALE_REASONS),
        fault_counter("rigbridge_errors", "exceptions caught and survived, by where (a stage of the datagram "
                      "handler, a task, a reader) and exception type", rig, "kind", snap.errors),
        fault_counter("rigbridge_refusals", "inputs refused or skipped on purpose, by where and reason", rig,
                      "reason", snap.refusals),
        gauge("rigbridge_game_receiving", "1 while telemetry arrives from the game", rig, int(snap.receiving)),
        labelled_counter("rigbridge_mqtt_messages_published", "MQTT messages the broker accepted, by rate class",
                         rig, "rate_class", snap.published, PUBLISH_CLASSES),
        counter("rigbridge_mqtt_publish_failures", "MQTT publishes that failed", rig, snap.publish_failures),
        labelled_counter("rigbridge_mqtt_publish_failures_by_reason", "MQTT publishes that failed, by reason "
                         "(disconnected, oversize, or the broker's MQTT 5 reason such as not_authorized)", rig,
                         "reason", snap.publish_failure_reasons, ()),
        counter("rigbridge_mqtt_oversize_skipped", "messages larger than the broker's maximum packet size, "
                "skipped", rig, snap.oversize_skipped),
        gauge("rigbridge_mqtt_connected", "1 while connected to the broker", rig, int(snap.broker_connected)),
        states,
        counter("rigbridge_mqtt_reconnects", "broker connections after the first one", rig, snap.reconnects),
        gauge("rigbridge_mqtt_pending_messages", "messages waiting to be published (latest-wins map and events)",
              rig, snap.pending),
        histogram("rigbridge_pipeline_latency_seconds",
                  "datagram received to realtime publish accepted by the MQTT client", rig, snap.latency),
        histogram("rigbridge_event_loop_lag_seconds", "how late the event loop ran a timer", rig, snap.lag),
        gauge("rigbridge_metrics_snapshot_duration_seconds", "event loop time taken by the last scrape's snapshot",
              rig, snap.duration_s),
    ]


def led_families(snap: Snapshot, rig: str) -> list[Family]:
    """The realtime LED devices: series per device only when `lights.realtime` lists some."""
    frames = Family("rigbridge_led_frames_sent", "LED frames (and keep-alives) sent to each realtime device",
                    "counter")
    for name, n in sorted(snap.led_frames.items()):
        frames.add(("rig", "device"), (rig, name), n, "_total")
    errors = Family("rigbridge_led_send_errors", "LED frames not sent to a realtime device, by device and reason "
                    "(buffer_full: dropped, the socket's buffer was full; else the errno, such as econnrefused)",
                    "counter")
    for (name, reason), n in sorted(snap.led_errors.items()):
        errors.add(("rig", "device", "reason"), (rig, name, reason), n, "_total")
    latency = histogram("rigbridge_led_latency_seconds", "datagram received to LED frame sent to the realtime "
                        "devices", rig, snap.led_latency)
    return [frames, errors, latency]


def telemetry_families(snap: Snapshot, rig: str) -> list[Family]:
    """The race: the player's car, every active car, the session."""
    out = [gauge(g.name, g.help, rig, _number(value, g.scale))
           for g, value in zip(CONTEXT_GAUGES, snap.context, strict=True)]
    player = snap.player
    out.extend(gauge(g.name, g.help, rig, None if player is None else _number(player[n], g.scale))
               for n, g in enumerate(PLAYER_GAUGES))
    for n, (name, doc, _, scale) in enumerate(WHEEL_GAUGES):
        family = Family(name, f"{doc}, per wheel", "gauge")
        values = snap.player_wheels[n] if snap.player_wheels else None
        for wheel, raw in zip(WHEELS, values or (), strict=False):
            number = _number(raw, scale)
            if number is not None:
                family.add(RIG_WHEEL, (rig, wheel), number)
        out.append(family)
    for name, doc, sectors in (
        ("rigbridge_player_last_lap_sector_seconds", "sector times of the last completed lap",
         snap.player_last_sectors_ms),
        ("rigbridge_player_best_sector_seconds", "personal best sector times", snap.player_best_sectors_ms),
    ):
        family = Family(name, doc, "gauge")
        for s, ms in enumerate(sectors or ()):
            if ms:
                family.add(RIG_SECTOR, (rig, str(s + 1)), ms / 1000.0)
        out.append(family)
    out.append(info("rigbridge_player_tyre_compound_info", "the player's tyres: actual and visual compound (value 1)",
                    ("rig", "compound", "visual"), snap.player_compound and (rig, *snap.player_compound)))

    cars = [(rig, str(i)) for i in snap.cars]
    for g, column in zip(CAR_GAUGES, snap.car_values or [[]] * len(CAR_GAUGES), strict=True):
        family = Family(g.name, g.help, "gauge")
        for key, value in zip(cars, column, strict=True):
            number = _number(value, g.scale)
            if number is not None:
                family.add(RIG_CAR, key, number)
        out.append(family)
    car_info = Family("rigbridge_car_info", "each active car: driver name, team and race number (value 1)", "gauge")
    car_compound = Family("rigbridge_car_tyre_compound_info",
                          "each active car's actual and visual tyre compound (value 1)", "gauge")
    info_labels = ("rig", "car", *(k for k, _ in CAR_INFO))
    compound_labels = ("rig", "car", *(k for k, _ in CAR_COMPOUND))
    split = len(CAR_INFO)
    for n, key in enumerate(cars):
        labels = [column[n] for column in snap.car_labels]
        car_info.add(info_labels, (*key, *(_label(v) for v in labels[:split])), 1)
        if any(v is not None for v in labels[split:]):
            car_compound.add(compound_labels, (*key, *(_label(v) for v in labels[split:])), 1)
    out.extend((car_info, car_compound))

    out.append(info("rigbridge_session_info", "the session: track, session type and car class (value 1)",
                    ("rig", *(k for k, _ in SESSION_INFO)), snap.session and (rig, *snap.session)))
    out.append(info("rigbridge_session_weather_info", "the weather now (value 1)", ("rig", "weather"),
                    None if snap.weather is None else (rig, _label(snap.weather))))
    out.append(info("rigbridge_session_safety_car_info", "safety car status (value 1)", ("rig", "status"),
                    None if snap.safety_car is None else (rig, _label(snap.safety_car))))
    out.append(gauge("rigbridge_session_track_length_meters", "track length", rig, _number(snap.track_length_m)))
    out.append(gauge("rigbridge_session_best_lap_seconds", "overall best valid lap of the session", rig,
                     _number(snap.session_best_lap_ms, 0.001)))
    return out


def families(snap: Snapshot, rig: str) -> list[Family]:
    """Every family the bridge's snapshot gives, for one scrape."""
    return [*health_families(snap, rig), *led_families(snap, rig), *telemetry_families(snap, rig)]


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
    if value == _INF:
        return "+Inf"
    if value == -_INF:
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


class BridgeCollector(Collector):
    """The bridge's metrics for a prometheus-client registry: the same families the endpoint serves."""

    def __init__(self, exporter: MetricsExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterator[Metric]:
        for family in self._exporter.collect():
            yield to_metric(family)


# --------------------------------------------------------------------------------------------------- HTTP server


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _Server(ThreadingMixIn, WSGIServer):
    """A thread per request; with TLS, the handshake happens in that thread, so a slow client blocks nobody."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], family: int, context: ssl.SSLContext | None) -> None:
        self.address_family = family
        self.ssl_context = context
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the bind address up in DNS (getfqdn) for a name nobody uses here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(REQUEST_TIMEOUT_S)
            request.do_handshake()
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("metrics request from %s failed", client_address, exc_info=True)


def tls_context(settings: MetricsSettings) -> ssl.SSLContext | None:
    tls = settings.tls
    if not tls.enabled:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    assert tls.cert_file is not None
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


class MetricsExporter:
    """The metrics endpoint of one bridge: `start()` on the bridge's loop, `await close()` when it stops."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.settings = bridge.settings.metrics
        self.rig = bridge.settings.mqtt.rig
        self.lag = Histogram(bounds=LAG_BUCKETS_S, counts=[0] * (len(LAG_BUCKETS_S) + 1))
        self.process = ProcessCollector(registry=None)
        self.registry = CollectorRegistry(auto_describe=False)  # for prometheus-client users; not the global one
        self.registry.register(BridgeCollector(self))
        self.text = TextFormat()
        self.columns = ColumnCache()  # touched on the loop thread only, by take_snapshot
        self.faults = bridge.faults
        self.snapshot_failures = 0
        self._failures_lock = threading.Lock()
        self._closing = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lag_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Bind and serve; call on the running event loop. Raises `PortInUseError` when the port is taken."""
        if self._server is not None:
            raise RuntimeError("metrics already started")
        s = self.settings
        context = tls_context(s)
        infos = socket.getaddrinfo(s.bind, s.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]
        try:
            server = _Server((sockaddr[0], s.port), family, context)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"metrics port {s.bind}:{s.port} is already in use by another program: "
                    "set metrics.port to a free port, or metrics.enabled: false"
                ) from None
            raise
        server.set_app(self._app)
        self._loop = asyncio.get_running_loop()
        self._server = server
        self._closing.clear()
        self._thread = threading.Thread(target=self._serve, args=(server,), name="rigbridge-metrics", daemon=True)
        self._thread.start()
        self._lag_task = self._loop.create_task(supervise("metrics.lag", self._watch_lag, self.faults))
        host, port = self.address
        log.info("metrics on %s://%s:%s/metrics", "https" if context else "http",
                 f"[{host}]" if ":" in host else host, port)

    async def close(self) -> None:
        """Stop the lag probe and the server; scrapes in flight get no snapshot any more."""
        self._loop = None
        self._closing.set()
        task, self._lag_task = self._lag_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            await asyncio.to_thread(self._shutdown, server, thread)

    def _serve(self, server: _Server) -> None:
        """The server thread: serve until closed; a failure of the server loop is reported and it serves again."""
        supervise_thread("metrics.server", lambda: server.serve_forever(poll_interval=POLL_INTERVAL_S),
                         self._report, self._closing)

    def _report(self, where: str, exc: Exception, message: str) -> None:
        """A failure on a server thread, handed to the loop: `Faults` belongs to the loop thread."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the bridge is stopping
                loop.call_soon_threadsafe(self.faults.error, where, exc, message)

    @staticmethod
    def _shutdown(server: _Server, thread: threading.Thread | None) -> None:
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(5)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when `metrics.port` is 0."""
        if self._server is None:
            raise RuntimeError("metrics not started")
        name = self._server.socket.getsockname()
        return name[0], name[1]

    @property
    def port(self) -> int:
        return self.address[1]

    # ------------------------------------------------------------------------------------------ loop side

    async def _watch_lag(self) -> None:
        """Sleep `LAG_INTERVAL_S` again and again; how much later than asked the loop woke us is its lag."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag = loop.time() - before - LAG_INTERVAL_S
            self.lag.observe(lag if lag > 0.0 else 0.0)

    # ------------------------------------------------------------------------------------------ server side

    def collect(self) -> list[Family]:
        """Every family of one scrape: the bridge's (from one snapshot), then the process's, all with `rig`."""
        rig = self.rig
        snap = self.snapshot()
        out = families(snap, rig) if snap is not None else []
        out.append(counter("rigbridge_metrics_snapshot_failures", "scrapes answered without the bridge's figures "
                           "(the event loop did not answer in time, or reading failed)", rig,
                           self.snapshot_failures))
        out.extend(from_metric(m, rig) for m in self.process.collect())
        return out

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "/")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return []
        if path not in ("/metrics", "/"):
            body = b"not found: the metrics are at /metrics\n"
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        try:
            body = self.text.render(self.collect())
        except Exception as exc:  # noqa: BLE001 - reported; the next scrape tries again
            self._report("metrics.render", exc, f"metrics.render failed (this scrape answers 500): {exc!r}")
            body = b"the metrics could not be rendered (logged)\n"
            start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8"),
                                                         ("Content-Length", str(len(body)))])
            return [body]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]

    def snapshot(self) -> Snapshot | None:
        """A snapshot built on the loop thread; None when the loop does not answer in time (or is gone)."""
        loop = self._loop
        if loop is None:
            return None
        future: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()

        def build() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the scrape gave up waiting
            try:
                future.set_result(take_snapshot(self.bridge, self.lag, self.columns))
            except Exception as exc:  # noqa: BLE001 - reported here, on the loop; the scrape answers without it
                self.faults.error("metrics.snapshot", exc,
                                  f"metrics.snapshot failed (a scrape without the bridge's figures): {exc!r}")
                future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(build)
        except RuntimeError:  # the loop closed meanwhile
            return None
        try:
            return future.result(SNAPSHOT_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            self._failed("the event loop did not answer within %.1f s", SNAPSHOT_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a bug in a read must not break the endpoint; reported on the loop
            with self._failures_lock:
                self.snapshot_failures += 1
        return None

    def _failed(self, message: str, *args: Any) -> None:
        """A scrape the loop did not answer: logged from here, since the loop (and its faults log) is stuck."""
        with self._failures_lock:
            self.snapshot_failures += 1
            first = self.snapshot_failures == 1
        (log.warning if first else log.debug)("metrics scrape without bridge figures: " + message, *args)
