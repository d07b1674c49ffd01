"""Metric families made from a snapshot: bridge health, realtime LEDs and race telemetry, every series with the
constant `rig` label. Label values are bounded (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.drops import DROP_REASONS
from bridge.publish.catalog import RATE_CLASSES
from bridge.publish.metrics.snapshot import (
    CAR_COMPOUND,
    CAR_GAUGES,
    CAR_INFO,
    CONTEXT_GAUGES,
    PLAYER_GAUGES,
    SESSION_INFO,
    WHEEL_GAUGES,
    HistogramCopy,
    Snapshot,
    label,
)
from bridge.state.session import STALE_REASONS
from bridge.state.values import WHEELS

BROKER_STATES = ("starting", "connected", "reconnecting", "stopped")
PUBLISH_CLASSES = (*RATE_CLASSES, "event", "status", "discovery", "clear")

# --------------------------------------------------------------------------------------------------- families

RIG = ("rig",)
RIG_LE = ("rig", "le")
RIG_CAR = ("rig", "car")
RIG_WHEEL = ("rig", "wheel")
RIG_SECTOR = ("rig", "sector")
INF = float("inf")

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
    return number if -INF < number < INF else None


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
        car_info.add(info_labels, (*key, *(label(v) for v in labels[:split])), 1)
        if any(v is not None for v in labels[split:]):
            car_compound.add(compound_labels, (*key, *(label(v) for v in labels[split:])), 1)
    out.extend((car_info, car_compound))

    out.append(info("rigbridge_session_info", "the session: track, session type and car class (value 1)",
                    ("rig", *(k for k, _ in SESSION_INFO)), snap.session and (rig, *snap.session)))
    out.append(info("rigbridge_session_weather_info", "the weather now (value 1)", ("rig", "weather"),
                    None if snap.weather is None else (rig, label(snap.weather))))
    out.append(info("rigbridge_session_safety_car_info", "safety car status (value 1)", ("rig", "status"),
                    None if snap.safety_car is None else (rig, label(snap.safety_car))))
    out.append(gauge("rigbridge_session_track_length_meters", "track length", rig, _number(snap.track_length_m)))
    out.append(gauge("rigbridge_session_best_lap_seconds", "overall best valid lap of the session", rig,
                     _number(snap.session_best_lap_ms, 0.001)))
    return out


def families(snap: Snapshot, rig: str) -> list[Family]:
    """Every family the bridge's snapshot gives, for one scrape."""
    return [*health_families(snap, rig), *led_families(snap, rig), *telemetry_families(snap, rig)]
