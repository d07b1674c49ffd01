"""Real packet bodies from pits-n-giggles, decoded by us and compared with that project's own decoder output.

The bodies come without their 29-byte header; we prepend a valid header of the file's format (`f123_` -> 2023,
`f124_` -> 2024) and the packet id in the name. `*.expected.json` is pits-n-giggles' parser output for the same
bytes: kebab-case keys, its own names, enums printed as labels, car index 255 printed as -1 and team 255 as
"MY_TEAM" (spec pitfall 20), arrays cut to their count. `NAME_MAP` translates its keys to our spec names per
packet type; `SKIPPED` lists, with the reason, every key that cannot be compared.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.games.f1 import enums
from bridge.games.f1.codec import EventPacket, Packet, RecordView, decode, header_values
from bridge.games.f1.layouts import HEADER_SIZE, LAYOUTS, Field, Record

HEADER = {
    "session_uid": 0x0123456789ABCDEF,
    "session_time": 123.5,
    "frame": 4242,
    "overall_frame": 4300,
    "player_car_index": 19,
    "secondary_player_car_index": 255,
}
NAME_RE = re.compile(r"^f1(\d\d)_pid(\d\d)_")


# -- how their keys map to ours ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """Their list (or single dict) of records <- our array (or single record) `name`, keys mapped by `names`."""

    name: str
    names: dict[str, Any]


@dataclass(frozen=True)
class Flattened:
    """Their nested dict whose keys are scalar fields of the *same* record of ours (MotionEx `{x, y, z}`)."""

    names: dict[str, str]


@dataclass(frozen=True)
class SlotCount:
    """Their number of slots of our array `name` (a derived value, not a packet field)."""

    name: str


# A plain string is our spec field name; a tuple lists the names of the same bytes in different formats
# (2023 `sector1TimeInMS` became `sector1TimeMSPart` in 2024); the first one the format has is used.
MARSHAL_ZONE = {"zone-start": "zoneStart", "zone-flag": "zoneFlag"}
FORECAST = {
    "session-type": "sessionType",
    "time-offset": "timeOffset",
    "weather": "weather",
    "track-temperature": "trackTemperature",
    "track-temperature-change": "trackTemperatureChange",
    "air-temperature": "airTemperature",
    "air-temperature-change": "airTemperatureChange",
    "rain-percentage": "rainPercentage",
}
SESSION = {
    "weather": "weather",
    "track-temperature": "trackTemperature",
    "air-temperature": "airTemperature",
    "total-laps": "totalLaps",
    "track-length": "trackLength",
    "session-type": "sessionType",
    "track-id": "trackId",
    "formula": "formula",
    "session-time-left": "sessionTimeLeft",
    "session-duration": "sessionDuration",
    "pit-speed-limit": "pitSpeedLimit",
    "game-paused": "gamePaused",
    "is-spectating": "isSpectating",
    "spectator-car-index": "spectatorCarIndex",
    "sli-pro-native-support": "sliProNativeSupport",
    "num-marshal-zones": "numMarshalZones",
    "marshal-zones": Records("marshalZones", MARSHAL_ZONE),
    "safety-car-status": "safetyCarStatus",
    "network-game": "networkGame",
    "num-weather-forecast-samples": "numWeatherForecastSamples",
    "weather-forecast-samples": Records("weatherForecastSamples", FORECAST),
    "forecast-accuracy": "forecastAccuracy",
    "ai-difficulty": "aiDifficulty",
    "season-link-identifier": "seasonLinkIdentifier",
    "weekend-link-identifier": "weekendLinkIdentifier",
    "session-link-identifier": "sessionLinkIdentifier",
    "pit-stop-window-ideal-lap": "pitStopWindowIdealLap",
    "pit-stop-window-latest-lap": "pitStopWindowLatestLap",
    "pit-stop-rejoin-position": "pitStopRejoinPosition",
    "steering-assist": "steeringAssist",
    "braking-assist": "brakingAssist",
    "gearbox-assist": "gearboxAssist",
    "pit-assist": "pitAssist",
    "pit-release-assist": "pitReleaseAssist",
    "ers-assist": "ERSAssist",
    "drs-assist": "DRSAssist",
    "dynamic-racing-line": "dynamicRacingLine",
    "dynamic-racing-line-type": "dynamicRacingLineType",
    "game-mode": "gameMode",
    "rule-set": "ruleSet",
    "time-of-day": "timeOfDay",
    "session-length": "sessionLength",
    "speed-units-lead-player": "speedUnitsLeadPlayer",
    "temp-units-lead-player": "temperatureUnitsLeadPlayer",
    "speed-units-secondary-player": "speedUnitsSecondaryPlayer",
    "temp-units-secondary-player": "temperatureUnitsSecondaryPlayer",
    "num-safety-car-periods": "numSafetyCarPeriods",
    "num-virtual-safety-car-periods": "numVirtualSafetyCarPeriods",
    "num-red-flag-periods": "numRedFlagPeriods",
    # appended in format 2024
    "equal-car-performance": "equalCarPerformance",
    "recovery-mode": "recoveryMode",
    "flashback-limit": "flashbackLimit",
    "surface-type": "surfaceType",
    "low-fuel-mode": "lowFuelMode",
    "race-starts": "raceStarts",
    "tyre-temperature-mode": "tyreTemperature",
    "pit-lane-tyre-sim": "pitLaneTyreSim",
    "car-damage": "carDamage",
    "car-damage-rate": "carDamageRate",
    "collisions": "collisions",
    "collisions-off-for-first-lap-only": "collisionsOffForFirstLapOnly",
    "mp-unsafe-pit-release": "mpUnsafePitRelease",
    "mp-off-for-griefing": "mpOffForGriefing",
    "corner-cutting-stringency": "cornerCuttingStringency",
    "parc-ferme-rules": "parcFermeRules",
    "pit-stop-experience": "pitStopExperience",
    "safety-car-setting": "safetyCar",
    "safety-car-experience": "safetyCarExperience",
    "formation-lap": "formationLap",
    "formation-lap-experience": "formationLapExperience",
    "red-flags-setting": "redFlags",
    "affects-license-level-solo": "affectsLicenceLevelSolo",
    "affects-license-level-mp": "affectsLicenceLevelMP",
    "num-sessions-in-weekend": "numSessionsInWeekend",
    "weekend-structure": "weekendStructure",
    "sector-2-lap-distance-start": "sector2LapDistanceStart",
    "sector-3-lap-distance-start": "sector3LapDistanceStart",
}
LAP = {
    "last-lap-time-in-ms": "lastLapTimeInMS",
    "current-lap-time-in-ms": "currentLapTimeInMS",
    "sector-1-time-in-ms": ("sector1TimeInMS", "sector1TimeMSPart"),
    "sector-1-time-minutes": ("sector1TimeMinutes", "sector1TimeMinutesPart"),
    "sector-2-time-in-ms": ("sector2TimeInMS", "sector2TimeMSPart"),
    "sector-2-time-minutes": ("sector2TimeMinutes", "sector2TimeMinutesPart"),
    "delta-to-car-in-front-in-ms": ("deltaToCarInFrontInMS", "deltaToCarInFrontMSPart"),
    "delta-to-race-leader-in-ms": ("deltaToRaceLeaderInMS", "deltaToRaceLeaderMSPart"),
    "lap-distance": "lapDistance",
    "total-distance": "totalDistance",
    "safety-car-delta": "safetyCarDelta",
    "car-position": "carPosition",
    "current-lap-num": "currentLapNum",
    "pit-status": "pitStatus",
    "num-pit-stops": "numPitStops",
    "sector": "sector",
    "current-lap-invalid": "currentLapInvalid",
    "penalties": "penalties",
    "total-warnings": "totalWarnings",
    "corner-cutting-warnings": "cornerCuttingWarnings",
    "num-unserved-drive-through-pens": "numUnservedDriveThroughPens",
    "num-unserved-stop-go-pens": "numUnservedStopGoPens",
    "grid-position": "gridPosition",
    "driver-status": "driverStatus",
    "result-status": "resultStatus",
    "pit-lane-timer-active": "pitLaneTimerActive",
    "pit-lane-time-in-lane-in-ms": "pitLaneTimeInLaneInMS",
    "pit-stop-timer-in-ms": "pitStopTimerInMS",
    "pit-stop-should-serve-pen": "pitStopShouldServePen",
    "speed-trap-fastest-speed": "speedTrapFastestSpeed",
    "speed-trap-fastest-lap": "speedTrapFastestLap",
}
PARTICIPANT = {
    "ai-controlled": "aiControlled",
    "driver-id": "driverId",
    "network-id": "networkId",
    "team-id": "teamId",
    "my-team": "myTeam",
    "race-number": "raceNumber",
    "nationality": "nationality",
    "name": "name",
    "telemetry-setting": "yourTelemetry",
    "show-online-names": "showOnlineNames",
    "tech-level": "techLevel",
    "platform": "platform",
}
SETUP = {
    "front-wing": "frontWing",
    "rear-wing": "rearWing",
    "on-throttle": "onThrottle",
    "off-throttle": "offThrottle",
    "front-camber": "frontCamber",
    "rear-camber": "rearCamber",
    "front-toe": "frontToe",
    "rear-toe": "rearToe",
    "front-suspension": "frontSuspension",
    "rear-suspension": "rearSuspension",
    "front-anti-roll-bar": "frontAntiRollBar",
    "rear-anti-roll-bar": "rearAntiRollBar",
    "front-suspension-height": "frontSuspensionHeight",
    "rear-suspension-height": "rearSuspensionHeight",
    "brake-pressure": "brakePressure",
    "brake-bias": "brakeBias",
    "engine-braking": "engineBraking",
    "rear-left-tyre-pressure": "rearLeftTyrePressure",
    "rear-right-tyre-pressure": "rearRightTyrePressure",
    "front-left-tyre-pressure": "frontLeftTyrePressure",
    "front-right-tyre-pressure": "frontRightTyrePressure",
    "ballast": "ballast",
    "fuel-load": "fuelLoad",
}
TELEMETRY = {
    "speed": "speed",
    "throttle": "throttle",
    "steer": "steer",
    "brake": "brake",
    "clutch": "clutch",
    "gear": "gear",
    "engine-rpm": "engineRPM",
    "drs": "drs",
    "rev-lights-percent": "revLightsPercent",
    "brakes-temperature": "brakesTemperature",
    "tyres-surface-temperature": "tyresSurfaceTemperature",
    "tyres-inner-temperature": "tyresInnerTemperature",
    "engine-temperature": "engineTemperature",
    "tyres-pressure": "tyresPressure",
    "surface-type": "surfaceType",
}
STATUS = {
    "traction-control": "tractionControl",
    "anti-lock-brakes": "antiLockBrakes",
    "fuel-mix": "fuelMix",
    "front-brake-bias": "frontBrakeBias",
    "pit-limiter-status": "pitLimiterStatus",
    "fuel-in-tank": "fuelInTank",
    "fuel-capacity": "fuelCapacity",
    "fuel-remaining-laps": "fuelRemainingLaps",
    "max-rpm": "maxRPM",
    "idle-rpm": "idleRPM",
    "max-gears": "maxGears",
    "drs-allowed": "drsAllowed",
    "drs-activation-distance": "drsActivationDistance",
    "actual-tyre-compound": "actualTyreCompound",
    "visual-tyre-compound": "visualTyreCompound",
    "tyres-age-laps": "tyresAgeLaps",
    "vehicle-fia-flags": "vehicleFIAFlags",
    "engine-power-ice": "enginePowerICE",
    "engine-power-mguk": "enginePowerMGUK",
    "ers-store-energy": "ersStoreEnergy",
    "ers-deploy-mode": "ersDeployMode",
    "ers-harvested-this-lap-mguk": "ersHarvestedThisLapMGUK",
    "ers-harvested-this-lap-mguh": "ersHarvestedThisLapMGUH",
    "ers-deployed-this-lap": "ersDeployedThisLap",
    "network-paused": "networkPaused",
}
CLASSIFICATION = {
    "position": "position",
    "num-laps": "numLaps",
    "grid-position": "gridPosition",
    "points": "points",
    "num-pit-stops": "numPitStops",
    "result-status": "resultStatus",
    "best-lap-time-ms": "bestLapTimeInMS",
    "total-race-time": "totalRaceTime",
    "penalties-time": "penaltiesTime",
    "num-penalties": "numPenalties",
    "num-tyre-stints": "numTyreStints",
    "tyre-stints-actual": "tyreStintsActual",
    "tyre-stints-visual": "tyreStintsVisual",
    "tyre-stints-end-laps": "tyreStintsEndLaps",
}
LOBBY_PLAYER = {
    "ai-controlled": "aiControlled",
    "team-id": "teamId",
    "nationality": "nationality",
    "platform": "platform",
    "name": "name",
    "car-number": "carNumber",
    "your-telemetry": "yourTelemetry",
    "show-online-names": "showOnlineNames",
    "tech-level": "techLevel",
    "ready-status": "readyStatus",
}
DAMAGE = {
    "tyres-wear": "tyresWear",
    "tyres-damage": "tyresDamage",
    "brakes-damage": "brakesDamage",
    "front-left-wing-damage": "frontLeftWingDamage",
    "front-right-wing-damage": "frontRightWingDamage",
    "rear-wing-damage": "rearWingDamage",
    "floor-damage": "floorDamage",
    "diffuser-damage": "diffuserDamage",
    "sidepod-damage": "sidepodDamage",
    "drs-fault": "drsFault",
    "ers-fault": "ersFault",
    "gear-box-damage": "gearBoxDamage",
    "engine-damage": "engineDamage",
    "engine-mguh-wear": "engineMGUHWear",
    "engine-es-wear": "engineESWear",
    "engine-ce-wear": "engineCEWear",
    "engine-ice-wear": "engineICEWear",
    "engine-mguk-wear": "engineMGUKWear",
    "engine-tc-wear": "engineTCWear",
    "engine-blown": "engineBlown",
    "engine-seized": "engineSeized",
}
LAP_HISTORY = {
    "lap-time-in-ms": "lapTimeInMS",
    "sector-1-time-in-ms": ("sector1TimeInMS", "sector1TimeMSPart"),
    "sector-1-time-minutes": ("sector1TimeMinutes", "sector1TimeMinutesPart"),
    "sector-2-time-in-ms": ("sector2TimeInMS", "sector2TimeMSPart"),
    "sector-2-time-minutes": ("sector2TimeMinutes", "sector2TimeMinutesPart"),
    "sector-3-time-in-ms": ("sector3TimeInMS", "sector3TimeMSPart"),
    "sector-3-time-minutes": ("sector3TimeMinutes", "sector3TimeMinutesPart"),
    "lap-valid-bit-flags": "lapValidBitFlags",
}
TYRE_STINT = {
    "end-lap": "endLap",
    "tyre-actual-compound": "tyreActualCompound",
    "tyre-visual-compound": "tyreVisualCompound",
}
TYRE_SET = {
    "actual-tyre-compound": "actualTyreCompound",
    "visual-tyre-compound": "visualTyreCompound",
    "wear": "wear",
    "available": "available",
    "recommended-session": "recommendedSession",
    "life-span": "lifeSpan",
    "usable-life": "usableLife",
    "lap-delta-time": "lapDeltaTime",
    "fitted": "fitted",
}
MOTION_EX = {
    "suspension-position": "suspensionPosition",
    "suspension-velocity": "suspensionVelocity",
    "suspension-acceleration": "suspensionAcceleration",
    "wheel-speed": "wheelSpeed",
    "wheel-slip-ratio": "wheelSlipRatio",
    "wheel-slip-angle": "wheelSlipAngle",
    "wheel-lat-force": "wheelLatForce",
    "wheel-long-force": "wheelLongForce",
    "height-of-cog-above-ground": "heightOfCOGAboveGround",
    "local-velocity": Flattened({"x": "localVelocityX", "y": "localVelocityY", "z": "localVelocityZ"}),
    "angular-velocity": Flattened({"x": "angularVelocityX", "y": "angularVelocityY", "z": "angularVelocityZ"}),
    "angular-acceleration": Flattened(
        {"x": "angularAccelerationX", "y": "angularAccelerationY", "z": "angularAccelerationZ"}
    ),
    "front-wheels-angle": "frontWheelsAngle",
    "wheel-vert-force": "wheelVertForce",
    "front-aero-height": "frontAeroHeight",
    "rear-aero-height": "rearAeroHeight",
    "front-roll-angle": "frontRollAngle",
    "rear-roll-angle": "rearRollAngle",
    "chassis-yaw": "chassisYaw",
}
TIME_TRIAL_SET = {
    "car-index": "carIdx",
    "team": "teamId",
    "lap-time-ms": "lapTimeInMS",
    "sector-1-time-ms": "sector1TimeInMS",
    "sector-2-time-in-ms": "sector2TimeInMS",
    "sector3-time-in-ms": "sector3TimeInMS",
    "traction-control": "tractionControl",
    "gearbox-assist": "gearboxAssist",
    "anti-lock-brakes": "antiLockBrakes",
    "equal-car-performance": "equalCarPerformance",
    "custom-setup": "customSetup",
    "is-valid": "valid",
}

NAME_MAP: dict[str, dict[str, Any]] = {
    "Session": SESSION,
    "LapData": {
        "lap-data": Records("lapData", LAP),
        "lap-data-count": SlotCount("lapData"),
        "time-trial-pb-car-idx": "timeTrialPBCarIdx",
        "time-trial-rival-car-idx": "timeTrialRivalCarIdx",
    },
    "Participants": {"num-active-cars": "numActiveCars", "participants": Records("participants", PARTICIPANT)},
    "CarSetups": {"car-setups": Records("carSetupData", SETUP)},
    "CarTelemetry": {
        "car-telemetry-data": Records("carTelemetryData", TELEMETRY),
        "mfd-panel-index": "mfdPanelIndex",
        "mfd-panel-index-secondary": "mfdPanelIndexSecondaryPlayer",
        "suggested-gear": "suggestedGear",
    },
    "CarStatus": {"car-status-data": Records("carStatusData", STATUS)},
    "FinalClassification": {
        "num-cars": "numCars",
        "classification-data": Records("classificationData", CLASSIFICATION),
    },
    "LobbyInfo": {"num-players": "numPlayers", "lobby-players": Records("lobbyPlayers", LOBBY_PLAYER)},
    "CarDamage": {"car-damage-data": Records("carDamageData", DAMAGE)},
    "SessionHistory": {
        "car-index": "carIdx",
        "num-laps": "numLaps",
        "num-tyre-stints": "numTyreStints",
        "best-lap-time-lap-num": "bestLapTimeLapNum",
        "best-sector-1-lap-num": "bestSector1LapNum",
        "best-sector-2-lap-num": "bestSector2LapNum",
        "best-sector-3-lap-num": "bestSector3LapNum",
        "lap-history-data": Records("lapHistoryData", LAP_HISTORY),
        "tyre-stints-history-data": Records("tyreStintsHistoryData", TYRE_STINT),
    },
    "TyreSets": {
        "car-index": "carIdx",
        "tyre-set-data": Records("tyreSetData", TYRE_SET),
        "fitted-index": "fittedIdx",
    },
    "MotionEx": MOTION_EX,
    "TimeTrial": {
        "player-session-best-data-set": Records("playerSessionBestDataSet", TIME_TRIAL_SET),
        "personal-best-data-set": Records("personalBestDataSet", TIME_TRIAL_SET),
        "rival-session-best-data-set": Records("rivalDataSet", TIME_TRIAL_SET),
    },
}

# They print only the first `count` entries of these arrays; the count sits in the same record.
TRUNCATED_BY = {
    "marshalZones": "numMarshalZones",
    "weatherForecastSamples": "numWeatherForecastSamples",
    "weekendStructure": "numSessionsInWeekend",
    "classificationData": "numCars",
    "lobbyPlayers": "numPlayers",
    "lapHistoryData": "numLaps",
    "tyreStintsHistoryData": "numTyreStints",
    "tyreStintsActual": "numTyreStints",
    "tyreStintsVisual": "numTyreStints",
    "tyreStintsEndLaps": "numTyreStints",
}
# Car indices they normalise from 255 ("none") to -1.
NORMALISED_CAR_INDEX = {"timeTrialPBCarIdx", "timeTrialRivalCarIdx", "carIdx"}

# Their wording of a label where it differs from the spec's beyond case and punctuation: (enum, ours) -> theirs.
LABEL_ALIASES = {
    ("flag", "Green"): "GREEN_FLAG",
    ("flag", "Blue"): "BLUE_FLAG",
    ("flag", "Yellow"): "YELLOW_FLAG",
    ("temperatureChange", "Up"): "Temperature Up",
    ("temperatureChange", "Down"): "Temperature Down",
    ("temperatureChange", "No change"): "No Temperature Change",
    ("actualTyreCompound", "Inter"): "Inters",
    ("visualTyreCompound", "Inter"): "Inters",
    ("teamId", "RB"): "VCARB",  # the same team, the 2024 car name
}
# What they print for a raw value that has no label in the published tables (unused slots, spec pitfalls 3, 16).
UNLABELLED = {"Unknown", "Unspecified", "N/A"}

# -- what cannot be compared ---------------------------------------------------------------------------------
# Keys: "<packet>:<their key path>" for every file, "<packet>@<format>:<path>" for one format only ("[]" marks
# the elements of a list).

_FORMATTED = "their own formatted text of a time that is compared as a number in the sibling key"
_ADDED_2024 = "not in format 2023 (added in 2024); their parser prints a default for it"
_ADDED_LATER = "not in formats 2023/2024 (added in 2025 or 2026); their parser prints a default for it"

_SESSION_2024 = list(SESSION)[list(SESSION).index("equal-car-performance") :]  # the block appended in 2024
_SESSION_2026 = [
    "active-aero-track-status",
    "num-active-aero-zones-full",
    "active-aero-zones-full",
    "num-active-aero-zones-partial",
    "active-aero-zones-partial",
    "num-drs-zones",
    "drs-zones",
    "start-reaction-time",
    "anti-lock-brakes-assist",
    "traction-control-assist",
    "dynamic-racing-line-hi-vis",
    "dynamic-racing-line-colour-blind",
    "recurring-rewind-prompt",
]

SKIPPED: dict[str, str] = {
    **{f"Session@2023:{k}": _ADDED_2024 for k in _SESSION_2024},
    **{f"Session:{k}": _ADDED_LATER for k in _SESSION_2026},
    "LapData:lap-data[].last-lap-time-str": _FORMATTED,
    "LapData:lap-data[].current-lap-time-str": _FORMATTED,
    "LapData:lap-data[].sector-1-time-str": _FORMATTED,
    "LapData:lap-data[].sector-2-time-str": _FORMATTED,
    "LapData@2023:lap-data[].speed-trap-fastest-speed": _ADDED_2024,
    "LapData@2023:lap-data[].speed-trap-fastest-lap": _ADDED_2024,
    "Participants@2023:participants[].tech-level": _ADDED_2024,
    "CarSetups:car-setups[].is-valid": "their own flag (setup present / not all zero), not a packet field",
    "CarSetups@2023:car-setups[].engine-braking": _ADDED_2024,
    "CarStatus:car-status-data[].ers-harvested-limit-per-lap": _ADDED_LATER,
    "CarStatus:car-status-data[].ers-max-capacity": "a constant of their parser (4 MJ), not a packet field",
    "FinalClassification:classification-data[].best-lap-time-str": _FORMATTED,
    "FinalClassification:classification-data[].total-race-time-str": _FORMATTED,
    "LobbyInfo@2023:lobby-players[].your-telemetry": _ADDED_2024,
    "LobbyInfo@2023:lobby-players[].show-online-names": _ADDED_2024,
    "LobbyInfo@2023:lobby-players[].tech-level": _ADDED_2024,
    "SessionHistory:lap-history-data[].lap-time-str": _FORMATTED,
    "SessionHistory:lap-history-data[].sector-1-time-str": _FORMATTED,
    "SessionHistory:lap-history-data[].sector-2-time-str": _FORMATTED,
    "SessionHistory:lap-history-data[].sector-3-time-str": _FORMATTED,
    **{
        f"MotionEx@2023:{k}": _ADDED_2024
        for k in ("front-aero-height", "rear-aero-height", "front-roll-angle", "rear-roll-angle", "chassis-yaw")
    },
    **{f"MotionEx:{k}": _ADDED_LATER for k in ("chassis-pitch", "wheel-camber", "wheel-camber-gain")},
    **{
        f"TimeTrial:{s}.{k}-str": _FORMATTED
        for s in ("player-session-best-data-set", "personal-best-data-set", "rival-session-best-data-set")
        for k in ("lap-time", "sector-1-time", "sector-2-time", "sector-3-time")
    },
}


# -- the comparison ------------------------------------------------------------------------------------------------


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class Tally:
    compared: Counter[str] = field(default_factory=Counter)  # kind -> number of values that agree
    mismatches: list[str] = field(default_factory=list)
    skipped_keys: set[str] = field(default_factory=set)
    skipped_values: int = 0
    used_names: set[tuple[int, str]] = field(default_factory=set)  # (id of the name map, their key)
    per_file: dict[str, int] = field(default_factory=dict)  # file -> values compared
    file: str = ""

    def ok(self, kind: str) -> None:
        self.compared[kind] += 1

    def bad(self, where: str, theirs: Any, ours: Any, note: str = "") -> None:
        self.mismatches.append(f"{self.file}: {where}: theirs {theirs!r}, ours {ours!r} {note}".rstrip())


def resolve(record: Record, target: str | tuple[str, ...]) -> Field | None:
    for name in (target,) if isinstance(target, str) else target:
        if name in record.by_name:
            return record[name]
    return None


def skip_reason(packet: str, fmt: int, path: str) -> tuple[str, str] | None:
    key = re.sub(r"\[\d+\]", "[]", path)
    for k in (f"{packet}@{fmt}:{key}", f"{packet}:{key}"):
        if k in SKIPPED:
            return k, SKIPPED[k]
    return None


def compare_scalar(tally: Tally, where: str, f: Field, fmt: int, theirs: Any, raw: Any) -> None:
    if f.type == "s":
        if theirs == raw and isinstance(theirs, str):
            tally.ok("string")
        else:
            tally.bad(where, theirs, raw)
    elif isinstance(theirs, bool):
        # Booleans are 0/1 bytes: compare the byte, not its truthiness.
        if int(theirs) == raw:
            tally.ok("bool")
        else:
            tally.bad(where, theirs, raw)
    elif isinstance(theirs, str) and re.fullmatch(r"-?\d+(\.\d+)?", theirs):
        # A raw value printed as text ("0", "255", "2323.7587890625").
        if math.isclose(float(theirs), raw, rel_tol=1e-9, abs_tol=0.0):
            tally.ok("number")
        else:
            tally.bad(where, theirs, raw)
    elif isinstance(theirs, str):
        if f.enum is None:
            tally.bad(where, theirs, raw, "(a label for a field without an enumeration)")
            return
        ours = enums.table(f.enum, fmt).get(raw)
        if ours is None:
            unlabelled = theirs == "MY_TEAM" if (f.enum == "teamId" and raw == 255) else theirs in UNLABELLED
            if unlabelled:
                tally.ok("unlabelled")  # both agree the raw value is outside the published table
            else:
                tally.bad(where, theirs, raw, f"(no {f.enum} label for {raw} in {fmt})")
        elif norm(theirs) == norm(ours) or norm(theirs) == norm(LABEL_ALIASES.get((f.enum, ours), "\0")):
            tally.ok("label")
        else:
            tally.bad(where, theirs, raw, f"(our {f.enum} label: {ours!r})")
    elif isinstance(raw, float):
        if isinstance(theirs, (int, float)) and math.isclose(theirs, raw, rel_tol=1e-6, abs_tol=1e-30):
            tally.ok("float")
        else:
            tally.bad(where, theirs, raw)
    elif isinstance(theirs, int):
        if theirs == raw or (f.name in NORMALISED_CAR_INDEX and raw == 255 and theirs == -1):
            tally.ok("int")
        else:
            tally.bad(where, theirs, raw)
    else:
        tally.bad(where, theirs, raw, "(unexpected type)")


def expected_length(f: Field, record: Record, get: Any) -> int:
    count_name = TRUNCATED_BY.get(f.name)
    if count_name is None or count_name not in record.by_name:
        return f.count
    return min(get(count_name), f.count)


def compare_record(
    tally: Tally, packet: str, fmt: int, path: str, theirs: dict[str, Any], record: Record, get: Any,
    names: dict[str, Any],
) -> None:
    for key, value in theirs.items():
        where = f"{path}{key}"
        skip = skip_reason(packet, fmt, where)
        target = names.get(key)
        if skip is not None:
            skip_key, _ = skip
            if "@" in skip_key.split(":", 1)[0]:
                # A format-specific skip must be for a field this format really does not have.
                assert target is not None and not isinstance(target, (Records, Flattened, SlotCount)), skip_key
                assert resolve(record, target) is None, f"{skip_key} is skipped but {fmt} has the field"
            else:
                assert target is None, f"{skip_key} is both mapped and skipped"
            tally.skipped_keys.add(skip_key)
            tally.skipped_values += len(value) if isinstance(value, list) else 1
            continue
        if target is None:
            tally.bad(where, value, None, f"(no mapping for {packet} key {key!r})")
            continue
        tally.used_names.add((id(names), key))
        if isinstance(target, SlotCount):
            compare_scalar(tally, where, record[target.name], fmt, value, record[target.name].count)
        elif isinstance(target, Flattened):
            assert set(value) == set(target.names), where
            for sub, name in target.names.items():
                tally.used_names.add((id(target.names), sub))
                compare_scalar(tally, f"{where}.{sub}", record[name], fmt, value[sub], get(name))
        elif isinstance(target, Records):
            f = resolve(record, target.name)
            if f is None or f.record is None:
                tally.bad(where, value, None, f"(no record array {target.name})")
                continue
            ours = get(f.name)
            if isinstance(ours, RecordView):
                compare_record(tally, packet, fmt, f"{where}.", value, f.record, ours.__getitem__, target.names)
                continue
            want = expected_length(f, record, get)
            if len(value) != want:
                tally.bad(where, f"{len(value)} records", f"{want} records")
                continue
            tally.ok("length")
            for i, (item, view) in enumerate(zip(value, ours)):
                compare_record(tally, packet, fmt, f"{where}[{i}].", item, f.record, view.__getitem__, target.names)
        else:
            f = resolve(record, target)
            if f is None:
                tally.bad(where, value, None, f"(format {fmt} has no field {target}; skip it with a reason?)")
                continue
            ours = get(f.name)
            if isinstance(ours, tuple):
                want = expected_length(f, record, get)
                if not isinstance(value, list) or len(value) != want:
                    tally.bad(where, value, ours, f"(expected {want} values)")
                    continue
                tally.ok("length")
                for i, (t, o) in enumerate(zip(value, ours)):
                    compare_scalar(tally, f"{where}[{i}]", f, fmt, t, o)
            else:
                compare_scalar(tally, where, f, fmt, value, ours)


# -- the captures -------------------------------------------------------------------------------------------------


def file_format_and_id(name: str) -> tuple[int, int]:
    m = NAME_RE.match(name)
    assert m, f"unexpected capture name {name}"
    return 2000 + int(m.group(1)), int(m.group(2))


def datagram(path: Path) -> tuple[int, int, bytes]:
    fmt, pid = file_format_and_id(path.name)
    header = LAYOUTS.header_struct.pack(*header_values(fmt, pid, **HEADER))
    return fmt, pid, header + path.read_bytes()


def payload_files(root: Path) -> list[Path]:
    files = sorted(root.glob("*.payload.bin"))
    assert files, f"no *.payload.bin in {root}"
    return files


def test_manifest_sizes_match_header_plus_body_and_the_layouts(png_captures: Path) -> None:
    manifest = json.loads((png_captures / "MANIFEST.json").read_text(encoding="utf-8"))
    items = {item["file"]: item for item in manifest["items"]}
    files = payload_files(png_captures)
    assert {p.name for p in files} == set(items)
    for path in files:
        item = items[path.name]
        fmt, pid = file_format_and_id(path.name)
        body = path.read_bytes()
        assert item["packet_id"] == pid and item["includes_header"] is False, path.name
        assert len(body) == item["bytes"], path.name
        assert hashlib.sha256(body).hexdigest() == item["sha256"], path.name
        assert item["full_packet_size"] == HEADER_SIZE + len(body) == LAYOUTS.get(fmt, pid).size, path.name
        expected = path.with_name(path.name.replace(".bin", ".expected.json"))
        assert expected.is_file() == item["has_expected_json"], path.name


def test_every_payload_decodes_with_a_prepended_header(png_captures: Path) -> None:
    for path in payload_files(png_captures):
        fmt, pid, data = datagram(path)
        packet = decode(data)
        assert packet, f"{path.name}: {packet!r}"
        assert isinstance(packet, Packet)
        assert (packet.packet_format, packet.packet_id) == (fmt, pid)
        assert (packet.session_uid, packet.frame, packet.overall_frame) == (0x0123456789ABCDEF, 4242, 4300)
        assert packet.player_car_index == 19 and packet.session_time == 123.5
        assert packet.to_dict()["packet"] == packet.layout.key


@pytest.fixture(scope="module")
def comparison(png_captures: Path) -> Tally:
    """Every payload with an expected output, compared field by field (one pass shared by the tests below)."""
    tally = Tally()
    for path in payload_files(png_captures):
        expected_path = path.with_name(path.name.replace(".bin", ".expected.json"))
        if not expected_path.is_file():
            continue
        fmt, _, data = datagram(path)
        packet = decode(data)
        assert isinstance(packet, Packet) and not isinstance(packet, EventPacket), path.name
        theirs = json.loads(expected_path.read_text(encoding="utf-8"))
        tally.file = path.name
        before = sum(tally.compared.values())
        compare_record(tally, packet.layout.name, fmt, "", theirs, packet.layout.record, packet.__getitem__,
                       NAME_MAP[packet.layout.name])
        tally.per_file[path.name] = sum(tally.compared.values()) - before
    return tally


def test_decoded_values_agree_with_pits_n_giggles(comparison: Tally) -> None:
    tally = comparison
    assert not tally.mismatches, f"{len(tally.mismatches)} disagreements:\n" + "\n".join(tally.mismatches[:60])
    assert len(tally.per_file) >= 24
    total = sum(tally.compared.values())
    assert total >= 5000, tally.compared
    assert all(n >= 20 for n in tally.per_file.values()), tally.per_file
    # Each kind of comparison really happened.
    for kind in ("float", "int", "bool", "string", "label", "unlabelled", "length", "number"):
        assert tally.compared[kind] > 0, (kind, tally.compared)
    assert tally.compared["label"] >= 500, tally.compared
    assert tally.skipped_values < total / 4, (tally.skipped_values, total)


def test_skipped_and_mapped_keys_are_all_in_use(comparison: Tally) -> None:
    """No stale entries: every SKIPPED key and every name-map key is met in some expected output."""
    tally = comparison
    assert set(SKIPPED) - tally.skipped_keys == set()
    assert all(reason.strip() for reason in SKIPPED.values())

    def all_maps(names: dict[str, Any]) -> list[dict[str, Any]]:
        out = [names]
        for target in names.values():
            if isinstance(target, Records):
                out.extend(all_maps(target.names))
            elif isinstance(target, Flattened):
                out.append(target.names)  # type: ignore[arg-type]
        return out

    unused = []
    for packet, names in NAME_MAP.items():
        for m in all_maps(names):
            for key in m:
                if (id(m), key) not in tally.used_names:
                    unused.append(f"{packet}:{key}")
    assert not unused, unused


@pytest.mark.parametrize(
    ("theirs", "raw", "enum", "ok"),
    [
        ("Light Cloud", 1, "weather", True),
        ("Overcast", 1, "weather", False),
        ("YELLOW_FLAG", 3, "flag", True),
        ("GREEN_FLAG", 3, "flag", False),
        ("MY_TEAM", 255, "teamId", True),
        ("Unknown", 255, "teamId", False),
        ("Unknown", 0, "actualTyreCompound", True),
        ("Unknown", 16, "actualTyreCompound", False),
        ("0", 0, "sector", True),
        ("1", 0, "sector", False),
    ],
)
def test_label_comparison_can_fail(theirs: str, raw: int, enum: str, ok: bool) -> None:
    """The comparison itself is not vacuous: wrong labels, wrong sentinels and wrong numbers are caught."""
    tally = Tally()
    f = Field("x", "x", "B", 1, None, enum, "", 0, 1)
    compare_scalar(tally, "x", f, 2024, theirs, raw)
    assert (not tally.mismatches) == ok, tally.mismatches


def test_number_comparison_can_fail() -> None:
    tally = Tally()
    i = Field("timeTrialPBCarIdx", "x", "B", 1, None, None, "", 0, 1)
    f = Field("lapDistance", "x", "f", 1, None, None, "", 0, 1)
    compare_scalar(tally, "a", i, 2024, -1, 255)  # their normalisation of "no car"
    compare_scalar(tally, "b", f, 2024, 132.32022094726562, 132.32022094726562)
    compare_scalar(tally, "c", f, 2024, True, 1)  # a bool against a float field: compared as the byte value
    assert not tally.mismatches
    compare_scalar(tally, "d", i, 2024, -1, 254)
    compare_scalar(tally, "e", f, 2024, 132.33, 132.32022094726562)
    compare_scalar(tally, "f", Field("n", "n", "B", 1, None, None, "", 0, 1), 2024, False, 2)
    assert [m.split(": ")[1] for m in tally.mismatches] == ["d", "e", "f"]


def test_a_corrupted_body_is_caught(png_captures: Path) -> None:
    """Flip one bit of car 3's engine RPM in the real bytes: the comparison reports exactly that value."""
    path = png_captures / "f124_pid06_car_telemetry_data_actual.payload.bin"
    fmt, _, data = datagram(path)
    layout = LAYOUTS.get(fmt, 6)
    car = layout.record["carTelemetryData"].record
    assert car is not None
    rpm_offset = HEADER_SIZE + 3 * car.size + struct.calcsize("<" + "".join(f.fmt for f in car.fields[:6]))
    assert car.fields[6].name == "engineRPM"
    corrupted = bytearray(data)
    corrupted[rpm_offset] ^= 0x01
    packet = decode(bytes(corrupted))
    assert isinstance(packet, Packet)
    tally = Tally()
    theirs = json.loads(path.with_name(path.name.replace(".bin", ".expected.json")).read_text(encoding="utf-8"))
    compare_record(tally, "CarTelemetry", fmt, "", theirs, layout.record, packet.__getitem__, NAME_MAP["CarTelemetry"])
    assert len(tally.mismatches) == 1 and "car-telemetry-data[3].engine-rpm" in tally.mismatches[0]


def test_event_payloads_without_expected_output_decode_plausibly(png_captures: Path) -> None:
    events = [p for p in payload_files(png_captures) if file_format_and_id(p.name)[1] == 3]
    assert len(events) >= 2
    for path in events:
        fmt, _, data = datagram(path)
        packet = decode(data)
        assert isinstance(packet, EventPacket), f"{path.name}: {packet!r}"
        code = re.search(r"_event_([A-Z0-9]{4})_", path.name)
        assert code and packet.code == code.group(1), path.name
        assert packet.known, path.name
        details = packet.details()
        cars = LAYOUTS.num_cars[fmt]
        for name, value in details.items():
            if name.endswith("idx"):
                assert 0 <= value < cars or value == 255, (path.name, name, value)
        if packet.code == "FTLP":
            assert 0 <= packet.detail("vehicleIdx") < cars
            assert 60.0 < packet.detail("lapTime") < 300.0, packet.detail("lapTime")
            assert details["lap_time"] == pytest.approx(110.172, abs=0.001)
        if packet.code in ("SSTA", "SEND", "CHQF", "LGOT", "DRSE", "RDFL"):
            assert details == {}, path.name
        assert packet.to_dict()["event_string_code"] == packet.code
