"""Participants and CarSetups: written once when the run starts, sent unchanged."""

from __future__ import annotations

from typing import Any

from bridge.games.f1 import enums
from bridge.games.f1.synth.car import Car
from bridge.games.f1.synth.config import Params
from bridge.games.f1.synth.fields import CAR_SETUPS, PARTICIPANTS, record_names
from bridge.games.f1.synth.grids import team_colours
from bridge.games.f1.synth.templates import Templates


def write_participants(p: Params, templates: Templates, cars: list[Car]) -> None:
    """Participants: who drives which car (sent as written, every 5 s)."""
    fmt = p.fmt
    lay = p.layouts[PARTICIPANTS]
    v = templates.tpl[PARTICIPANTS]
    ix = lay.index
    v[ix("numActiveCars")] = p.n
    rec = lay.record["participants"].record
    assert rec is not None
    width = rec["name"].count
    teams = enums.table("teamId", fmt)
    for c in cars:
        human = c.idx == p.player
        name = c.name.encode("utf-8")[:width]
        fields: dict[str, Any] = {
            "aiControlled": 0 if human else 1,
            "driverId": c.driver_id,
            "networkId": 255,
            "teamId": c.team_id,
            "myTeam": 1 if c.team_id == 104 else 0,
            "raceNumber": c.number,
            "nationality": c.nationality,
            "name": name,
            "yourTelemetry": 1,
            "showOnlineNames": 1 if human else 0,
            "platform": 1 if human else 255,
        }
        if fmt >= 2025:
            fields["numColours"] = 2
        for key, value in fields.items():
            v[ix("participants", c.idx, key)] = value
        if fmt >= 2025:
            for k, rgb in enumerate(team_colours(teams[c.team_id])):
                for comp, val in zip(("red", "green", "blue"), rgb):
                    v[ix("participants", c.idx, "liveryColours", k, comp)] = val
    unused_team = 65535 if fmt == 2026 else 255
    for slot in range(p.n, p.slots):
        v[ix("participants", slot, "teamId")] = unused_team

def write_setups(p: Params, templates: Templates, cars: list[Car]) -> None:
    """CarSetups: one setup per team and track, with the fuel each car starts with."""
    lay = p.layouts[CAR_SETUPS]
    v = templates.tpl[CAR_SETUPS]
    rec = lay.record["carSetupData"].record
    assert rec is not None
    names = record_names(rec)
    if p.player == 255:
        return  # spectators see no setups
    for c in cars:
        setup = list(c.setup)
        if "engineBraking" not in names:
            del setup[16]
        setup.append(c.fuel_start)
        assert len(setup) == len(names), (len(setup), names)
        b = templates.base[CAR_SETUPS][c.idx]
        v[b : b + len(setup)] = setup
    if p.fmt >= 2024:
        v[lay.index("nextFrontWingValue")] = float(cars[p.player].setup[0])
