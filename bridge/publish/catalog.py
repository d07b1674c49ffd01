"""The field catalogue: one table of every published field.

Each entry says where the field goes (topic path under `<base>/<rig>/`), how it is read from the state, its unit,
payload format and precision, rate class, deadband, retain and QoS, and what later readers need (Home Assistant
component and classes, Prometheus exposure). MQTT topics, Home Assistant discovery, Prometheus telemetry,
`rigbridge topics` and `docs/topics.md` are all generated from this table.

Car fields are declared once and published twice: for the player's car under `player/` and for every active car
under `cars/<index>/`, each with its own rate class (`None`: not published there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bridge.jsontext import json_text
from bridge.state import changes as groups
from bridge.state import results
from bridge.state.aids import documents as aids
from bridge.state.enums import Names, slug
from bridge.state.values import WHEELS

RATE_CLASSES = ("realtime", "on_change", "fast", "normal", "slow")


@dataclass(frozen=True)
class Ha:
    """Home Assistant discovery metadata for one entity."""

    component: str = "sensor"  # sensor | binary_sensor
    device_class: str | None = None
    state_class: str | None = "measurement"
    unit: str | None = None
    enabled: bool = True  # enabled_by_default: fast-changing sensors start disabled
    icon: str | None = None  # an `mdi:` icon
    diagnostic: bool = False  # entity_category: diagnostic (bridge health)
    name: str | None = None  # entity name, where the one made from the topic path would not read well
    # What Home Assistant shows for each payload (payload -> readable name). For an `enum` sensor the names are
    # its `options`; any payload not listed (a new game's id) shows as unknown.
    labels: tuple[tuple[str, str], ...] | Names = ()  # Names: a game enumeration's, read when first needed
    precision: int | None = None  # suggested_display_precision, where it differs from the payload's decimals


def game_labels(enum: str, none: str | None = None) -> Names:
    """(payload, readable name) of every value of a game enumeration, over every supported format. A value the
    game calls "None" needs another name (`none`): Home Assistant reads the state `None` as unknown."""

    def render(key: str, name: str) -> tuple[str, str]:
        if name != "None":
            return key, name
        assert none is not None, f"{enum} has a value named None: give it a readable name"
        return key, none

    return Names(enum, render)


def plain_labels(*slugs: str) -> tuple[tuple[str, str], ...]:
    """Readable names of payloads the bridge makes itself: `virtual_safety_car` -> `Virtual safety car`."""
    return tuple((s, s.replace("_", " ").capitalize()) for s in slugs)


@dataclass(frozen=True)
class Prom:
    """Prometheus exposure: metric name (without the `rigbridge_` prefix) and the factor to base units."""

    name: str
    help: str
    scale: float = 1.0


@dataclass(frozen=True)
class Field:
    path: str  # relative topic path; "{car}" stands for the car index in per-car fields
    scope: str  # game | session | player | car | lights | bridge
    read: Callable[[Any], Any]  # subject -> value (None: nothing to publish)
    group: str  # the state change group that makes it worth reading again
    kind: str  # int | float | bool | enum | text | json
    unit: str | None = None
    precision: int = 0
    rate: str = "normal"
    deadband: float = 0.0
    retain: bool = True
    qos: int = 0
    description: str = ""
    ha: Ha | None = None
    prom: Prom | None = None
    source: str | None = None  # the per-car state value behind it: lets readers compare whole columns

    def render(self, value: Any) -> str | None:
        """The payload: plain UTF-8 text, numbers in shortest form with this field's decimals."""
        if value is None:
            return None
        kind = self.kind
        if kind == "bool":
            return "true" if value else "false"
        if kind == "json":
            return json_text(value, separators=(",", ":"), ensure_ascii=False)
        if kind == "int":
            return str(int(value))
        if kind == "float":
            if not math.isfinite(value):
                return None
            text = f"{value:.{self.precision}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return "0" if text == "-0" else text
        return str(value)

    def numeric(self, value: Any) -> float | None:
        return float(value) if self.kind in ("int", "float") and value is not None else None

    def topic(self, car: int | None = None) -> str:
        return self.path.format(car=car) if car is not None else self.path


# ------------------------------------------------------------------------------------------------ helpers


