"""The packets as the synthetic race writes them: packet ids, and each per-car record's field order.

The orders are checked against the layouts when a run starts (`expect`), so the slice writes stay in step with
the vendored tables.
"""

from __future__ import annotations

from bridge.games.f1.layouts import PacketLayout, Record

MOTION, SESSION, LAP_DATA, EVENT, PARTICIPANTS, CAR_SETUPS, CAR_TELEMETRY, CAR_STATUS = 0, 1, 2, 3, 4, 5, 6, 7
FINAL_CLASSIFICATION, CAR_DAMAGE, SESSION_HISTORY, TYRE_SETS, MOTION_EX = 8, 10, 11, 12, 13
LAP_POSITIONS, CAR_TELEMETRY_2 = 15, 16

GAME_VERSION = {2023: (1, 21), 2024: (1, 17), 2025: (1, 20), 2026: (1, 20)}


def record_names(record: Record) -> list[str]:
    """Field names of a record, one per flat value (arrays repeat their name)."""
    out: list[str] = []
    for f in record.fields:
        if f.record is not None:
            for _ in range(f.count):
                out.extend(record_names(f.record))
        else:
            out.extend([f.name] * (1 if f.type == "s" else f.count))
    return out


def expect(layout: PacketLayout, array_name: str | None, names: tuple[str, ...]) -> None:
    """The per-car record (or the body) must have exactly these flat fields, in this order."""
    if array_name is None:
        got = record_names(layout.record)[12:]
    else:
        rec = layout.record[array_name].record
        assert rec is not None
        got = record_names(rec)
    if tuple(got) != names:
        raise AssertionError(f"{layout.format}/{layout.name}: record order {got} is not {names}")


def _w(name: str, n: int = 4) -> tuple[str, ...]:
    return (name,) * n


