"""One template per packet kind: the flat value list written in place, packed with the current frame's header.

Per frame only the values that change are written (per car record, one slice assignment at a precomputed
`layout.index(...)`), and the datagram is `layout.struct.pack(*values)`.
"""

from __future__ import annotations

from typing import Any

from bridge.games.f1.codec import blank_values, header_values
from bridge.games.f1.layouts import EVENT_DETAILS_SIZE, EVENT_PACKET_ID
from bridge.games.f1.synth.config import Params
from bridge.games.f1.synth.fields import (
    CAR_DAMAGE,
    CAR_SETUPS,
    CAR_STATUS,
    CAR_TELEMETRY,
    CAR_TELEMETRY_2,
    DAMAGE_FIELDS,
    DAMAGE_FIELDS_2025,
    EVENT,
    GAME_VERSION,
    LAP_DATA,
    LAP_FIELDS_2023,
    LAP_FIELDS_2024,
    LAP_HISTORY_WIDTH,
    MOTION,
    MOTION_EX,
    MOTION_EX_FIELDS,
    MOTION_FIELDS,
    SESSION_HISTORY,
    STATUS_FIELDS,
    STATUS_FIELDS_2026,
    TELEMETRY2_FIELDS,
    TELEMETRY_FIELDS,
    TYRE_SET_FIELDS,
    TYRE_SETS,
    expect,
)


class Templates:
    """The packet templates of one run, and the current frame (send time, frame id) every header carries."""

    def __init__(self, p: Params) -> None:
        self.p = p
        self.layouts = lays = p.layouts
        fmt = p.fmt
        self.frame = 0
        self.t = 0.0
        self.tpl: dict[int, list[Any]] = {}
        for pid in lays:
            if pid in (EVENT, 9, 14):  # no lobby, no time trial
                continue
            self.tpl[pid] = self.template(pid)
        expect(lays[MOTION], "carMotionData", MOTION_FIELDS)
        expect(lays[LAP_DATA], "lapData", LAP_FIELDS_2023 if fmt == 2023 else LAP_FIELDS_2024)
        expect(lays[CAR_TELEMETRY], "carTelemetryData", TELEMETRY_FIELDS)
        expect(lays[CAR_STATUS], "carStatusData", STATUS_FIELDS_2026 if fmt == 2026 else STATUS_FIELDS)
        expect(lays[MOTION_EX], None, MOTION_EX_FIELDS[fmt])
        if fmt == 2026:
            expect(lays[CAR_TELEMETRY_2], "carTelemetry2Data", TELEMETRY2_FIELDS)
        hist = lays[SESSION_HISTORY].record["lapHistoryData"].record
        assert hist is not None and hist.width == LAP_HISTORY_WIDTH
        expect(lays[TYRE_SETS], "tyreSetData", TYRE_SET_FIELDS)
        expect(lays[CAR_DAMAGE], "carDamageData", DAMAGE_FIELDS_2025 if fmt >= 2025 else DAMAGE_FIELDS)
        self.damage_width = len(DAMAGE_FIELDS_2025 if fmt >= 2025 else DAMAGE_FIELDS)
        # Where each car's record starts, per packet with one record per car.
        self.base = {
            pid: [lays[pid].index(arr, i) for i in range(p.slots)]
            for pid, arr in (
                (MOTION, "carMotionData"),
                (LAP_DATA, "lapData"),
                (CAR_TELEMETRY, "carTelemetryData"),
                (CAR_STATUS, "carStatusData"),
                (CAR_DAMAGE, "carDamageData"),
                (CAR_SETUPS, "carSetupData"),
            )
        }
        if fmt == 2026:
            self.base[CAR_TELEMETRY_2] = [lays[CAR_TELEMETRY_2].index("carTelemetry2Data", i) for i in range(p.slots)]
        lap = self.tpl[LAP_DATA]
        lap[lays[LAP_DATA].index("timeTrialPBCarIdx")] = 255
        lap[lays[LAP_DATA].index("timeTrialRivalCarIdx")] = 255
        tel = self.tpl[CAR_TELEMETRY]
        tel[lays[CAR_TELEMETRY].index("mfdPanelIndex")] = 255
        tel[lays[CAR_TELEMETRY].index("mfdPanelIndexSecondaryPlayer")] = 255
        # Record lengths for the slice writes.
        self.lap_width = len(LAP_FIELDS_2023 if fmt == 2023 else LAP_FIELDS_2024)

    def template(self, pid: int) -> list[Any]:
        """A fresh value list for packet `pid`, its header filled in."""
        layout = self.layouts[pid]
        values = blank_values(layout.record)
        values[:12] = header_values(
            self.p.fmt,
            pid,
            session_uid=self.p.uid,
            player_car_index=self.p.player,
            game_version=GAME_VERSION[self.p.fmt],
        )
        return values

    def next_frame(self) -> None:
        self.frame += 1
        self.t = self.frame * self.p.dt

    def pack(self, pid: int, values: list[Any] | None = None) -> bytes:
        """Packet `pid` from its template (or `values`, a value list of that packet), stamped with this frame."""
        v = self.tpl[pid] if values is None else values
        v[7] = self.t
        v[8] = v[9] = self.frame
        return self.layouts[pid].struct.pack(*v)

    def event(self, code: str, details: tuple[Any, ...], frame_zero: bool = False) -> bytes:
        lay = self.layouts[EVENT]
        detail = bytearray(EVENT_DETAILS_SIZE)
        ev = lay.events.get(code)
        if ev is not None and details:
            ev.struct.pack_into(detail, 0, *details)
        head = header_values(
            self.p.fmt,
            EVENT_PACKET_ID,
            session_uid=self.p.uid,
            session_time=self.t,
            frame=0 if frame_zero else self.frame,
            overall_frame=self.frame,
            player_car_index=self.p.player,
            game_version=GAME_VERSION[self.p.fmt],
        )
        return lay.struct.pack(*head, code.encode("ascii"), *detail)
