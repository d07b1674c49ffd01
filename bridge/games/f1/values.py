"""Where each of F1's state values lives in its packets, as data, compiled per format into fast accessors.

The state reads game values on demand from the latest packet of each type (`bridge/state/values.py`); this is
F1's `ValueTable` for it: the packet id (the kind of record) and the accessors of every named value.

A source names the packet id, the per-car array (or None for a top-level field), and the spec field. Fields
renamed between formats list every name (`"sector1TimeMSPart|sector1TimeInMS"`: the first one the format
has wins). Split times (`minutes * 60000 + ms`) are a `Split`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.games.f1.layouts import PacketLayout
from bridge.state.values import Accessor, Column, Value, ValueTable, register

MOTION, SESSION, LAP_DATA, EVENT, PARTICIPANTS, CAR_SETUPS, CAR_TELEMETRY, CAR_STATUS = range(8)
FINAL_CLASSIFICATION, LOBBY_INFO, CAR_DAMAGE, SESSION_HISTORY, TYRE_SETS, MOTION_EX = range(8, 14)
TIME_TRIAL, LAP_POSITIONS, CAR_TELEMETRY_2 = 14, 15, 16

# Wheel arrays are ordered RL, RR, FL, FR in every format: the state's order (`values.WHEELS`).


@dataclass(frozen=True)
class Split:
    """A time sent as a milliseconds part plus a whole-minutes part (no minutes part in older formats)."""

    ms: str
    minutes: str | None = None


@dataclass(frozen=True)
class Source:
    packet_id: int
    array: str | None  # per-car array name; None for a top-level field
    field: str | Split
    transform: Callable[[Any], Any] | None = None


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _non_negative(value: int) -> int:
    return value if value > 0 else 0


# Per car (also read for the player's car). Names carry units where they would be ambiguous.
CAR_SOURCES: dict[str, Source] = {
    # LapData
    "last_lap_ms": Source(LAP_DATA, "lapData", "lastLapTimeInMS"),
    "current_lap_ms": Source(LAP_DATA, "lapData", "currentLapTimeInMS"),
    "sector1_ms": Source(
        LAP_DATA, "lapData", Split("sector1TimeMSPart|sector1TimeInMS", "sector1TimeMinutesPart|sector1TimeMinutes")
    ),
    "sector2_ms": Source(
        LAP_DATA, "lapData", Split("sector2TimeMSPart|sector2TimeInMS", "sector2TimeMinutesPart|sector2TimeMinutes")
    ),
    "gap_ahead_ms": Source(
        LAP_DATA, "lapData",
        Split("deltaToCarInFrontMSPart|deltaToCarInFrontInMS", "deltaToCarInFrontMinutesPart"), _non_negative,
    ),
    "gap_leader_ms": Source(
        LAP_DATA, "lapData",
        Split("deltaToRaceLeaderMSPart|deltaToRaceLeaderInMS", "deltaToRaceLeaderMinutesPart"), _non_negative,
    ),
    "lap_distance_m": Source(LAP_DATA, "lapData", "lapDistance"),
    "total_distance_m": Source(LAP_DATA, "lapData", "totalDistance"),
    "position": Source(LAP_DATA, "lapData", "carPosition"),
    "lap": Source(LAP_DATA, "lapData", "currentLapNum"),
    "pit_status": Source(LAP_DATA, "lapData", "pitStatus"),
    "pit_stops": Source(LAP_DATA, "lapData", "numPitStops"),
    "sector": Source(LAP_DATA, "lapData", "sector"),
    "lap_invalid": Source(LAP_DATA, "lapData", "currentLapInvalid", bool),
    "penalties_s": Source(LAP_DATA, "lapData", "penalties"),
    "warnings": Source(LAP_DATA, "lapData", "totalWarnings"),
    "corner_cutting_warnings": Source(LAP_DATA, "lapData", "cornerCuttingWarnings"),
    "unserved_drive_through": Source(LAP_DATA, "lapData", "numUnservedDriveThroughPens"),
    "unserved_stop_go": Source(LAP_DATA, "lapData", "numUnservedStopGoPens"),
    "grid_position": Source(LAP_DATA, "lapData", "gridPosition"),
    "driver_status": Source(LAP_DATA, "lapData", "driverStatus"),
    "result_status": Source(LAP_DATA, "lapData", "resultStatus"),
    "pit_lane_timer_active": Source(LAP_DATA, "lapData", "pitLaneTimerActive", bool),
    "pit_lane_time_ms": Source(LAP_DATA, "lapData", "pitLaneTimeInLaneInMS"),
    "pit_stop_time_ms": Source(LAP_DATA, "lapData", "pitStopTimerInMS"),
    # Participants
    "ai": Source(PARTICIPANTS, "participants", "aiControlled", bool),
    "driver_id": Source(PARTICIPANTS, "participants", "driverId"),
    "team_id": Source(PARTICIPANTS, "participants", "teamId"),
    "race_number": Source(PARTICIPANTS, "participants", "raceNumber"),
    "nationality_id": Source(PARTICIPANTS, "participants", "nationality"),
    "name": Source(PARTICIPANTS, "participants", "name", _text),
    "telemetry_public": Source(PARTICIPANTS, "participants", "yourTelemetry", bool),
    # CarTelemetry
    "speed_kph": Source(CAR_TELEMETRY, "carTelemetryData", "speed"),
    "throttle": Source(CAR_TELEMETRY, "carTelemetryData", "throttle"),
    "steer": Source(CAR_TELEMETRY, "carTelemetryData", "steer"),
    "brake": Source(CAR_TELEMETRY, "carTelemetryData", "brake"),
    "clutch": Source(CAR_TELEMETRY, "carTelemetryData", "clutch"),
    "gear": Source(CAR_TELEMETRY, "carTelemetryData", "gear"),
    "rpm": Source(CAR_TELEMETRY, "carTelemetryData", "engineRPM"),
    "drs_open": Source(CAR_TELEMETRY, "carTelemetryData", "drs", bool),
    "rev_lights_pct": Source(CAR_TELEMETRY, "carTelemetryData", "revLightsPercent"),
    "rev_lights_bits": Source(CAR_TELEMETRY, "carTelemetryData", "revLightsBitValue"),
    "brake_temps_c": Source(CAR_TELEMETRY, "carTelemetryData", "brakesTemperature"),
    "tyre_surface_temps_c": Source(CAR_TELEMETRY, "carTelemetryData", "tyresSurfaceTemperature"),
    "tyre_inner_temps_c": Source(CAR_TELEMETRY, "carTelemetryData", "tyresInnerTemperature"),
    "engine_temp_c": Source(CAR_TELEMETRY, "carTelemetryData", "engineTemperature"),
    "tyre_pressures_psi": Source(CAR_TELEMETRY, "carTelemetryData", "tyresPressure"),
    "surface_types": Source(CAR_TELEMETRY, "carTelemetryData", "surfaceType"),
    # CarStatus
    "traction_control": Source(CAR_STATUS, "carStatusData", "tractionControl"),
    "abs": Source(CAR_STATUS, "carStatusData", "antiLockBrakes", bool),
    "fuel_mix": Source(CAR_STATUS, "carStatusData", "fuelMix"),
    "brake_bias_pct": Source(CAR_STATUS, "carStatusData", "frontBrakeBias"),
    "pit_limiter": Source(CAR_STATUS, "carStatusData", "pitLimiterStatus", bool),
    "fuel_kg": Source(CAR_STATUS, "carStatusData", "fuelInTank"),
    "fuel_capacity_kg": Source(CAR_STATUS, "carStatusData", "fuelCapacity"),
    "fuel_laps": Source(CAR_STATUS, "carStatusData", "fuelRemainingLaps"),
    "max_rpm": Source(CAR_STATUS, "carStatusData", "maxRPM"),
    "idle_rpm": Source(CAR_STATUS, "carStatusData", "idleRPM"),
    "max_gears": Source(CAR_STATUS, "carStatusData", "maxGears"),
    "drs_allowed": Source(CAR_STATUS, "carStatusData", "drsAllowed", bool),
    "drs_activation_distance_m": Source(CAR_STATUS, "carStatusData", "drsActivationDistance"),
    "tyre_compound_id": Source(CAR_STATUS, "carStatusData", "actualTyreCompound"),
    "tyre_visual_id": Source(CAR_STATUS, "carStatusData", "visualTyreCompound"),
    "tyre_age_laps": Source(CAR_STATUS, "carStatusData", "tyresAgeLaps"),
    "fia_flag": Source(CAR_STATUS, "carStatusData", "vehicleFIAFlags"),
    "power_ice_w": Source(CAR_STATUS, "carStatusData", "enginePowerICE"),
    "power_mguk_w": Source(CAR_STATUS, "carStatusData", "enginePowerMGUK"),
    "ers_store_j": Source(CAR_STATUS, "carStatusData", "ersStoreEnergy"),
    "ers_mode": Source(CAR_STATUS, "carStatusData", "ersDeployMode"),
    "ers_harvested_mguk_j": Source(CAR_STATUS, "carStatusData", "ersHarvestedThisLapMGUK"),
    "ers_harvested_mguh_j": Source(CAR_STATUS, "carStatusData", "ersHarvestedThisLapMGUH"),
    "ers_deployed_j": Source(CAR_STATUS, "carStatusData", "ersDeployedThisLap"),
    # CarDamage
    "tyre_wear_pct": Source(CAR_DAMAGE, "carDamageData", "tyresWear"),
    "tyre_damage_pct": Source(CAR_DAMAGE, "carDamageData", "tyresDamage"),
    "brake_damage_pct": Source(CAR_DAMAGE, "carDamageData", "brakesDamage"),
    "front_left_wing_damage_pct": Source(CAR_DAMAGE, "carDamageData", "frontLeftWingDamage"),
    "front_right_wing_damage_pct": Source(CAR_DAMAGE, "carDamageData", "frontRightWingDamage"),
    "rear_wing_damage_pct": Source(CAR_DAMAGE, "carDamageData", "rearWingDamage"),
    "floor_damage_pct": Source(CAR_DAMAGE, "carDamageData", "floorDamage"),
    "diffuser_damage_pct": Source(CAR_DAMAGE, "carDamageData", "diffuserDamage"),
    "sidepod_damage_pct": Source(CAR_DAMAGE, "carDamageData", "sidepodDamage"),
    "gearbox_damage_pct": Source(CAR_DAMAGE, "carDamageData", "gearBoxDamage"),
    "engine_damage_pct": Source(CAR_DAMAGE, "carDamageData", "engineDamage"),
    "drs_fault": Source(CAR_DAMAGE, "carDamageData", "drsFault", bool),
    "ers_fault": Source(CAR_DAMAGE, "carDamageData", "ersFault", bool),
    # Motion
    "world_position_m": Source(MOTION, "carMotionData", "worldPositionX"),  # x, y, z (see ARRAY_WIDTH)
    "g_lateral": Source(MOTION, "carMotionData", "gForceLateral"),
    "g_longitudinal": Source(MOTION, "carMotionData", "gForceLongitudinal"),
    "g_vertical": Source(MOTION, "carMotionData", "gForceVertical"),
    "yaw_rad": Source(MOTION, "carMotionData", "yaw"),
    "pitch_rad": Source(MOTION, "carMotionData", "pitch"),
    "roll_rad": Source(MOTION, "carMotionData", "roll"),
    # CarTelemetry2 (format 2026 only)
    "active_aero_mode": Source(CAR_TELEMETRY_2, "carTelemetry2Data", "activeAeroMode"),
    "overtake_available": Source(CAR_TELEMETRY_2, "carTelemetry2Data", "overtakeAvailable", bool),
    "overtake_active": Source(CAR_TELEMETRY_2, "carTelemetry2Data", "overtakeActive", bool),
}

# Fields read as a run of consecutive scalars rather than one value.
ARRAY_WIDTH = {"world_position_m": 3}

# The player's car only (top-level fields of player-only packets).
PLAYER_SOURCES: dict[str, Source] = {
    "suggested_gear": Source(CAR_TELEMETRY, None, "suggestedGear"),
    "mfd_panel": Source(CAR_TELEMETRY, None, "mfdPanelIndex"),
    "wheel_speeds_mps": Source(MOTION_EX, None, "wheelSpeed"),
    "wheel_slip_ratios": Source(MOTION_EX, None, "wheelSlipRatio"),
    "wheel_slip_angles": Source(MOTION_EX, None, "wheelSlipAngle"),
    "suspension_positions_mm": Source(MOTION_EX, None, "suspensionPosition"),
    "front_wheels_angle_rad": Source(MOTION_EX, None, "frontWheelsAngle"),
    "local_velocity_z_mps": Source(MOTION_EX, None, "localVelocityZ"),
    "cog_height_m": Source(MOTION_EX, None, "heightOfCOGAboveGround"),
}

SESSION_SOURCES: dict[str, Source] = {
    "weather_id": Source(SESSION, None, "weather"),
    "track_temp_c": Source(SESSION, None, "trackTemperature"),
    "air_temp_c": Source(SESSION, None, "airTemperature"),
    "total_laps": Source(SESSION, None, "totalLaps"),
    "track_length_m": Source(SESSION, None, "trackLength"),
    "session_type_id": Source(SESSION, None, "sessionType"),
    "track_id": Source(SESSION, None, "trackId"),
    "formula_id": Source(SESSION, None, "formula"),
    "time_left_s": Source(SESSION, None, "sessionTimeLeft"),
    "duration_s": Source(SESSION, None, "sessionDuration"),
    "pit_speed_limit_kph": Source(SESSION, None, "pitSpeedLimit"),
    "paused": Source(SESSION, None, "gamePaused", bool),
    "spectating": Source(SESSION, None, "isSpectating", bool),
    "safety_car_id": Source(SESSION, None, "safetyCarStatus"),
    "network_game": Source(SESSION, None, "networkGame", bool),
    "forecast_accuracy": Source(SESSION, None, "forecastAccuracy"),
    "ai_difficulty": Source(SESSION, None, "aiDifficulty"),
    "pit_window_ideal_lap": Source(SESSION, None, "pitStopWindowIdealLap"),
    "pit_window_latest_lap": Source(SESSION, None, "pitStopWindowLatestLap"),
    "safety_car_periods": Source(SESSION, None, "numSafetyCarPeriods"),
    "virtual_safety_car_periods": Source(SESSION, None, "numVirtualSafetyCarPeriods"),
    "red_flag_periods": Source(SESSION, None, "numRedFlagPeriods"),
}

# SessionHistory: one car's laps; the "car index" of these accessors is the lap row.
HISTORY_SOURCES: dict[str, Source] = {
    "time_ms": Source(SESSION_HISTORY, "lapHistoryData", "lapTimeInMS"),
    **{
        f"sector{s}_ms": Source(
            SESSION_HISTORY,
            "lapHistoryData",
            Split(f"sector{s}TimeMSPart|sector{s}TimeInMS", f"sector{s}TimeMinutesPart|sector{s}TimeMinutes"),
        )
        for s in (1, 2, 3)
    },
    "valid_flags": Source(SESSION_HISTORY, "lapHistoryData", "lapValidBitFlags"),
}

def _resolve(layout: PacketLayout, array: str | None, names: str) -> tuple[int, int, int] | None:
    """(start, stride, width) of the first of `names` the layout has, or None."""
    record = layout.record
    start, stride = 0, 0
    if array is not None:
        arr = record.by_name.get(array)
        if arr is None or arr.record is None:
            return None
        record, start, stride = arr.record, arr.index, arr.record.width
    for name in names.split("|"):
        f = record.by_name.get(name)
        if f is not None:
            return start + f.index, stride, f.width
    return None


def compile_accessor(layout: PacketLayout, name: str, source: Source) -> Accessor | None:
    """A function reading `source` from a packet of `layout`; None when the format lacks the field."""
    transform = source.transform
    if isinstance(source.field, Split):
        ms = _resolve(layout, source.array, source.field.ms)
        minutes = _resolve(layout, source.array, source.field.minutes) if source.field.minutes else None
        if ms is None:
            return None
        ms_at, stride, _ = ms
        split: Accessor
        if minutes is None:
            split = lambda v, i: v[ms_at + i * stride]
        else:
            min_at = minutes[0]
            split = lambda v, i: v[min_at + i * stride] * 60000 + v[ms_at + i * stride]
        if transform is None:
            return split
        convert = transform
        return lambda v, i: convert(split(v, i))
    found = _resolve(layout, source.array, source.field)
    if found is None:
        return None
    at, stride, width = found
    width = ARRAY_WIDTH.get(name, width)
    if width > 1:
        return lambda v, i: v[at + i * stride : at + i * stride + width]
    if transform is None:
        return lambda v, i: v[at + i * stride]
    return lambda v, i: transform(v[at + i * stride])


class Accessors:
    """Compiled accessors for every (format, packet id), built once per format on first use."""

    def __init__(self, sources: dict[str, Source]) -> None:
        self.sources = sources
        self._compiled: dict[tuple[int, int], dict[str, Accessor]] = {}

    def for_layout(self, layout: PacketLayout) -> dict[str, Accessor]:
        key = (layout.format, layout.packet_id)
        table = self._compiled.get(key)
        if table is None:
            table = {}
            for name, source in self.sources.items():
                if source.packet_id == layout.packet_id:
                    accessor = compile_accessor(layout, name, source)
                    if accessor is not None:
                        table[name] = accessor
            self._compiled[key] = table
        return table


CAR = Accessors(CAR_SOURCES)
PLAYER = Accessors(PLAYER_SOURCES)
SESSION_FIELDS = Accessors(SESSION_SOURCES)
HISTORY = Accessors(HISTORY_SOURCES)


def _compile_column(layout: PacketLayout, name: str, source: Source) -> Column | None:
    """All car slots' values of one per-car field in one call (a C-level itemgetter for plain fields)."""
    if source.array is None:
        return None
    if isinstance(source.field, str) and source.transform is None and ARRAY_WIDTH.get(name, 1) == 1:
        found = _resolve(layout, source.array, source.field)
        if found is not None and found[2] == 1:
            return layout.column(source.array, _first_name(layout, source))
    accessor = compile_accessor(layout, name, source)
    if accessor is None:
        return None
    slots = range(layout.num_cars)
    return lambda v: tuple([accessor(v, i) for i in slots])


