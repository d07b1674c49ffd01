"""The aids' published values and JSON documents: pure functions over the read-only views.

Player values take the player's `CarView`, session values the engine's context (`ctx.state` is the `SessionView`).
Codes become names through the running game's enumerations; a value not known yet is None (nothing published).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bridge.state.aids.battle import Gap, neighbours
from bridge.state.aids.forecast import next_sample
from bridge.state.aids.pitwindow import pit_loss_s, rejoin
from bridge.state.aids.race_control import RaceControlMessage
from bridge.state.aids.view import AidsView, aids_view
from bridge.state.enums import slug

WHEELS = ("rl", "rr", "fl", "fr")  # the neutral wheel order
LIGHTS_DELTA_STEP_MS = 100  # lights/delta: one step per tenth of a second
LIGHTS_DELTA_MAX = 10


def _aids(car: Any) -> AidsView:
    return aids_view(car[0])  # a CarView is (state, index)


def _get(subject: Any, name: str) -> Any:
    return getattr(subject, name, None)


def _name(enum: str, fmt: int, value: Any) -> str | None:
    return None if value is None else slug(enum, fmt, value)


def _round(value: float | None, digits: int = 0) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value) if digits == 0 else round(value, digits)


# ---------------------------------------------------------------------------------------------- live delta


def delta_best_ms(car: Any) -> int | None:
    return _round(_aids(car).delta_ms)  # type: ignore[return-value]


def estimated_lap_ms(car: Any) -> int | None:
    aids = _aids(car)
    delta, ref = aids.delta_ms, aids.reference_lap_ms
    return None if delta is None or ref is None else _round(ref + delta)  # type: ignore[return-value]


def delta_session_best_ms(car: Any) -> int | None:
    """The estimated lap against the session's best lap (whoever set it)."""
    estimate = estimated_lap_ms(car)
    best: tuple[int, int, int] | None = car[0].best_lap
    return None if estimate is None or best is None else estimate - best[0]


def lights_delta(ctx: Any) -> int | None:
    """The delta as a small signed step for LED profiles: tenths of a second, -10 to 10."""
    delta = ctx.state.aids.delta_ms
    if delta is None or not math.isfinite(delta):
        return None
    return max(-LIGHTS_DELTA_MAX, min(LIGHTS_DELTA_MAX, round(float(delta) / LIGHTS_DELTA_STEP_MS)))


# ---------------------------------------------------------------------------------------------- fuel and tyres


def fuel(attr: str) -> Callable[[Any], Any]:
    """One value of the fuel model's latest estimate."""
    return lambda car: _get(_aids(car).fuel, attr)


def tyre_wheel(attr: str, wheel: int) -> Callable[[Any], Any]:
    """One wheel's value of the tyre model's latest estimate."""

    def read(car: Any) -> Any:
        estimate = _aids(car).tyres
        return None if estimate is None or wheel >= len(getattr(estimate, attr)) else getattr(estimate, attr)[wheel]

    return read


def tyre_laps_left(car: Any) -> float | None:
    estimate = _aids(car).tyres
    return None if estimate is None else estimate.laps_left


def fuel_model(car: Any) -> dict[str, Any] | None:
    """The fuel model's latest estimate as one document (the lap it was made at included)."""
    e = _aids(car).fuel
    if e is None:
        return None
    return {"lap": e.lap, "used_last_lap_kg": _round(e.used_last_lap, 3), "per_lap_kg": _round(e.per_lap, 3),
            "remaining_laps": e.remaining_laps, "to_finish_kg": _round(e.to_finish, 3),
            "surplus_kg": _round(e.surplus_kg, 3), "surplus_laps": _round(e.surplus_laps, 2),
            "target_per_lap_kg": _round(e.target_per_lap, 3), "versus_game_laps": _round(e.versus_game_laps, 2)}


def tyre_model(car: Any) -> dict[str, Any] | None:
    """The tyre model's latest estimate as one document, per wheel (rl, rr, fl, fr)."""
    e = _aids(car).tyres
    if e is None:
        return None

    def wheels(values: tuple[float | None, ...], digits: int) -> dict[str, Any]:
        return {wheel: _round(v, digits) for wheel, v in zip(WHEELS, values, strict=False)}

    return {"lap": e.lap, "wear_limit_pct": _aids(car).settings.wear_limit_pct, "wear_pct": wheels(e.wear_pct, 2),
            "rate_pct_per_lap": wheels(e.rate_pct_per_lap, 3), "laps_to_limit": wheels(e.laps_to_limit, 1),
            "wear_at_finish_pct": wheels(e.wear_at_finish_pct, 1), "laps_left": _round(e.laps_left, 1)}


def tyre_sets(car: Any) -> list[dict[str, Any]] | None:
    """The sets still available (and the fitted one): tyre, compound, wear, laps of life left."""
    fmt = car.packet_format
    sets = _aids(car).tyre_sets
    rows = [{
        "tyre": _name("visualTyreCompound", fmt, s.visual_id),
        "compound": _name("actualTyreCompound", fmt, s.actual_id),
        "wear_pct": s.wear_pct,
        "life_laps": s.life_laps,
        "usable_life_laps": s.usable_life_laps,
        "fitted": s.fitted,
    } for s in sets if s.available or s.fitted]  # fmt: skip
    return rows or None


