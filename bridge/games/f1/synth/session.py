"""The Session packet: weather and forecast, the track's zones, the rules; per send, the flags and the clock."""

from __future__ import annotations

from random import Random
from typing import Any

from bridge.games.f1.synth.config import Params
from bridge.games.f1.synth.fields import SESSION
from bridge.games.f1.synth.grids import race_session_type
from bridge.games.f1.synth.race import Race
from bridge.games.f1.synth.templates import Templates


class SessionPacket:
    """Written once from the run's random stream (after the cars), then updated with race control per send."""

    def __init__(self, p: Params, templates: Templates, race: Race, rng: Random) -> None:
        self.p, self.templates, self.control = p, templates, race.control
        cfg, fmt, tm = p.cfg, p.fmt, p.tm
        lay = p.layouts[SESSION]
        v = templates.tpl[SESSION]
        ix = lay.index
        weather = rng.choice((0, 0, 0, 1, 1, 2))
        track_temp = rng.randint(26, 44)
        air_temp = track_temp - rng.randint(6, 14)
        race_type = race_session_type(fmt)
        vals: dict[str, Any] = {
            "weather": weather,
            "trackTemperature": track_temp,
            "airTemperature": air_temp,
            "totalLaps": cfg.laps,
            "trackLength": int(tm.length),
            "sessionType": race_type,
            "trackId": tm.info.track_id,
            "formula": 13 if fmt == 2026 else 0,
            "sessionTimeLeft": 7200,
            "sessionDuration": 7200,
            "pitSpeedLimit": tm.info.pit_speed_kph,
            "isSpectating": 1 if p.player == 255 else 0,
            "spectatorCarIndex": p.focus if p.player == 255 else 0,
            "numMarshalZones": len(tm.marshal_zones),
            "forecastAccuracy": 0,
            "aiDifficulty": 90,
            "gearboxAssist": 1,
            "gameMode": 4,
            "ruleSet": 1,
            "timeOfDay": rng.choice((840, 900, 960, 1020, 1140)),
            "sessionLength": 2 if cfg.laps <= 5 else 3 if cfg.laps <= 15 else 4 if cfg.laps <= 30 else 7,
            "speedUnitsLeadPlayer": 1,
            "speedUnitsSecondaryPlayer": 1,
        }
        link = rng.getrandbits(32)
        vals.update(seasonLinkIdentifier=link, weekendLinkIdentifier=link ^ 0x5A5A, sessionLinkIdentifier=link ^ 0x0F0F)
        if p.player != 255 and race.cars[p.player].pit_lap:
            player = race.cars[p.player]
            vals.update(
                pitStopWindowIdealLap=max(1, player.pit_lap),
                pitStopWindowLatestLap=min(cfg.laps, max(1, player.pit_lap) + 2),
                pitStopRejoinPosition=min(p.n, player.grid + 4),
            )
        if fmt >= 2024:
            vals.update(
                recoveryMode=1, flashbackLimit=3, surfaceType=1, tyreTemperature=1, carDamage=2, carDamageRate=1,
                collisions=2, cornerCuttingStringency=1, parcFermeRules=1, pitStopExperience=1, safetyCar=2,
                redFlags=2, numSessionsInWeekend=7, sector2LapDistanceStart=tm.info.sector2_start_m,
                sector3LapDistanceStart=tm.info.sector3_start_m,
            )  # fmt: skip
            for k, st in enumerate((1, 2, 3, 5, 6, 7, race_type)):
                v[ix("weekendStructure") + k] = st
        if fmt == 2026:
            full = tm.aero_zones[:8]
            partial = sorted(full, key=lambda z: -((z[1] - z[0]) % tm.length))[:3]
            vals.update(numActiveAeroZonesFull=len(full), numActiveAeroZonesPartial=len(partial))
            vals.update(numDRSZones=len(tm.drs_zones))
            for arr, zones in (("activeAeroZonesFull", full), ("activeAeroZonesPartial", partial)):
                for k, (a, b) in enumerate(zones):
                    v[ix(arr, k, "zoneStart")] = a / tm.length
                    v[ix(arr, k, "zoneEnd")] = b / tm.length
            for k, (a, b) in enumerate(tm.drs_zones[:4]):
                v[ix("drsZones", k, "zoneStart")] = a / tm.length
                v[ix("drsZones", k, "zoneEnd")] = b / tm.length
        for name, value in vals.items():
            v[ix(name)] = value
        for k, start in enumerate(tm.marshal_zones):
            v[ix("marshalZones", k, "zoneStart")] = start
        self.i_zone_flags = [ix("marshalZones", k, "zoneFlag") for k in range(len(tm.marshal_zones))]
        # Forecast for the race: now, +5, +10, +15, +30 min.
        offsets = (0, 5, 10, 15, 30)
        v[ix("numWeatherForecastSamples")] = len(offsets)
        tt, at = track_temp, air_temp
        for k, off in enumerate(offsets):
            dtt = rng.choice((-1, 0, 0, 1))
            v[ix("weatherForecastSamples", k, "sessionType")] = race_type
            v[ix("weatherForecastSamples", k, "timeOffset")] = off
            v[ix("weatherForecastSamples", k, "weather")] = weather
            v[ix("weatherForecastSamples", k, "trackTemperature")] = tt + dtt * k
            v[ix("weatherForecastSamples", k, "trackTemperatureChange")] = 0 if dtt > 0 else 1 if dtt < 0 else 2
            v[ix("weatherForecastSamples", k, "airTemperature")] = at
            v[ix("weatherForecastSamples", k, "airTemperatureChange")] = 2
            v[ix("weatherForecastSamples", k, "rainPercentage")] = rng.randint(0, 6) if weather < 2 else 15
        self.i_time_left = ix("sessionTimeLeft")
        self.i_sc_status = ix("safetyCarStatus")
        self.i_sc_periods = ix("numSafetyCarPeriods")
        self.i_reaction = ix("startReactionTime") if fmt == 2026 else -1

    def packet(self) -> bytes:
        p, control, t = self.p, self.control, self.templates.t
        v = self.templates.tpl[SESSION]
        v[self.i_time_left] = max(0, 7200 - int(t))
        v[self.i_sc_status] = control.sc_status
        v[self.i_sc_periods] = control.sc_periods
        zone_flag = 3 if control.safety_car_out else (1 if t < control.green_until else 0)
        for i in self.i_zone_flags:
            v[i] = zone_flag
        if self.i_reaction >= 0 and p.player != 255 and t > p.t_lights_out + control.reaction:
            v[self.i_reaction] = control.reaction
        return self.templates.pack(SESSION)