def _first_name(layout: PacketLayout, source: Source) -> str:
    assert source.array is not None and isinstance(source.field, str)
    arr = layout.record[source.array]
    assert arr.record is not None
    return next(n for n in source.field.split("|") if n in arr.record.by_name)


class Columns:
    """Per-car fields as whole columns, compiled per (format, packet id), for change detection by readers."""

    def __init__(self, sources: dict[str, Source]) -> None:
        self.sources = sources
        self._compiled: dict[tuple[int, int, str], Callable[[tuple[Any, ...]], tuple[Any, ...]] | None] = {}

    def get(self, layout: PacketLayout, name: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
        key = (layout.format, layout.packet_id, name)
        if key not in self._compiled:
            source = self.sources.get(name)
            if source is None:
                return None
            same_packet = source.packet_id == layout.packet_id
            self._compiled[key] = _compile_column(layout, name, source) if same_packet else None
        return self._compiled[key]


CAR_COLUMNS = Columns(CAR_SOURCES)


def _table() -> ValueTable:
    car = {name: Value(source.packet_id, CAR) for name, source in CAR_SOURCES.items()}
    car.update({name: Value(source.packet_id, PLAYER, player_only=True) for name, source in PLAYER_SOURCES.items()})
    session = {name: Value(source.packet_id, SESSION_FIELDS) for name, source in SESSION_SOURCES.items()}
    return ValueTable("f1", "F1 telemetry bridge", car, session, CAR_COLUMNS.get, FIELDS)


# The catalogue fields F1 provides (every one the catalogue had when it was F1's alone).
FIELDS = (
    "game/format", "game/version", "cars/*", "lights/*",
    "player/tyres/*", "player/brakes/*", "player/damage/*", "player/last_lap/*",
    *(f"session/{name}" for name in (
        "track", "track_length_m", "type", "formula", "weather", "track_temp_c", "air_temp_c", "total_laps",
        "time_left_s", "safety_car", "pit_speed_limit_kph", "paused", "network_game", "uid", "active_cars",
        "best_lap_ms", "best_lap_driver", "red_flag", "start_lights", "chequered_flag",
        "results", "standings", "best_sector*", "speed_trap_*", "safety_car_periods", "virtual_safety_car_periods",
        "red_flag_periods")),
    *(f"player/{name}" for name in (
        "name", "team", "race_number", "nationality", "position", "grid_position", "lap", "lap_distance_m",
        "sector", "current_lap_ms", "last_lap_ms", "best_lap_ms", "gap_ahead_ms", "gap_leader_ms", "pit_status",
        "pit_stops", "pit_time_lost_ms", "penalties_s", "warnings", "lap_invalid", "result_status",
        "tyre_compound", "tyre_visual", "tyre_age_laps", "tyre_wear_pct", "tyre_wear_rate_pct_per_lap",
        "stint_laps", "speed_kph", "gear", "rpm", "throttle_pct", "brake_pct", "steer_pct", "clutch_pct", "drs",
        "drs_allowed", "engine_temp_c", "max_rpm", "idle_rpm", "pit_limiter", "fuel_kg", "fuel_laps",
        "ers_store_j", "ers_deployed_j", "ers_mode", "fuel_mix", "fia_flag", "g_lateral", "g_longitudinal",
        "pit_lane_time_ms", "lap_completed", "stints", "best_sector*", "speed_trap_kph", "top_speed_kph",
        "collisions", "overtakes", "positions_gained")),
    # racer's aids (bridge/state/aids) and the decoded values published with them
    "session/forecast", "session/rain_pct_next",
    *(f"player/{name}" for name in (
        "delta_best_ms", "estimated_lap_ms", "delta_session_best_ms", "fuel_used_last_lap_kg", "fuel_per_lap_kg",
        "fuel_to_finish_kg", "fuel_surplus_kg", "fuel_surplus_laps", "fuel_target_per_lap_kg", "fuel_vs_game_laps",
        "fuel_model", "tyre_model", "tyre_laps_left", "tyre_sets", "battle/*", "pit_window/*", "rejoin", "rejoin_*",
        "driver_status", "corner_cutting_warnings", "unserved_drive_throughs", "unserved_stop_gos",
        "ers_harvested_mguk_j", "ers_harvested_mguh_j", "power_ice_kw", "power_mguk_kw", "drs_fault", "ers_fault",
        "active_aero_mode", "overtake_available", "overtake_active")),
)  # fmt: skip


F1_VALUES = register(_table())
