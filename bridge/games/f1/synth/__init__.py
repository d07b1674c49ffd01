"""A synthetic F1 race: real datagrams, encoded with the decoder's own layouts, for any supported format.

`SyntheticRace(SynthConfig(...))` plays a whole race session (grid, start lights, laps, one safety car phase,
one pit stop per car, overtakes, chequered flag, results; on request a 5 s time penalty and a retirement) and
yields the datagrams the game would send, in send order, each with its send time. The same seed gives the same
bytes.

The race: each car follows the track's speed profile scaled by its pace (team, driver, tyre compound and age,
fuel, a little noise per lap); within about half a second of the car ahead it loses time (dirty air), so
overtakes come from DRS, a much quicker car, the start or the pit stops. The safety car queues the field up
(gaps shrink); every car stops once in the middle third of the race (pitStatus 1 -> 2 -> 1 -> 0, new compound,
tyre age reset, a second stint). F1 26 cars (format 2026) have active aero and overtake mode
(CarTelemetry2) instead of DRS.

How it stays cheap enough for 60 Hz in real time:

* the track is modelled once per track id (cached): a closed loop of straights and arcs sampled every 2 m, with
  a speed profile (corner speeds from the radius, acceleration and braking limits) and everything the telemetry
  needs per sample precomputed (position, direction vectors, throttle, brake, steering, DRS zones...);
* each packet type has one template: the flat value list of `blank_values()`; per frame only the values that
  change are written, per car record by one slice assignment at a precomputed `layout.index(...)`, and the
  datagram is `layout.struct.pack(*values)`. Record field orders are checked against the layouts at start.

Timing follows the game (spec section 3): the menu-rate packets (Motion, LapData, CarTelemetry, CarStatus,
MotionEx, and CarTelemetry2 in format 2026) go out together on every frame with one `frameIdentifier`; Session
and CarSetups 2/s, Participants every 5 s, CarDamage 10/s, SessionHistory and TyreSets 20/s (one car per
packet, cycling), LapPositions 1/s (2025+; two packets from 51 laps). CarTelemetry2 (2026) is sent with the
menu-rate burst (its real rate is not documented). The first frame carries every initialising packet. After
the last car takes the flag: FinalClassification (once; the game repeats it on the results screen), a
SessionHistory burst for every car, then SEND (sent, as the game does, with `frameIdentifier` 0).

The modules: `config` (SynthConfig, Datagram, one run's fixed facts), `car` (the car model, tyre compounds, a
car's state), `track` (the track model), `grids` (entry lists, colours, the field built from them), `race`
(physics, timing, the running order and the flag), `control` (race control), `templates` (packet templates and
the current frame), one module per packet kind (`menu`, `session`, `participants`, `wear`, `history`,
`results`), and `run` (the frame loop and `SyntheticRace`).
"""

from __future__ import annotations

from bridge.games.f1.synth.config import RATES, Datagram, SynthConfig
from bridge.games.f1.synth.run import PERIODIC, SyntheticRace, lap_positions_datagrams, race
from bridge.games.f1.synth.run import _Run as _Run
from bridge.games.f1.synth.track import TrackModel, track_model

__all__ = [
    "PERIODIC",
    "RATES",
    "Datagram",
    "SynthConfig",
    "SyntheticRace",
    "TrackModel",
    "lap_positions_datagrams",
    "race",
    "track_model",
]