# ---------------------------------------------------------------------------------------------- battle


def _neighbours(car: Any) -> tuple[int | None, int | None]:
    view = car[0]
    found = view.tables.column(view.latest, "position")
    return (None, None) if found is None else neighbours(found[1], view.active, car[1])


def _battle(car: Any, other: int | None, gap_ms: Any, trend: Gap | None) -> dict[str, Any] | None:
    if other is None:
        return None
    from bridge.state.view import CarView  # the view module imports this package's view

    them = CarView((car[0], other))
    fmt = car.packet_format
    return {
        "index": other,
        "name": _get(them, "name"),
        "position": _get(them, "position"),
        "gap_ms": gap_ms if isinstance(gap_ms, int) else None,
        "last_lap_ms": _get(them, "last_lap_ms") or None,
        "tyre": _name("visualTyreCompound", fmt, _get(them, "tyre_visual_id")),
        "tyre_age_laps": _get(them, "tyre_age_laps"),
        "drs_allowed": _get(them, "drs_allowed"),
        "ers_store_j": _round(_get(them, "ers_store_j")),
        "gap_trend_ms_per_lap": trend.trend_ms_per_lap if trend is not None and trend.index == other else None,
    }


def battle_ahead(car: Any) -> dict[str, Any] | None:
    ahead, _ = _neighbours(car)
    return _battle(car, ahead, _get(car, "gap_ahead_ms"), _aids(car).ahead)


def battle_behind(car: Any) -> dict[str, Any] | None:
    _, behind = _neighbours(car)
    if behind is None:
        return None
    from bridge.state.view import CarView

    return _battle(car, behind, _get(CarView((car[0], behind)), "gap_ahead_ms"), _aids(car).behind)


def battle_value(side: str, key: str) -> Callable[[Any], Any]:
    read = battle_ahead if side == "ahead" else battle_behind

    def value(car: Any) -> Any:
        doc = read(car)
        return None if doc is None else doc[key]

    return value


# ---------------------------------------------------------------------------------------------- pit window


def pit_loss(car: Any) -> float:
    state = car[0]
    track = _get(state, "track_id")
    name = None if track is None else slug("trackId", state.packet_format, track)
    return pit_loss_s(name, aids_view(state).settings.pit_loss_s)


def rejoin_document(car: Any) -> dict[str, Any] | None:
    """Where the player would rejoin after a stop now: position, the car ahead then and the gap to it."""
    state = car[0]
    gaps_column = state.tables.column(state.latest, "gap_leader_ms")
    status = state.tables.column(state.latest, "result_status")
    if gaps_column is None:
        return None
    gaps = gaps_column[1]
    running = {i: gaps[i] for i in state.active
               if isinstance(gaps[i], int) and (status is None or slug("resultStatus", car.packet_format,
                                                                         status[1][i]) == "active")}
    found = rejoin(car[1], running, pit_loss(car))
    if found is None:
        return None

    def who(i: int | None) -> dict[str, Any] | None:
        return None if i is None else {"index": i, "name": _get(state.cars[i], "name")}

    return {"position": found.position, "behind": who(found.behind), "gap_ms": found.gap_ms,
            "ahead_of": who(found.ahead_of), "pit_loss_s": found.pit_loss_ms / 1000}


def rejoin_value(key: str) -> Callable[[Any], Any]:
    def value(car: Any) -> Any:
        doc = rejoin_document(car)
        if doc is None:
            return None
        found = doc[key]
        return found["name"] if isinstance(found, dict) else found

    return value


def session_value(name: str) -> Callable[[Any], Any]:
    """A session value, for a player field (the game sends the pit window for the player's car)."""
    return lambda car: _get(car[0], name) or None


# ---------------------------------------------------------------------------------------------- forecast


def forecast(ctx: Any) -> list[dict[str, Any]] | None:
    fmt = ctx.state.packet_format
    return [{
        "offset_min": s.offset_min,
        "weather": _name("weather", fmt, s.weather_id),
        "track_temp_c": s.track_temp_c,
        "track_temp_trend": _name("temperatureChange", fmt, s.track_trend_id),
        "air_temp_c": s.air_temp_c,
        "air_temp_trend": _name("temperatureChange", fmt, s.air_trend_id),
        "rain_pct": s.rain_pct,
    } for s in ctx.state.aids.forecast] or None  # fmt: skip


def rain_pct_next(ctx: Any) -> int | None:
    sample = next_sample(ctx.state.aids.forecast)
    return None if sample is None else sample.rain_pct


# ---------------------------------------------------------------------------------------------- race control


def race_control_message(message: RaceControlMessage) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "session_time": round(message.session_time, 3) if math.isfinite(message.session_time) else None,
        "code": message.code,
        "kind": message.kind,
        "text": message.text,
        "cars": [{"index": i, "name": name} for i, name in message.cars],
    }
