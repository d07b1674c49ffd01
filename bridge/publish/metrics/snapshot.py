"""The metrics' snapshot: everything one scrape shows, copied on the event loop thread in one synchronous call,
and the telemetry table (the catalogue fields exported as gauges, with their labels).

Nothing can change while `take_snapshot` runs, so the figures of one scrape agree with each other (decoded +
dropped == received, buckets == count). Per-car reads whose raw column did not change are skipped
(`ColumnCache`, on the field reader's column compare).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.faults import Faults
from bridge.publish.catalog import CATALOG, Field, by_path
from bridge.publish.fieldread import Context, FieldReader
from bridge.publish.outbox import Outbox
from bridge.status import Histogram

PREFIX = "rigbridge_"
MAX_CARS = 24  # car slots in any format: the `car` label is 0..23
PSI_TO_PASCALS = 6894.757293168


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


def label(value: Any) -> str:
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
    return tuple(label(v) for v in values)


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


@dataclass(frozen=True)
class Sources:
    """What a snapshot copies, given explicitly (read on the loop thread only)."""

    counters: Any  # the ingest counters: received, dropped by reason, decoded by packet...
    status: Any  # the bridge status: broker, published, latency
    outbox: Outbox  # its pending size
    view: Any  # the read-only session state
    context: Context  # what session, bridge and lights fields read
    faults: Faults
    leds: Any = None  # the realtime LED output (its devices and stats), or None

    @classmethod
    def from_deps(cls, deps: Any) -> Sources:
        """From a service's dependencies (`bridge.publish.service.Deps`)."""
        return cls(deps.counters, deps.status, deps.outbox, deps.view, deps.context, deps.faults,
                   deps.service("led_realtime"))


def take_snapshot(src: Sources, lag: Histogram, cache: ColumnCache | None = None) -> Snapshot:
    """Copy what the metrics show. Runs on the event loop thread: nothing changes while it runs."""
    started = time.perf_counter()
    cache = cache or ColumnCache()
    ingest, status, view = src.counters, src.status, src.view
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
        pending=src.outbox.pending_size(),
        latency=HistogramCopy.of(status.latency),
        lag=HistogramCopy.of(lag),
        errors=src.faults.errors,
        refusals=src.faults.refusals,
        stale=dict(view.stale_dropped),
        publish_failure_reasons=dict(status.publish_failures_by_reason),
        oversize_skipped=status.oversize_skipped,
    )
    leds = src.leds
    if leds is not None:
        stats = leds.stats
        snap.led_frames = {name: stats.frames[name] for name in leds.devices}
        snap.led_errors = dict(stats.errors)
        snap.led_latency = HistogramCopy.of(stats.latency)
    ctx = src.context
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
