"""The series of what went wrong: caught exceptions and refusals, stale packets, refused publishes, oversize skips,
and the drop reasons that exist from the start."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import Bridge
from bridge.games.f1.codec import build, encode
from bridge.games.f1.layouts import LAYOUTS
from bridge.games.registry import F1
from bridge.publish import metrics as M
from tests.harness import settings_for
from tests.metrics.conftest import feed, synthetic_frames

RIG = "faulty"


def series(bridge: Bridge, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of `name` in a snapshot taken now, by their labels (rig left out)."""
    assert bridge.metrics is not None
    snapshot = M.take_snapshot(M.Sources.from_deps(bridge.deps), bridge.metrics.lag)
    text = bridge.metrics.text.render(M.families(snapshot, RIG)).decode()
    return {tuple(sorted((k, v) for k, v in s.labels.items() if k != "rig")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name == name}


def test_exceptions_in_the_pipeline_are_exported_by_where_and_type(monkeypatch: pytest.MonkeyPatch) -> None:
    b = Bridge(settings_for(1883, rig=RIG))
    assert series(b, "rigbridge_errors_total") == {}  # nothing has gone wrong: no series at all
    calls = 0
    b.start_game(F1)
    process_packet = b.process

    def every_tenth_fails(state: object, packet: object) -> object:
        nonlocal calls
        calls += 1
        if calls % 10 == 0:
            raise ArithmeticError("bad lap time")
        return process_packet(state, packet)  # type: ignore[arg-type]

    monkeypatch.setattr(b, "process", every_tenth_fails)
    feed(b, synthetic_frames(1.0))
    b.faults.warn("udp", "other_source", "ignoring UDP telemetry from 10.0.0.9")
    b.faults.warn("udp", "other_source", "ignoring UDP telemetry from 10.0.0.9")
    assert series(b, "rigbridge_errors_total") == {(("kind", "ArithmeticError"), ("where", "writer")): calls // 10}
    assert series(b, "rigbridge_refusals_total") == {(("reason", "other_source"), ("where", "udp")): 2}
    assert calls // 10 > 5


def test_stale_packets_are_exported_by_reason() -> None:
    b = Bridge(settings_for(1883, rig=RIG))
    assert series(b, "rigbridge_packets_stale_total") == {(("reason", "reordered"),): 0}
    for frame in (100, 101, 99, 100, 102):  # 99 and 100 arrive after 101: reordered on the way
        packet = build(2025, 6, {}, session_uid=77, frame=frame, overall_frame=frame)
        b.on_datagram(encode(packet), ("127.0.0.1", 20777), time.monotonic_ns())
    assert series(b, "rigbridge_packets_stale_total") == {(("reason", "reordered"),): 2}


def test_publish_failures_by_reason_and_oversize_skips_are_exported() -> None:
    b = Bridge(settings_for(1883, rig=RIG))
    assert series(b, "rigbridge_mqtt_publish_failures_by_reason_total") == {}
    assert series(b, "rigbridge_mqtt_oversize_skipped_total") == {(): 0}
    b.status.publish_failures_by_reason.update({"not_authorized": 3, "oversize": 1})
    b.status.oversize_skipped = 4
    assert series(b, "rigbridge_mqtt_publish_failures_by_reason_total") == {
        (("reason", "not_authorized"),): 3, (("reason", "oversize"),): 1}
    assert series(b, "rigbridge_mqtt_oversize_skipped_total") == {(): 4}


def test_every_drop_reason_is_exported_from_the_start() -> None:
    b = Bridge(settings_for(1883, rig=RIG))
    dropped = series(b, "rigbridge_datagrams_dropped_total")
    reasons = {dict(labels)["reason"]: value for labels, value in dropped.items()}
    assert reasons == dict.fromkeys(M.DROP_REASONS, 0)
    assert {"other_source", "handler_error", "not_allowed", "kernel_overflow"} <= set(reasons)


def test_a_datagram_the_handler_fails_on_before_decoding_is_a_handler_error_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """received == decoded + dropped holds even when a stage fails: before decoding it is a drop, after it is not."""
    b = Bridge(settings_for(1883, rig=RIG))
    b.start_game(F1)
    decode = b.decode
    motion = LAYOUTS.get(2025, 0).size  # every Motion packet fails in the decode stage
    monkeypatch.setattr(b, "decode", lambda data: decode(data) if len(data) != motion else 1 / 0)
    frames = synthetic_frames(1.0)
    feed(b, frames)
    dropped = series(b, "rigbridge_datagrams_dropped_total")[(("reason", "handler_error"),)]
    decoded = sum(series(b, "rigbridge_datagrams_decoded_total").values())
    received = series(b, "rigbridge_datagrams_received_total")[()]
    assert dropped > 0 and received == decoded + sum(series(b, "rigbridge_datagrams_dropped_total").values())
    assert series(b, "rigbridge_errors_total") == {(("kind", "ZeroDivisionError"), ("where", "decode")): dropped}