MOTION_FIELDS = (
    "worldPositionX", "worldPositionY", "worldPositionZ", "worldVelocityX", "worldVelocityY", "worldVelocityZ",
    "worldForwardDirX", "worldForwardDirY", "worldForwardDirZ", "worldRightDirX", "worldRightDirY",
    "worldRightDirZ", "gForceLateral", "gForceLongitudinal", "gForceVertical", "yaw", "pitch", "roll",
)  # fmt: skip
LAP_FIELDS_2023 = (
    "lastLapTimeInMS", "currentLapTimeInMS", "sector1TimeInMS", "sector1TimeMinutes", "sector2TimeInMS",
    "sector2TimeMinutes", "deltaToCarInFrontInMS", "deltaToRaceLeaderInMS", "lapDistance", "totalDistance",
    "safetyCarDelta", "carPosition", "currentLapNum", "pitStatus", "numPitStops", "sector", "currentLapInvalid",
    "penalties", "totalWarnings", "cornerCuttingWarnings", "numUnservedDriveThroughPens", "numUnservedStopGoPens",
    "gridPosition", "driverStatus", "resultStatus", "pitLaneTimerActive", "pitLaneTimeInLaneInMS",
    "pitStopTimerInMS", "pitStopShouldServePen",
)  # fmt: skip
LAP_FIELDS_2024 = (
    "lastLapTimeInMS", "currentLapTimeInMS", "sector1TimeMSPart", "sector1TimeMinutesPart", "sector2TimeMSPart",
    "sector2TimeMinutesPart", "deltaToCarInFrontMSPart", "deltaToCarInFrontMinutesPart", "deltaToRaceLeaderMSPart",
    "deltaToRaceLeaderMinutesPart", "lapDistance", "totalDistance", "safetyCarDelta", "carPosition",
    "currentLapNum", "pitStatus", "numPitStops", "sector", "currentLapInvalid", "penalties", "totalWarnings",
    "cornerCuttingWarnings", "numUnservedDriveThroughPens", "numUnservedStopGoPens", "gridPosition",
    "driverStatus", "resultStatus", "pitLaneTimerActive", "pitLaneTimeInLaneInMS", "pitStopTimerInMS",
    "pitStopShouldServePen", "speedTrapFastestSpeed", "speedTrapFastestLap",
)  # fmt: skip
TELEMETRY_FIELDS = (
    "speed", "throttle", "steer", "brake", "clutch", "gear", "engineRPM", "drs", "revLightsPercent",
    "revLightsBitValue", *_w("brakesTemperature"), *_w("tyresSurfaceTemperature"), *_w("tyresInnerTemperature"),
    "engineTemperature", *_w("tyresPressure"), *_w("surfaceType"),
)  # fmt: skip
_STATUS_HEAD = (
    "tractionControl", "antiLockBrakes", "fuelMix", "frontBrakeBias", "pitLimiterStatus", "fuelInTank",
    "fuelCapacity", "fuelRemainingLaps", "maxRPM", "idleRPM", "maxGears", "drsAllowed", "drsActivationDistance",
    "actualTyreCompound", "visualTyreCompound", "tyresAgeLaps", "vehicleFIAFlags", "enginePowerICE",
    "enginePowerMGUK", "ersStoreEnergy", "ersDeployMode", "ersHarvestedThisLapMGUK", "ersHarvestedThisLapMGUH",
)  # fmt: skip
STATUS_FIELDS = (*_STATUS_HEAD, "ersDeployedThisLap", "networkPaused")
STATUS_FIELDS_2026 = (*_STATUS_HEAD, "ersHarvestedLimitPerLap", "ersDeployedThisLap", "networkPaused")
TELEMETRY2_FIELDS = (
    "activeAeroMode", "activeAeroAvailable", "activeAeroActivationDistance", "overtakeAvailable", "overtakeActive",
    "overtakeActivationDistance", "2026Regulations", "drivingWrongWay",
)  # fmt: skip
_MOTION_EX_2023 = (
    *_w("suspensionPosition"), *_w("suspensionVelocity"), *_w("suspensionAcceleration"), *_w("wheelSpeed"),
    *_w("wheelSlipRatio"), *_w("wheelSlipAngle"), *_w("wheelLatForce"), *_w("wheelLongForce"),
    "heightOfCOGAboveGround", "localVelocityX", "localVelocityY", "localVelocityZ", "angularVelocityX",
    "angularVelocityY", "angularVelocityZ", "angularAccelerationX", "angularAccelerationY", "angularAccelerationZ",
    "frontWheelsAngle", *_w("wheelVertForce"),
)  # fmt: skip
_MOTION_EX_2024 = (
    *_MOTION_EX_2023, "frontAeroHeight", "rearAeroHeight", "frontRollAngle", "rearRollAngle", "chassisYaw",
)  # fmt: skip
_MOTION_EX_2025 = (*_MOTION_EX_2024, "chassisPitch", *_w("wheelCamber"), *_w("wheelCamberGain"))
MOTION_EX_FIELDS = {2023: _MOTION_EX_2023, 2024: _MOTION_EX_2024, 2025: _MOTION_EX_2025, 2026: _MOTION_EX_2025}
_DAMAGE_TAIL = (
    "frontLeftWingDamage", "frontRightWingDamage", "rearWingDamage", "floorDamage", "diffuserDamage",
    "sidepodDamage", "drsFault", "ersFault", "gearBoxDamage", "engineDamage", "engineMGUHWear", "engineESWear",
    "engineCEWear", "engineICEWear", "engineMGUKWear", "engineTCWear", "engineBlown", "engineSeized",
)  # fmt: skip
DAMAGE_FIELDS = (*_w("tyresWear"), *_w("tyresDamage"), *_w("brakesDamage"), *_DAMAGE_TAIL)
DAMAGE_FIELDS_2025 = (*_w("tyresWear"), *_w("tyresDamage"), *_w("brakesDamage"), *_w("tyreBlisters"), *_DAMAGE_TAIL)
LAP_HISTORY_WIDTH = 8
MOTION_WIDTH, TELEMETRY_WIDTH, STATUS_WIDTH = len(MOTION_FIELDS), len(TELEMETRY_FIELDS), len(STATUS_FIELDS)
TELEMETRY2_WIDTH = len(TELEMETRY2_FIELDS)
TYRE_SET_FIELDS = (
    "actualTyreCompound", "visualTyreCompound", "wear", "available", "recommendedSession", "lifeSpan",
    "usableLife", "lapDeltaTime", "fitted",
)  # fmt: skip