def _opt(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Reads that return None when any value they need is still unknown."""

    def read(subject: Any) -> Any:
        try:
            return fn(subject)
        except (TypeError, IndexError):
            return None

    return read


def _slug(enum: str) -> Callable[[Any, int], Any]:
    return lambda value, fmt: slug(enum, fmt, value)


def _wheel(w: int, scale: float = 1.0) -> Callable[[Any, int], Any]:
    if scale == 1.0:
        return lambda value, fmt: value[w]
    return lambda value, fmt: value[w] * scale


def _key(key: str) -> Callable[[Any, int], Any]:
    return lambda value, fmt: value.get(key)


def _item(attr: str, i: int, *, zero_is_none: bool = False) -> Callable[[Any], Any]:
    """The i-th item of a sequence value of the subject (a car, a lap); 0 read as None when nothing is set."""
    if zero_is_none:
        return lambda subject: getattr(subject, attr)[i] or None
    return lambda subject: getattr(subject, attr)[i]


def _pct(value: float, fmt: int) -> float:
    return value * 100.0


def _avg(value: Sequence[float], fmt: int) -> float:
    return sum(value) / len(value)


def _nonzero(value: Any, fmt: int) -> Any:
    return value or None


def _last_lap(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read(car: Any) -> Any:
        lap = car.last_completed
        return None if lap is None else fn(lap)

    return read


def _reader(value: str, convert: Callable[[Any, int], Any] | None) -> Callable[[Any], Any]:
    if convert is None:
        return lambda car: getattr(car, value)

    def read(car: Any) -> Any:
        raw = getattr(car, value)
        return None if raw is None else convert(raw, car.packet_format)

    return read


@dataclass(frozen=True)
class CarField:
    """A value every car has; published for the player (`player_rate`) and per car (`car_rate`).

    `value` names the car's state value; `convert(value, format)` turns it into the payload value. Fields that
    are not a function of one state value give `read` instead.
    """

    path: str
    value: str | None
    group: str
    kind: str
    unit: str | None = None
    precision: int = 0
    player_rate: str | None = "normal"
    car_rate: str | None = "normal"
    deadband: float = 0.0
    retain: bool = True
    description: str = ""
    ha: Ha | None = None
    prom: Prom | None = None
    convert: Callable[[Any, int], Any] | None = None
    read: Callable[[Any], Any] | None = None


def _car_fields(defs: list[CarField]) -> Iterator[Field]:
    for d in defs:
        read = d.read or _reader(d.value, d.convert)  # type: ignore[arg-type]
        common = Field(
            "", "", read, d.group, d.kind, unit=d.unit, precision=d.precision, deadband=d.deadband,
            description=d.description, source=d.value,
        )
        if d.player_rate is not None:
            realtime = d.player_rate == "realtime"
            yield replace(
                common, path=f"player/{d.path}", scope="player", rate=d.player_rate,
                retain=d.retain and not realtime,
                ha=d.ha and (replace(d.ha, enabled=False) if realtime or d.player_rate == "fast" else d.ha),
                prom=d.prom and replace(d.prom, name=f"player_{d.prom.name}"),
            )
        if d.car_rate is not None:
            yield replace(
                # Per-car entities are made per active car by Home Assistant discovery, from this metadata.
                common, path=f"cars/{{car}}/{d.path}", scope="car", rate=d.car_rate, retain=d.retain, ha=d.ha,
                prom=d.prom and replace(d.prom, name=f"car_{d.prom.name}"),
            )


_TEMP = Ha(device_class="temperature", unit="°C", enabled=False, icon="mdi:thermometer")
# kPa: Home Assistant's pressure unit for metric systems, so it shows the value as sent, not converted from psi.
_PRESSURE = Ha(device_class="pressure", unit="kPa", enabled=False, icon="mdi:car-tire-alert", precision=0)
_DURATION_MS = Ha(device_class="duration", unit="ms", icon="mdi:timer-outline")
_PCT = Ha(unit="%", icon="mdi:percent")
_COUNT = Ha(state_class="measurement", icon="mdi:counter")
_ENUM = Ha(device_class="enum", state_class=None)
_TEXT = Ha(state_class=None)
_BOOL = Ha(component="binary_sensor", state_class=None)
_SECTOR_COLOURS = plain_labels("purple", "green", "yellow")
PSI_TO_KPA = 6.894757293168  # 1 psi in kPa

TEL, LAP, STATUS, DAMAGE, PART, MOTION = (
    groups.CAR_TELEMETRY, groups.CAR_LAP, groups.CAR_STATUS, groups.CAR_DAMAGE, groups.PARTICIPANTS, groups.CAR_MOTION,
)

CAR_FIELDS: list[CarField] = [
    # identity
    CarField("name", "name", PART, "text", player_rate="on_change", car_rate="on_change",
             ha=replace(_TEXT, name="Driver", icon="mdi:account"), description="driver name"),
    CarField("team", "team_id", PART, "enum", convert=_slug("teamId"), player_rate="on_change", car_rate="on_change",
             ha=replace(_TEXT, icon="mdi:account-group", labels=game_labels("teamId")), description="team"),
    CarField("race_number", "race_number", PART, "int", player_rate="on_change", car_rate="on_change",
             description="car number"),
    CarField("nationality", "nationality_id", PART, "enum", convert=_slug("nationality"), player_rate="on_change",
             car_rate="on_change", description="driver nationality"),
    CarField("ai", "ai", PART, "bool", player_rate=None, car_rate="on_change",
             description="true for an AI driver, false for a human"),
    # race position and timing
    CarField("position", "position", LAP, "int", player_rate="on_change", car_rate="on_change",
             ha=replace(_COUNT, icon="mdi:podium"), prom=Prom("position", "race position (1 = leader)"),
             description="race position"),
    CarField("grid_position", "grid_position", LAP, "int", player_rate="on_change", car_rate="on_change",
             description="starting grid position"),
    CarField("lap", "lap", LAP, "int", player_rate="on_change", car_rate="on_change",
             ha=replace(_COUNT, icon="mdi:flag-checkered"),
             prom=Prom("lap", "current lap number"), description="current lap number"),
    CarField("lap_distance_m", "lap_distance_m", LAP, "float", "m", 0, player_rate="fast",
             car_rate="normal", deadband=5.0, retain=False,
             prom=Prom("lap_distance_meters", "distance along the current lap"), description="distance into the lap"),
    CarField("sector", "sector", LAP, "int", convert=lambda value, fmt: value + 1, player_rate="on_change",
             car_rate="on_change", description="current sector, 1 to 3"),
    CarField("current_lap_ms", "current_lap_ms", LAP, "int", "ms", player_rate="fast", car_rate=None,
             deadband=99, retain=False, ha=replace(_DURATION_MS, enabled=False),
             prom=Prom("current_lap_seconds", "time into the current lap", 0.001), description="current lap time"),
    CarField("last_lap_ms", "last_lap_ms", LAP, "int", "ms", convert=_nonzero, player_rate="on_change",
             car_rate="on_change", ha=_DURATION_MS, prom=Prom("last_lap_seconds", "last lap time", 0.001),
             description="last lap time"),
    CarField("best_lap_ms", "best_lap_ms", groups.LAPS, "int", "ms", player_rate="on_change",
             car_rate="on_change", ha=_DURATION_MS, prom=Prom("best_lap_seconds", "personal best lap time", 0.001),
             description="personal best valid lap"),
    *[
        CarField(f"last_lap/sector{s + 1}_ms", None, groups.LAPS, "int", "ms",
                 read=_last_lap(_item("sectors_ms", s, zero_is_none=True)), player_rate="on_change", car_rate=None,
                 ha=replace(_DURATION_MS, name=f"Last lap sector {s + 1}"),
                 description=f"sector {s + 1} of the last completed lap")
        for s in range(3)
    ],
    *[
        CarField(f"last_lap/sector{s + 1}_colour", None, groups.LAPS, "text",
                 read=_last_lap(_item("sector_colours", s, zero_is_none=True)), player_rate="on_change", car_rate=None,
                 ha=replace(_ENUM, name=f"Last lap sector {s + 1} colour", icon="mdi:palette", labels=_SECTOR_COLOURS),
                 description=f"sector {s + 1} of the last lap: purple (overall best), green (personal), yellow")
        for s in range(3)
    ],
    CarField("gap_ahead_ms", "gap_ahead_ms", LAP, "int", "ms", player_rate="normal", car_rate="normal",
             deadband=50, ha=replace(_DURATION_MS, name="Gap to car ahead", icon="mdi:timer-sand"),
             prom=Prom("gap_ahead_seconds", "gap to the car ahead", 0.001),
             description="gap to the car ahead (0 for the leader)"),
    CarField("gap_leader_ms", "gap_leader_ms", LAP, "int", "ms", player_rate="normal", car_rate="normal",
             deadband=50, ha=replace(_DURATION_MS, name="Gap to leader", icon="mdi:timer-sand"),
             prom=Prom("gap_leader_seconds", "gap to the race leader", 0.001),
             description="gap to the race leader"),
    CarField("pit_status", "pit_status", LAP, "enum", convert=_slug("pitStatus"), player_rate="on_change",
             car_rate="on_change",
             ha=replace(_ENUM, icon="mdi:wrench", labels=game_labels("pitStatus", none="On track")),
             description="none, pitting (in the pit lane) or in the pit area"),
    CarField("pit_stops", "pit_stops", LAP, "int", player_rate="on_change", car_rate="on_change",
             ha=replace(_COUNT, icon="mdi:car-wrench"), prom=Prom("pit_stops", "pit stops made"),
             description="pit stops made"),
    CarField("pit_lane_time_ms", "pit_time_lost_ms", groups.PIT, "int", "ms", player_rate="on_change",
             car_rate="on_change", ha=replace(_DURATION_MS, name="Time in the pit lane", icon="mdi:car-wrench"),
             description="time spent in the pit lane this race, all stops (entry to exit)"),
    # Deprecated, removed in the next release: the same value under its old, misleading name (it is the time in
    # the pit lane, not the time a stop lost against staying out). No Home Assistant entity of its own any more.
    CarField("pit_time_lost_ms", "pit_time_lost_ms", groups.PIT, "int", "ms", player_rate="on_change",
             car_rate="on_change", description="deprecated: the same as pit_lane_time_ms (removed next release)"),
    CarField("penalties_s", "penalties_s", LAP, "int", "s", player_rate="on_change", car_rate="on_change",
             ha=Ha(device_class="duration", unit="s", name="Time penalties", icon="mdi:timer-alert"),
             description="time penalties accumulated"),
    CarField("warnings", "warnings", LAP, "int", player_rate="on_change", car_rate="on_change",
             ha=replace(_COUNT, icon="mdi:alert"), description="track-limit and other warnings"),
    CarField("lap_invalid", "lap_invalid", LAP, "bool", player_rate="on_change", car_rate=None,
             ha=replace(_BOOL, name="Lap invalid", icon="mdi:close-octagon"), description="the current lap is invalid"),
    CarField("result_status", "result_status", LAP, "enum", convert=_slug("resultStatus"), player_rate="on_change",
             car_rate="on_change",
             ha=replace(_ENUM, name="Result", icon="mdi:trophy", labels=game_labels("resultStatus")),
             description="active, finished, retired, ..."),
    # tyres (per car)
    CarField("tyre_compound", "tyre_compound_id", STATUS, "enum",
             convert=_slug("actualTyreCompound"), player_rate="on_change", car_rate="on_change",
             ha=replace(_ENUM, icon="mdi:tire", labels=game_labels("actualTyreCompound")),
             description="actual compound (C1-C6, inter...)"),
    CarField("tyre_visual", "tyre_visual_id", STATUS, "enum", convert=_slug("visualTyreCompound"),
             player_rate="on_change", car_rate="on_change",
             ha=replace(_ENUM, name="Tyre", icon="mdi:tire", labels=game_labels("visualTyreCompound")),
             description="visual compound: soft, medium, hard, inter, wet"),
    CarField("tyre_age_laps", "tyre_age_laps", STATUS, "int", "laps", player_rate="on_change",
             car_rate="on_change", ha=replace(_COUNT, icon="mdi:tire"),
             prom=Prom("tyre_age_laps", "laps on the current tyres"),
             description="laps on the current tyres"),
    CarField("tyre_wear_pct", "tyre_wear_pct", DAMAGE, "float", "%", 1, convert=_avg, player_rate="normal",
             car_rate="slow", deadband=0.2, ha=replace(_PCT, icon="mdi:tire"),
             description="average wear of the four tyres"),
    CarField("tyre_wear_rate_pct_per_lap", "wear_rate_pct_per_lap", groups.LAPS, "float", "%", 2,
             player_rate="on_change", car_rate=None, ha=replace(_PCT, name="Tyre wear per lap", icon="mdi:tire"),
             description="average tyre wear over the last lap"),
    CarField("stint_laps", "stint_laps", LAP, "int", "laps", player_rate="on_change", car_rate=None,
             description="laps completed in the current stint (0 on the out-lap; see Stints and tyre age)"),
    # race log: lap by lap, stints, bests and counters (JSON documents from bridge/state/results.py)
    CarField("lap_completed", None, groups.LAPS, "json", read=results.lap_message, player_rate="on_change",
             car_rate="on_change", retain=False,
             description="one JSON message per completed lap, not retained: lap, time_ms, sectors_ms, "
                         "sector_colours, valid, position (at the line), tyre, compound, tyre_age_laps, "
                         "wear_added_pct, top_speed_kph; the player's also fuel_used_kg (or fuel_used_pct) and "
                         "wheel_wear_added_pct"),
    CarField("stints", None, groups.STINTS, "json", read=lambda car: results.stints(car) or None,
             player_rate="on_change", car_rate="on_change",
             description="JSON list of the tyre stints: tyre, compound, start_lap, end_lap, laps, running, "
                         "fitted_age_laps, fitted_on_in_lap, wear_per_lap_pct (see Stints and tyre age)"),
    *[
        CarField(f"best_sector{s + 1}_ms", None, groups.LAPS, "int", "ms",
                 read=_item("best_sectors_ms", s), player_rate="on_change", car_rate="on_change",
                 description=f"personal best sector {s + 1} (valid laps)")
        for s in range(3)
    ],
    CarField("speed_trap_kph", "speed_trap_kph", groups.EVENTS, "float", "km/h", 1, player_rate="on_change",
             car_rate="on_change", ha=Ha(device_class="speed", unit="km/h", name="Speed trap", icon="mdi:speedometer"),
             description="the car's latest speed trap speed the game announced (its best)"),
    CarField("top_speed_kph", "top_speed_kph", groups.LAPS, "float", "km/h", 1, player_rate="on_change",
             car_rate="on_change", description="highest speed over the completed laps"),
    CarField("collisions", "collisions", groups.EVENTS, "int", player_rate="on_change", car_rate="on_change",
             description="collisions the game announced with this car involved"),
    CarField("overtakes", "overtakes", groups.EVENTS, "int", player_rate="on_change", car_rate="on_change",
             description="overtakes made (the game's overtake events)"),
    CarField("positions_gained", None, LAP, "int", read=_opt(lambda car: car.grid_position - car.position
                                                            if car.grid_position and car.position else None),
             player_rate="on_change", car_rate="on_change",
             description="grid position minus position now (negative: places lost)"),
    # inputs and engine
    CarField("speed_kph", "speed_kph", TEL, "int", "km/h", player_rate="fast", car_rate="normal",
             deadband=1, ha=Ha(device_class="speed", unit="km/h", icon="mdi:speedometer"),
             prom=Prom("speed_meters_per_second", "speed", 1 / 3.6), description="speed"),
    CarField("gear", "gear", TEL, "int", player_rate="realtime", car_rate="normal",
             ha=replace(_COUNT, icon="mdi:car-shift-pattern"),
             prom=Prom("gear", "gear (-1 reverse, 0 neutral)"), description="gear: -1 reverse, 0 neutral, 1-8"),
    CarField("rpm", "rpm", TEL, "int", "rpm", player_rate="fast", car_rate=None, deadband=50,
             ha=Ha(unit="rpm", name="RPM", icon="mdi:engine"),
             prom=Prom("engine_rpm", "engine speed, revolutions per minute"),
             description="engine speed"),
    CarField("throttle_pct", "throttle", TEL, "float", "%", 0, convert=_pct, player_rate="realtime", car_rate=None,
             deadband=1, ha=replace(_PCT, icon="mdi:car-speed-limiter"),
             prom=Prom("throttle_ratio", "throttle, 0 to 1", 0.01),
             description="throttle"),
    CarField("brake_pct", "brake", TEL, "float", "%", 0, convert=_pct, player_rate="realtime", car_rate=None,
             deadband=1,
             ha=replace(_PCT, icon="mdi:car-brake-alert"), prom=Prom("brake_ratio", "brake, 0 to 1", 0.01),
             description="brake"),
    CarField("steer_pct", "steer", TEL, "float", "%", 0, convert=_pct, player_rate="fast", car_rate=None, deadband=1,
             description="steering, -100 full left to 100 full right"),
    CarField("clutch_pct", "clutch", TEL, "int", "%", player_rate="fast", car_rate=None,
             description="clutch"),
    CarField("drs", "drs_open", TEL, "bool", player_rate="fast", car_rate="on_change",
             ha=replace(_BOOL, name="DRS open", icon="mdi:arrow-expand-vertical"), description="DRS flap open"),
    CarField("drs_allowed", "drs_allowed", STATUS, "bool", player_rate="on_change", car_rate=None,
             ha=replace(_BOOL, icon="mdi:arrow-expand-vertical"), description="DRS may be opened"),
    CarField("engine_temp_c", "engine_temp_c", TEL, "int", "°C", player_rate="normal", car_rate=None,
             ha=replace(_TEMP, icon="mdi:engine"), prom=Prom("engine_temperature_celsius", "engine temperature"),
             description="engine temperature"),
    CarField("max_rpm", "max_rpm", STATUS, "int", "rpm", player_rate="on_change", car_rate=None,
             description="rev limit"),
    CarField("idle_rpm", "idle_rpm", STATUS, "int", "rpm", player_rate="on_change", car_rate=None,
             description="idle engine speed"),
    CarField("pit_limiter", "pit_limiter", STATUS, "bool", player_rate="on_change", car_rate=None,
             ha=replace(_BOOL, icon="mdi:car-speed-limiter"), description="pit limiter on"),
    # fuel and energy
    CarField("fuel_kg", "fuel_kg", STATUS, "float", "kg", 2, player_rate="normal", car_rate=None,
             deadband=0.02, ha=Ha(device_class="weight", unit="kg", name="Fuel", icon="mdi:fuel"),
             prom=Prom("fuel_kilograms", "fuel in the tank"), description="fuel in the tank"),
    CarField("fuel_laps", "fuel_laps", STATUS, "float", "laps", 2, player_rate="normal", car_rate=None,
             deadband=0.02, ha=Ha(unit="laps", name="Fuel laps", icon="mdi:fuel"),
             prom=Prom("fuel_laps", "laps of fuel (margin over race distance in races)"),
             description="fuel remaining in laps (in races: margin over the race distance)"),
    CarField("ers_store_j", "ers_store_j", STATUS, "float", "J", 0, player_rate="normal", car_rate=None,
             deadband=10_000,
             ha=Ha(device_class="energy_storage", unit="J", name="ERS store", icon="mdi:battery-charging"),
             prom=Prom("ers_store_joules", "ERS energy stored"), description="ERS energy stored"),
    CarField("ers_deployed_j", "ers_deployed_j", STATUS, "float", "J", 0, player_rate="normal",
             car_rate=None, deadband=10_000, description="ERS energy deployed this lap"),
    CarField("ers_mode", "ers_mode", STATUS, "enum", convert=_slug("ersDeployMode"), player_rate="on_change",
             car_rate="on_change", ha=replace(_ENUM, name="ERS mode", icon="mdi:lightning-bolt",
                                              labels=game_labels("ersDeployMode", none="No deployment")),
             description="ERS deploy mode"),
    CarField("fuel_mix", "fuel_mix", STATUS, "enum", convert=_slug("fuelMix"), player_rate="on_change",
             car_rate="on_change",
             ha=replace(_ENUM, icon="mdi:gas-station", labels=game_labels("fuelMix")), description="fuel mix"),
    # No Home Assistant entity: `lights/flag` is the one Flag entity (the FIA flag, or red / safety car over it).
    CarField("fia_flag", "fia_flag", STATUS, "enum", convert=_slug("flag"), player_rate="on_change", car_rate=None,
             description="flag shown to the driver"),
    # Forza's own: the engine, the car, fuel as a percentage, the race clock
    CarField("handbrake_pct", "handbrake_pct", TEL, "int", "%", player_rate="fast", car_rate=None,
             description="handbrake"),
    CarField("boost_psi", "boost_psi", TEL, "float", "psi", 1, player_rate="fast", car_rate=None, deadband=0.2,
             ha=Ha(device_class="pressure", unit="psi", enabled=False, name="Boost", icon="mdi:turbine"),
             description="turbo or supercharger boost"),
    CarField("power_kw", "power_kw", TEL, "float", "kW", 0, player_rate="fast", car_rate=None, deadband=1,
             ha=Ha(device_class="power", unit="kW", enabled=False, name="Power", icon="mdi:engine"),
             description="engine power"),
    CarField("torque_nm", "torque_nm", TEL, "float", "N·m", 0, player_rate="fast", car_rate=None, deadband=1,
             description="engine torque"),
    CarField("fuel_pct", "fuel_pct", STATUS, "float", "%", 1, player_rate="normal", car_rate=None, deadband=0.1,
             ha=replace(_PCT, name="Fuel", icon="mdi:fuel"), description="fuel in the tank, percent of capacity"),
    CarField("race_time_s", "race_time_s", LAP, "float", "s", 1, player_rate="normal", car_rate=None, retain=False,
             description="time since the start of the race"),
    CarField("distance_m", "total_distance_m", LAP, "float", "m", 0, player_rate="normal", car_rate=None,
             deadband=10, retain=False, description="distance driven in the race"),
    CarField("car/ordinal", "car_ordinal", STATUS, "int", player_rate="on_change", car_rate=None,
             description="the game's id of the car model"),
    CarField("car/class", "car_class", STATUS, "text", player_rate="on_change", car_rate=None,
             ha=replace(_TEXT, name="Car class", icon="mdi:car-sports"), description="performance class (d ... x)"),
    CarField("car/pi", "car_pi", STATUS, "int", player_rate="on_change", car_rate=None,
             ha=replace(_COUNT, name="Performance index", icon="mdi:speedometer"),
             description="performance index, 100 to 999"),
    CarField("car/drivetrain", "drivetrain", STATUS, "text", player_rate="on_change", car_rate=None,
             description="fwd, rwd or awd"),
    # GT7, Codemasters rally and OutGauge: the engine's gauges, suggested gear, fuel in litres, stage progress,
    # suspension, the car's dashboard lights
    CarField("suggested_gear", "suggested_gear", TEL, "int", player_rate="on_change", car_rate=None,
             description="the gear the game suggests (none: no suggestion)"),
    CarField("rev_warning_rpm", "rev_warning_rpm", STATUS, "int", "rpm", player_rate="on_change", car_rate=None,
             description="where the game's rev lights start (its rev-limiter warning)"),
    CarField("oil_temp_c", "oil_temp_c", TEL, "int", "°C", player_rate="normal", car_rate=None, deadband=1,
             description="oil temperature"),
    CarField("water_temp_c", "water_temp_c", TEL, "int", "°C", player_rate="normal", car_rate=None, deadband=1,
             description="coolant temperature"),
    CarField("oil_pressure_bar", "oil_pressure_bar", TEL, "float", "bar", 1, player_rate="normal", car_rate=None,
             deadband=0.1, description="oil pressure"),
    CarField("fuel_l", "fuel_l", STATUS, "float", "L", 1, player_rate="normal", car_rate=None, deadband=0.1,
             description="fuel in the tank, litres (kWh for an electric car)"),
    CarField("fuel_capacity_l", "fuel_capacity_l", STATUS, "float", "L", 1, player_rate="on_change", car_rate=None,
             description="tank capacity, litres (kWh for an electric car)"),
    CarField("stage_progress_pct", "stage_progress_pct", LAP, "float", "%", 1, player_rate="normal", car_rate=None,
             deadband=0.1, description="how much of the rally stage is done"),
    CarField("car/model", "car_model", STATUS, "text", player_rate="on_change", car_rate=None,
             description="the game's short car name"),
    *[
        CarField(f"suspension/{wheel}/position_mm", "suspension_mm", TEL, "float", "mm", 0, convert=_wheel(w),
                 player_rate="fast", car_rate=None, deadband=1, retain=False,
                 description=f"{wheel.upper()} suspension position")
        for w, wheel in enumerate(WHEELS)
    ],
    *[
        CarField(f"dash/{light}", "dash_lights", STATUS, "bool", player_rate="on_change", car_rate=None,
                 convert=_key(light), retain=False,
                 description=f"dashboard light: {text}")
        for light, text in (("handbrake", "handbrake"), ("abs", "ABS active"), ("tc", "traction control active"),
                            ("full_beam", "full beam"), ("signal_left", "left turn signal"),
                            ("signal_right", "right turn signal"), ("oil_warning", "oil pressure warning"),
                            ("battery", "battery warning"))
    ],
    # motion
    CarField("g_lateral", "g_lateral", MOTION, "float", "g", 2, player_rate="fast", car_rate=None,
             deadband=0.05, retain=False, prom=Prom("g_force_lateral", "lateral g-force"), description="lateral g"),
    CarField("g_longitudinal", "g_longitudinal", MOTION, "float", "g", 2, player_rate="fast",
             car_rate=None, deadband=0.05, retain=False, prom=Prom("g_force_longitudinal", "longitudinal g-force"),
             description="longitudinal g"),
    # damage
    *[
        CarField(f"damage/{part}_pct", attr, DAMAGE, "int", "%", player_rate="on_change",
                 car_rate=None, ha=replace(_PCT, icon="mdi:car-wrench"), description=f"{part.replace('_', ' ')} damage")
        for part, attr in [("front_left_wing", "front_left_wing_damage_pct"),
                           ("front_right_wing", "front_right_wing_damage_pct"),
                           ("rear_wing", "rear_wing_damage_pct"), ("floor", "floor_damage_pct"),
                           ("diffuser", "diffuser_damage_pct"), ("sidepod", "sidepod_damage_pct"),
                           ("gearbox", "gearbox_damage_pct"), ("engine", "engine_damage_pct")]
    ],
    # per wheel (RL, RR, FL, FR in the game's arrays)
    *[
        field
        for w, wheel in enumerate(WHEELS)
        for field in (
            CarField(f"tyres/{wheel}/surface_temp_c", "tyre_surface_temps_c", TEL, "int", "°C",
                     convert=_wheel(w), player_rate="normal", car_rate=None, ha=_TEMP,
                     description=f"{wheel.upper()} tyre surface"),
            CarField(f"tyres/{wheel}/inner_temp_c", "tyre_inner_temps_c", TEL, "int", "°C",
                     convert=_wheel(w), player_rate="normal", car_rate=None, ha=_TEMP,
                     description=f"{wheel.upper()} tyre carcass"),
            CarField(f"tyres/{wheel}/pressure_kpa", "tyre_pressures_psi", TEL, "float", "kPa", 1,
                     convert=_wheel(w, PSI_TO_KPA), player_rate="normal", car_rate=None,
                     deadband=0.3, ha=_PRESSURE,
                     description=f"{wheel.upper()} tyre pressure"),
            CarField(f"tyres/{wheel}/wear_pct", "tyre_wear_pct", DAMAGE, "float", "%", 1,
                     convert=_wheel(w), player_rate="normal", car_rate=None, deadband=0.1,
                     ha=replace(_PCT, icon="mdi:tire"),
                     description=f"{wheel.upper()} tyre wear"),
            CarField(f"tyres/{wheel}/damage_pct", "tyre_damage_pct", DAMAGE, "int", "%",
                     convert=_wheel(w), player_rate="on_change", car_rate=None, ha=replace(_PCT, icon="mdi:tire"),
                     description=f"{wheel.upper()} tyre damage"),
            CarField(f"brakes/{wheel}/temp_c", "brake_temps_c", TEL, "int", "°C", convert=_wheel(w),
                     player_rate="normal",
                     car_rate=None, deadband=2, ha=replace(_TEMP, icon="mdi:car-brake-temperature"),
                     description=f"{wheel.upper()} brake temperature"),
        )
    ],
]


def _session(attr: str) -> Callable[[Any], Any]:
    return lambda ctx: getattr(ctx.state, attr)


def _session_enum(enum: str, attr: str) -> Callable[[Any], Any]:
    def read(ctx: Any) -> str | None:
        value = getattr(ctx.state, attr)
        return None if value is None else slug(enum, ctx.state.packet_format, value)

    return read


def _best_lap_car(ctx: Any) -> str | None:
    best = ctx.state.best_lap
    return None if best is None else ctx.state.cars[best[1]].name


def _record(ctx: Any, attr: str, at: int | None) -> Any:
    record = getattr(ctx.state, attr)
    return record[at] if at is not None else record


def _held(attr: str, at: int | None = None) -> Callable[[Any], Any]:
    """The value of a session record kept as (value, car index): `best_sectors[s]`, `speed_trap_best`."""

    def read(ctx: Any) -> Any:
        record = _record(ctx, attr, at)
        return None if record is None else record[0]

    return read


def _holder(attr: str, at: int | None = None) -> Callable[[Any], Any]:
    """The name of the driver holding a (value, car index) session record."""

    def read(ctx: Any) -> Any:
        record = _record(ctx, attr, at)
        return None if record is None else ctx.state.car(record[1]).name

    return read


SESSION_FIELDS: list[Field] = [
    Field("session/track", "session", _session_enum("trackId", "track_id"), groups.SESSION, "enum", rate="on_change",
          ha=replace(_ENUM, icon="mdi:go-kart-track", labels=game_labels("trackId")), description="track"),
    Field("session/track_length_m", "session", _session("track_length_m"), groups.SESSION, "int", "m", rate="on_change",
          description="track length"),
    Field("session/type", "session", _session_enum("sessionType", "session_type_id"), groups.SESSION, "enum",
          rate="on_change", ha=replace(_ENUM, name="Session type", icon="mdi:flag-checkered",
                                       labels=game_labels("sessionType")),
          description="practice, qualifying, race, time trial..."),
    Field("session/formula", "session", _session_enum("formula", "formula_id"), groups.SESSION, "enum",
          rate="on_change",
          description="car class"),
    Field("session/weather", "session", _session_enum("weather", "weather_id"), groups.SESSION, "enum",
          rate="on_change",
          ha=replace(_ENUM, icon="mdi:weather-partly-cloudy", labels=game_labels("weather")),
          description="weather now"),
    Field("session/track_temp_c", "session", _session("track_temp_c"), groups.SESSION, "int", "°C", rate="on_change",
          ha=Ha(device_class="temperature", unit="°C", icon="mdi:thermometer"),
          prom=Prom("session_track_temperature_celsius", "track temperature"),
          description="track temperature"),
    Field("session/air_temp_c", "session", _session("air_temp_c"), groups.SESSION, "int", "°C", rate="on_change",
          ha=Ha(device_class="temperature", unit="°C", icon="mdi:thermometer"),
          prom=Prom("session_air_temperature_celsius", "air temperature"),
          description="air temperature"),
    Field("session/total_laps", "session", _session("total_laps"), groups.SESSION, "int", "laps", rate="on_change",
          ha=replace(_COUNT, name="Race laps", icon="mdi:flag-checkered"),
          prom=Prom("session_total_laps", "laps in the race"), description="laps in the race"),
    Field("session/time_left_s", "session", _session("time_left_s"), groups.SESSION, "int", "s", rate="normal",
          ha=Ha(device_class="duration", unit="s", enabled=False, name="Session time left", icon="mdi:timer-sand"),
          prom=Prom("session_time_left_seconds", "time left in the session"), description="time left"),
    Field("session/safety_car", "session", _session_enum("safetyCarStatus", "safety_car_id"), groups.SESSION, "enum",
          rate="on_change", ha=replace(_ENUM, icon="mdi:car-emergency", labels=game_labels("safetyCarStatus")),
          description="safety car status"),
    Field("session/pit_speed_limit_kph", "session", _session("pit_speed_limit_kph"), groups.SESSION, "int", "km/h",
          rate="on_change", description="pit lane speed limit"),
    Field("session/paused", "session", _session("paused"), groups.SESSION, "bool", rate="on_change",
          ha=replace(_BOOL, name="Network game paused", icon="mdi:pause-circle"),
          description="network game paused"),
    Field("session/network_game", "session", _session("network_game"), groups.SESSION, "bool", rate="on_change",
          description="online session"),
    Field("session/uid", "session", lambda ctx: str(ctx.state.session_uid) if ctx.state.session_uid else None,
          groups.RESET, "text", rate="on_change", description="the game's session id"),
    Field("session/active_cars", "session", lambda ctx: len(ctx.state.active), groups.ACTIVE, "int", rate="on_change",
          ha=replace(_COUNT, name="Cars", icon="mdi:car-multiple"),
          prom=Prom("session_active_cars", "cars in the session"), description="cars in the session"),
    Field("session/best_lap_ms", "session", _opt(lambda ctx: ctx.state.best_lap[0]), groups.BESTS, "int", "ms",
          rate="on_change", ha=replace(_DURATION_MS, name="Session best lap", icon="mdi:timer-star"),
          description="overall best valid lap"),
    Field("session/best_lap_driver", "session", _best_lap_car, groups.BESTS, "text", rate="on_change",
          ha=replace(_TEXT, name="Session best lap driver", icon="mdi:account-star"),
          description="who set the overall best lap"),
    # results and race log (JSON documents from bridge/state/results.py)
    Field("session/results", "session", lambda ctx: results.results(ctx.state), groups.CLASSIFICATION, "json",
          rate="on_change", description="the game's final classification as one JSON document (when the game sends "
          "it): cars by position with grid_position, name, team, race_number, laps, total_race_time_s, "
          "gap_to_winner_ms, laps_behind, best_lap_ms, pit_stops, penalties_s, points, result_status, stints"),
    Field("session/standings", "session", lambda ctx: results.standings(ctx.state) or None, LAP, "json",
          rate="normal", description="the running order as one JSON list from one packet (an atomic table: "
          "per-car position topics may briefly show two cars on one place during a swap): position, index, name, "
          "team, race_number, lap, last_lap_ms, best_lap_ms, pit_stops, penalties_s, tyre, tyre_age_laps, "
          "pit_status, result_status; no gaps (cars/<index>/gap_leader_ms)"),
    *[
        field
        for s in range(3)
        for field in (
            Field(f"session/best_sector{s + 1}_ms", "session", _held("best_sectors", s), groups.BESTS, "int", "ms",
                  rate="on_change", description=f"overall best sector {s + 1}"),
            Field(f"session/best_sector{s + 1}_driver", "session", _holder("best_sectors", s), groups.BESTS, "text",
                  rate="on_change", description=f"who set the overall best sector {s + 1}"),
        )
    ],
    Field("session/speed_trap_kph", "session", _held("speed_trap_best"), groups.BESTS, "float", "km/h", 1,
          rate="on_change", description="fastest speed trap of the session"),
    Field("session/speed_trap_driver", "session", _holder("speed_trap_best"), groups.BESTS, "text",
          rate="on_change", description="who set the fastest speed trap"),
    Field("session/safety_car_periods", "session", _session("safety_car_periods"), groups.SESSION, "int",
          rate="on_change", description="safety car periods so far"),
    Field("session/virtual_safety_car_periods", "session", _session("virtual_safety_car_periods"), groups.SESSION,
          "int", rate="on_change", description="virtual safety car periods so far"),
    Field("session/red_flag_periods", "session", _session("red_flag_periods"), groups.SESSION, "int",
          rate="on_change", description="red flag periods so far"),
    Field("session/racing", "session", _session("racing"), groups.SESSION, "bool", rate="on_change",
          ha=replace(_BOOL, name="Racing", icon="mdi:flag-checkered"), description="racing (false: in the menus)"),
    Field("session/red_flag", "session", _session("red_flag"), groups.EVENTS, "bool", rate="on_change",
          ha=replace(_BOOL, icon="mdi:flag"),
          description="red flag shown"),
    Field("session/start_lights", "session", _session("start_lights"), groups.EVENTS, "int", rate="on_change",
          description="start lights lit (0 after lights out)"),
    Field("session/chequered_flag", "session", _session("chequered_flag"), groups.EVENTS, "bool", rate="on_change",
          description="chequered flag shown"),
    # GT7
    Field("session/loading", "session", _session("loading"), groups.SESSION, "bool", rate="on_change",
          description="the game is loading"),
    Field("session/entrants", "session", _session("entrants"), groups.SESSION, "int", rate="on_change",
          description="cars in the race, the player's included (games that send only the player's car)"),
]


def _bridge(attr: str) -> Callable[[Any], Any]:
    return lambda ctx: getattr(ctx.status, attr)


_DIAG = Ha(diagnostic=True, icon="mdi:swap-horizontal")

STATUS_FIELDS: list[Field] = [
    Field("game/receiving", "game", _bridge("receiving"), groups.GAME, "bool", rate="on_change", qos=1,
          ha=Ha(component="binary_sensor", device_class="connectivity", state_class=None, diagnostic=True,
                name="Game telemetry", icon="mdi:access-point-network"),
          description="telemetry is arriving from the game"),
    Field("game/source", "game", _bridge("source"), groups.GAME, "text", rate="on_change",
          ha=Ha(state_class=None, diagnostic=True, name="Game address", icon="mdi:ip-network"),
          description="address the telemetry comes from"),
    Field("game/format", "game", lambda ctx: ctx.state.packet_format if ctx.state.session_uid else None,
          groups.RESET, "int", rate="on_change",
          ha=Ha(state_class=None, diagnostic=True, name="Game UDP format", icon="mdi:numeric"),
          description="UDP format (2023, 2024, 2025, 2026)"),
    Field("game/name", "game", lambda ctx: ctx.state.game if ctx.state.packets_applied else None, groups.RESET,
          "text", rate="on_change", description="the running game: f1, forza..."),
    Field("game/version", "game", lambda ctx: ctx.state.game_version or None, groups.RESET, "text",
          rate="on_change", description="game version"),
    Field("bridge/packets_per_s", "bridge", _bridge("packets_per_s"), groups.BRIDGE, "float", "1/s", 1, rate="slow",
          ha=_DIAG, description="datagrams received per second"),
    Field("bridge/messages_per_s", "bridge", _bridge("messages_per_s"), groups.BRIDGE, "float", "1/s", 1, rate="slow",
          ha=_DIAG, description="MQTT messages published per second"),
    Field("bridge/dropped", "bridge", _bridge("dropped_total"), groups.BRIDGE, "int", rate="slow",
          ha=Ha(state_class="total_increasing", diagnostic=True, name="Datagrams dropped", icon="mdi:delete-alert"),
          description="datagrams dropped since start"),
    Field("bridge/version", "bridge", _bridge("version"), groups.BRIDGE, "text", rate="on_change",
          ha=Ha(state_class=None, diagnostic=True, name="Bridge version", icon="mdi:information-outline"),
          description="rigbridge version"),
]


FLAGS = ("none", "green", "blue", "yellow", "red", "safety_car", "virtual_safety_car")  # payloads of lights/flag


def _lights(attr: str) -> Callable[[Any], Any]:
    return lambda ctx: getattr(ctx.lights, attr)


LIGHT_FIELDS: list[Field] = [
    Field("lights/rev_bits", "lights", _lights("rev_bits"), TEL, "int", rate="realtime", retain=False,
          description="the game's rev lights: 15 LEDs, bit 0 leftmost"),
    Field("lights/rev_pct", "lights", _lights("rev_pct"), TEL, "int", "%", rate="realtime", retain=False,
          ha=Ha(unit="%", enabled=False, name="Rev lights", icon="mdi:led-strip-variant"),
          prom=Prom("player_rev_lights_ratio", "the game's rev lights, 0 to 1", 0.01),
          description="the game's rev lights percent (from rpm for a game that sends none: lights.rev_start_pct "
                      "to lights.shift_pct)"),
    Field("lights/shift", "lights", _lights("shift"), TEL, "bool", rate="realtime", retain=False,
          ha=Ha(component="binary_sensor", state_class=None, enabled=False, name="Shift light", icon="mdi:led-on"),
          description="at the game's shift point (lights.shift_pct for a game without rev lights)"),
    Field("lights/drs", "lights", _lights("drs"), TEL, "enum", rate="realtime", retain=False,
          description="off, allowed or active"),
    Field("lights/flag", "lights", _lights("flag"), STATUS, "enum", rate="realtime", retain=False,
          ha=replace(_ENUM, name="Flag", icon="mdi:flag", labels=(("none", "No flag"), *plain_labels(*FLAGS[1:]))),
          description="none, green, blue, yellow, red, safety_car, virtual_safety_car"),
    Field("lights/pit_limiter", "lights", _lights("pit_limiter"), STATUS, "bool", rate="realtime", retain=False,
          description="pit limiter on"),
    Field("lights/leds", "lights", _lights("leds"), TEL, "text", rate="realtime", retain=False,
          description="LED frame: RRGGBB hex per LED, left to right"),
]

# ------------------------------------------------------------------------------------------------ racer's aids
# Live delta, fuel and tyre models, battle view, pit window and rejoin, forecast (bridge/state/aids, docs/aids.md);
# and the values F1 decodes that had no topic (2026 active aero and overtake mode, driver status, ERS harvest,
# engine power, brake damage, DRS and ERS faults, unserved penalties, corner-cutting warnings).

AIDS_LAP, TEL2 = "aids.lap", "cars.telemetry2"  # the player completed a lap (the models' estimates); CarTelemetry2


def _player(path: str, read: Callable[[Any], Any], group: str, kind: str, unit: str | None = None,
            precision: int = 0, **more: Any) -> Field:
    return Field(f"player/{path}", "player", read, group, kind, unit, precision, **more)


AIDS_FIELDS: list[Field] = [
    # live delta (O(1) per lap data packet)
    _player("delta_best_ms", aids.delta_best_ms, LAP, "int", "ms", rate="realtime", deadband=20, retain=False,
            prom=Prom("player_delta_best_seconds", "the lap now against the personal best, same distance", 0.001),
            description="live delta to the personal best lap at the same distance into the lap (positive: slower)"),
    _player("estimated_lap_ms", aids.estimated_lap_ms, LAP, "int", "ms", rate="fast", deadband=50, retain=False,
            description="the lap time this lap is heading for (personal best plus the live delta)"),
    _player("delta_session_best_ms", aids.delta_session_best_ms, LAP, "int", "ms", rate="fast", deadband=20,
            retain=False, description="the estimated lap against the session's best lap"),
    Field("lights/delta", "lights", aids.lights_delta, LAP, "int", rate="realtime", retain=False,
          description="the live delta for LED profiles: tenths of a second, -10 (faster) to 10 (slower)"),
    # fuel: once per lap
    _player("fuel_used_last_lap_kg", aids.fuel("used_last_lap"), AIDS_LAP, "float", "kg", 3, rate="on_change",
            description="fuel used on the last lap"),
    _player("fuel_per_lap_kg", aids.fuel("per_lap"), AIDS_LAP, "float", "kg", 3, rate="on_change",
            description="average fuel per lap over the latest green-flag laps"),
    _player("fuel_to_finish_kg", aids.fuel("to_finish"), AIDS_LAP, "float", "kg", 2, rate="on_change",
            ha=Ha(device_class="weight", unit="kg", name="Fuel to finish", icon="mdi:fuel"),
            prom=Prom("player_finish_fuel_kilograms", "fuel needed to the finish at the average burn"),
            description="fuel needed from the line to the finish (race laps, or laps the clock allows)"),
    _player("fuel_surplus_kg", aids.fuel("surplus_kg"), AIDS_LAP, "float", "kg", 2, rate="on_change",
            description="fuel beyond what the finish needs (negative: short)"),
    _player("fuel_surplus_laps", aids.fuel("surplus_laps"), AIDS_LAP, "float", "laps", 2, rate="on_change",
            ha=Ha(unit="laps", name="Fuel surplus laps", icon="mdi:fuel"),
            prom=Prom("player_fuel_surplus_laps", "fuel beyond the finish, in laps at the average burn"),
            description="fuel beyond the finish in laps (the game's fuel_laps says the same its own way)"),
    _player("fuel_target_per_lap_kg", aids.fuel("target_per_lap"), AIDS_LAP, "float", "kg", 3, rate="on_change",
            description="burn per lap that reaches the finish with an empty tank"),
    _player("fuel_vs_game_laps", aids.fuel("versus_game_laps"), AIDS_LAP, "float", "laps", 2, rate="on_change",
            description="fuel_surplus_laps minus the game's fuel_laps (the models compared)"),
    _player("fuel_model", aids.fuel_model, AIDS_LAP, "json", rate="on_change",
            description="JSON: the fuel estimate made at the line of `lap`: used_last_lap_kg, per_lap_kg, "
                        "remaining_laps, to_finish_kg, surplus_kg, surplus_laps, target_per_lap_kg, versus_game_laps"),
    # tyres: once per lap, per wheel
    *[
        field
        for w, wheel in enumerate(WHEELS)
        for field in (
            _player(f"tyres/{wheel}/wear_rate_pct_per_lap", aids.tyre_wheel("rate_pct_per_lap", w), AIDS_LAP,
                    "float", "%", 2, rate="on_change",
                    description=f"{wheel.upper()} wear per lap over the stint (least-squares fit)"),
            _player(f"tyres/{wheel}/laps_to_limit", aids.tyre_wheel("laps_to_limit", w), AIDS_LAP, "float", "laps",
                    1, rate="on_change", description=f"{wheel.upper()} laps until tyres.wear_limit_pct"),
            _player(f"tyres/{wheel}/wear_at_finish_pct", aids.tyre_wheel("wear_at_finish_pct", w), AIDS_LAP,
                    "float", "%", 1, rate="on_change", description=f"{wheel.upper()} wear predicted at the finish"),
        )
    ],
    _player("tyre_laps_left", aids.tyre_laps_left, AIDS_LAP, "float", "laps", 1, rate="on_change",
            ha=Ha(unit="laps", name="Tyre laps left", icon="mdi:tire"),
            prom=Prom("player_tyre_laps_left", "laps until the first tyre reaches the wear limit"),
            description="laps until the first wheel reaches tyres.wear_limit_pct"),
    _player("tyre_model", aids.tyre_model, AIDS_LAP, "json", rate="on_change",
            description="JSON: the tyre estimate made at the line of `lap`, per wheel: wear_pct, rate_pct_per_lap, "
                        "laps_to_limit, wear_at_finish_pct; laps_left, wear_limit_pct"),
    _player("tyre_sets", aids.tyre_sets, groups.AIDS_TYRE_SETS, "json", rate="on_change",
            description="JSON list of the sets still available and the fitted one: tyre, compound, wear_pct, "
                        "life_laps, usable_life_laps, fitted"),
    # battle view
    *[
        field
        for side in ("ahead", "behind")
        for field in (
            _player(f"battle/{side}", getattr(aids, f"battle_{side}"), LAP, "json", rate="normal",
                    description=f"JSON: the car directly {side}: index, name, position, gap_ms, last_lap_ms, tyre, "
                                "tyre_age_laps, drs_allowed, ers_store_j, gap_trend_ms_per_lap"),
            _player(f"battle/{side}_gap_ms", aids.battle_value(side, "gap_ms"), LAP, "int", "ms", rate="normal",
                    deadband=50, description=f"gap to the car directly {side}"),
            _player(f"battle/{side}_trend_ms_per_lap", aids.battle_value(side, "gap_trend_ms_per_lap"), AIDS_LAP,
                    "int", "ms", rate="on_change",
                    description=f"change of the gap to the car {side} over the last lap (negative: closing)"),
        )
    ],
    # pit window and rejoin
    _player("pit_window/ideal_lap", aids.session_value("pit_window_ideal_lap"), groups.SESSION, "int", rate="on_change",
            description="the game's ideal lap to pit"),
    _player("pit_window/latest_lap", aids.session_value("pit_window_latest_lap"), groups.SESSION, "int",
            rate="on_change", description="the game's latest lap to pit"),
    _player("rejoin", aids.rejoin_document, LAP, "json", rate="normal",
            description="JSON: where a stop now would rejoin: position, behind (index, name), gap_ms, ahead_of, "
                        "pit_loss_s (per track, pit.loss_s overrides)"),
    _player("rejoin_position", aids.rejoin_value("position"), LAP, "int", rate="normal",
            description="the position a stop now would rejoin in"),
    _player("rejoin_behind", aids.rejoin_value("behind"), LAP, "text", rate="normal",
            description="the driver a stop now would rejoin behind"),
    # weather forecast
    Field("session/forecast", "session", aids.forecast, groups.FORECAST, "json", rate="on_change",
          description="JSON list of forecast samples of this session: offset_min, weather, track_temp_c, "
                      "track_temp_trend, air_temp_c, air_temp_trend, rain_pct"),
    Field("session/rain_pct_next", "session", aids.rain_pct_next, groups.FORECAST, "int", "%", rate="on_change",
          ha=Ha(unit="%", name="Rain next", icon="mdi:weather-rainy"),
          prom=Prom("session_rain_next_ratio", "rain chance of the nearest forecast sample, 0 to 1", 0.01),
          description="rain chance of the nearest forecast sample ahead"),
]

SEASON_CAR_FIELDS: list[CarField] = [
    CarField("driver_status", "driver_status", LAP, "enum", convert=_slug("driverStatus"), player_rate="on_change",
             car_rate="on_change", description="in garage, flying lap, in lap, out lap, on track"),
    CarField("corner_cutting_warnings", "corner_cutting_warnings", LAP, "int", player_rate="on_change",
             car_rate="on_change", description="corner-cutting warnings"),
    CarField("unserved_drive_throughs", "unserved_drive_through", LAP, "int", player_rate="on_change",
             car_rate="on_change", description="drive-through penalties not served yet"),
    CarField("unserved_stop_gos", "unserved_stop_go", LAP, "int", player_rate="on_change", car_rate="on_change",
             description="stop-go penalties not served yet"),
    CarField("ers_harvested_mguk_j", "ers_harvested_mguk_j", STATUS, "float", "J", 0, player_rate="normal",
             car_rate=None, deadband=10_000, description="ERS energy harvested this lap by the MGU-K"),
    CarField("ers_harvested_mguh_j", "ers_harvested_mguh_j", STATUS, "float", "J", 0, player_rate="normal",
             car_rate=None, deadband=10_000, description="ERS energy harvested this lap by the MGU-H (not in 2026)"),
    CarField("power_ice_kw", "power_ice_w", STATUS, "float", "kW", 0, convert=lambda value, fmt: value / 1000,
             player_rate="normal", car_rate=None, deadband=1, description="engine (ICE) power"),
    CarField("power_mguk_kw", "power_mguk_w", STATUS, "float", "kW", 0, convert=lambda value, fmt: value / 1000,
             player_rate="normal", car_rate=None, deadband=1, description="MGU-K power"),
    *[
        CarField(f"brakes/{wheel}/damage_pct", "brake_damage_pct", DAMAGE, "int", "%", convert=_wheel(w),
                 player_rate="on_change", car_rate=None, description=f"{wheel.upper()} brake damage")
        for w, wheel in enumerate(WHEELS)
    ],
    CarField("drs_fault", "drs_fault", DAMAGE, "bool", player_rate="on_change", car_rate=None,
             description="DRS fault"),
    CarField("ers_fault", "ers_fault", DAMAGE, "bool", player_rate="on_change", car_rate=None,
             description="ERS fault"),
    CarField("active_aero_mode", "active_aero_mode", TEL2, "enum", convert=_slug("activeAeroMode"),
             player_rate="on_change", car_rate="on_change", description="2026 active aero: corner or straight mode"),
    CarField("overtake_available", "overtake_available", TEL2, "bool", player_rate="on_change", car_rate=None,
             description="2026 overtake mode may be used"),
    CarField("overtake_active", "overtake_active", TEL2, "bool", player_rate="on_change", car_rate="on_change",
             description="2026 overtake mode in use"),
]

AIDS_NOTES = """
## Racer's aids and race control

The models behind `player/delta_*`, `player/fuel_*`, `player/tyres/<wheel>/*`, `player/tyre_*`, `player/battle/*`,
`player/rejoin*` and `session/forecast` are described in [aids.md](aids.md): what each is computed from, when it
moves (the fuel and tyre estimates once per lap, at the line) and the settings `tyres.wear_limit_pct` and
`pit.loss_s`. `race_control` (not retained, QoS 1) carries one JSON message per happening, in order: `seq`,
`session_time`, `code` (the game's event code, or `PITIN`, `PITOUT`, `FLAG`, `SCST` for what the bridge saw change),
`kind`, `text` (for a person: "Penalty: HAMILTON, 5 s time penalty, corner cutting gained time") and `cars`
(index and name of each car it is about).
"""

CATALOG: list[Field] = [*STATUS_FIELDS, *SESSION_FIELDS, *_car_fields(CAR_FIELDS), *LIGHT_FIELDS,
                       *AIDS_FIELDS, *_car_fields(SEASON_CAR_FIELDS)]  # racer's aids

EVENT_TOPIC = "event/{code}"  # JSON, never retained, QoS 1: one message per event

# What the table cannot say: the JSON documents' rules (docs/topics.md shows this after the table).
NOTES = """
## Results, standings, laps and stints

The `json` fields carry one JSON document each (UTF-8, compact; NaN never appears: a value the game does not send,
or sent as garbage, is `null`). Codes are names, as in the other topics (`soft`, `c4`, `finished`, `warning`).

- **Atomic tables.** Each `cars/<index>/position` is its own message, so while two cars swap places a subscriber can
  see both on one place for a moment. A consumer that wants a consistent table reads `session/standings` (the
  running order from one packet, read at the `normal` rate and sent when the order, a lap, a car's tyres or pit
  status changed) or, at the end of a race, `session/results` (the game's final classification).
- **`lap_completed`** (`player/` and `cars/<index>/`, not retained) is one message per lap per car, sent when the car
  crosses the line: the lap as timed then, its position at the line and the tyres it was driven on (tyre age: the
  game's, during the lap). The game's own lap history may still correct a lap's time afterwards; the session
  export carries the corrected one. After a reconnect the latest lap of each car is offered again, and after a
  flashback the laps driven again are sent again: the `lap` number (with `car`) identifies a lap, the latest wins.
- **Stints and tyre age.** Stints follow the game's own stint history: the in-lap (the lap the car entered the pit
  lane on) is the last lap of the stint that ends, and the new stint starts on the out-lap. A stint's `laps` and
  `player/stint_laps` count the laps completed on that set since it was fitted (0 during the out-lap). The game's
  `tyre_age_laps` counts line crossings on the set instead: it equals `stint_laps` plus the age of the set when it
  was fitted (`fitted_age_laps`, 0 for a new set), plus one when the set was fitted before the line on the in-lap
  (`fitted_on_in_lap`: the game counts that crossing). A pit stop's `lap` is its in-lap, the `end_lap` of the stint
  before it.
- **`pit_time_lost_ms`** is deprecated and will be removed in the next release: it is the time spent in the pit
  lane, published as `pit_lane_time_ms`; both carry the same value until then.
"""
NOTES += AIDS_NOTES  # racer's aids


def by_path() -> dict[str, Field]:
    return {f.path: f for f in CATALOG}

