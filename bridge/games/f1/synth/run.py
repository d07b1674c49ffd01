"""One play-through of a synthetic race: the frame loop, and what the game sends when (spec section 3)."""

from __future__ import annotations

from collections.abc import Iterator
from random import Random
from typing import Any

from bridge.games.f1.synth.config import Datagram, Params, SynthConfig
from bridge.games.f1.synth.fields import (
    CAR_DAMAGE,
    CAR_SETUPS,
    LAP_POSITIONS,
    PARTICIPANTS,
    SESSION,
    SESSION_HISTORY,
    TYRE_SETS,
)
from bridge.games.f1.synth.menu import MenuBurst
from bridge.games.f1.synth.participants import write_participants, write_setups
from bridge.games.f1.synth.race import Race
from bridge.games.f1.synth.results import final_classification, lap_positions
from bridge.games.f1.synth.session import SessionPacket
from bridge.games.f1.synth.templates import Templates
from bridge.games.f1.synth.track import track_model
from bridge.games.f1.synth.wear import WearPackets
from bridge.games.f1.tracks import tracks_for

# Packets not tied to the menu rate: (id, packets per 10 s, phase). Phase 1.0 = sent on the very first frame.
PERIODIC = (
    (SESSION, 20, 1.0),
    (PARTICIPANTS, 2, 1.0),
    (CAR_SETUPS, 20, 1.0),
    (CAR_DAMAGE, 100, 1.0),
    (SESSION_HISTORY, 200, 0.5),
    (TYRE_SETS, 200, 0.25),
    (LAP_POSITIONS, 10, 0.5),
)

DEFAULT_CONFIG = SynthConfig()


class SyntheticRace:
    """A whole race session as datagrams. Iterate (or call `frames()`) as often as you like: same bytes."""

    def __init__(self, config: SynthConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        fmt = config.packet_format
        rng = Random(config.seed * 1_000_003 + fmt)
        if config.track_id is None:
            choices = tracks_for(fmt, full_only=True)
            self.track_id = choices[rng.randrange(len(choices))].track_id
        else:
            self.track_id = config.track_id
        self.track = track_model(self.track_id)
        uid = config.session_uid if config.session_uid is not None else (rng.getrandbits(64) | 1)
        self.session_uid = uid
        self.rng_seed = rng.getrandbits(63)
        # Start procedure and race control times (seconds).
        self.t_first_light = 3.0
        self.t_lights_out = self.t_first_light + 4.0 + rng.uniform(0.3, 2.5)
        est_lap = self.track.lap_time_s / 0.985
        self.est_lap_s = est_lap
        sc_loss = 0.45 * est_lap if (config.safety_car and config.laps >= 2) else 0.0
        pit_loss = 22.0 if (config.pit_stops and config.laps >= 2) else 0.0
        race_s = config.laps * est_lap * 1.01
        spread = min(est_lap, 0.04 * race_s)  # the last car takes the flag after the winner
        self._duration = self.t_lights_out + race_s + sc_loss + pit_loss + spread + 3.0

    @property
    def duration_s(self) -> float:
        """Approximate length of the session, s (from the first datagram to SEND)."""
        return self._duration

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        """The session grouped per game frame: (send time, datagrams of that frame), in send order."""
        return _Run(self).frames()

    def __iter__(self) -> Iterator[Datagram]:
        for t, datagrams in self.frames():
            for data in datagrams:
                yield Datagram(t, data)


def race(fmt: int = 2025, cars: int = 22, seed: int = 1, **kw: Any) -> SyntheticRace:
    """`race(2024, cars=20, laps=3, rate_hz=20)`: a SyntheticRace with these settings."""
    return SyntheticRace(SynthConfig(packet_format=fmt, cars=cars, seed=seed, **kw))


class _Run:
    """One play-through: all mutable state lives here, so a SyntheticRace can be iterated again."""

    def __init__(self, race_: SyntheticRace) -> None:
        rng = Random(race_.rng_seed)
        # The run's random stream is drawn in a fixed order: noise, race control, the cars, the session.
        starts = (race_.t_first_light, race_.t_lights_out, race_.est_lap_s)
        self.p = p = Params(race_.config, race_.track, race_.session_uid, starts, rng)
        self.templates = Templates(p)
        self.race = Race(p, rng, self.templates)
        self.session = SessionPacket(p, self.templates, self.race, rng)
        write_participants(p, self.templates, self.race.cars)
        write_setups(p, self.templates, self.race.cars)
        self.wear = WearPackets(p, self.templates, self.race.cars)
        self.menu = MenuBurst(p, self.templates, self.race)

    def frames(self) -> Iterator[tuple[float, list[bytes]]]:
        p, clock, race, n = self.p, self.templates, self.race, self.p.n
        events, cars, tpl = race.events, race.cars, self.templates.tpl
        due = {pid: 0 for pid, _, _ in PERIODIC}
        hist_cursor = 0
        ts_cursor = 0
        rate10 = p.rate * 10
        events.append(("SSTA", ()))
        lights = 0
        while True:
            f = clock.frame
            t = clock.t = f * p.dt
            # Start lights.
            while lights < 5 and t >= p.t_first_light + lights:
                lights += 1
                events.append(("STLG", (lights,)))
            if lights == 5 and t >= p.t_lights_out:
                events.append(("LGOT", ()))
                lights = 6
            if t > p.t_lights_out:
                race.physics(t)
            race.race_control(t)
            if race.leader_done and race.t_results is None and t > race.t_leader_finish + 2 * p.est_lap_s + 30:
                race.t_results = t  # (a safety net: every car normally takes the flag well before this)
            out: list[bytes] = [clock.event(code, details) for code, details in events]
            events.clear()
            if race.t_results is not None and t >= race.t_results:
                yield t, [*out, final_classification(p, clock, race)]
                clock.next_frame()
                yield clock.t, [race.history.packet(c) for c in cars]
                clock.next_frame()
                yield clock.t, [clock.event("SEND", (), frame_zero=True)]
                return
            out.extend(self.menu.packets(t))
            for pid, per10, phase in PERIODIC:
                if pid not in tpl:
                    continue
                target = (f * per10 + int(phase * rate10)) // rate10
                while due[pid] < target:
                    due[pid] += 1
                    if pid == SESSION:
                        out.append(self.session.packet())
                    elif pid in (PARTICIPANTS, CAR_SETUPS):  # written once at the start
                        out.append(clock.pack(pid))
                    elif pid == CAR_DAMAGE:
                        out.append(self.wear.damage())
                    elif pid == SESSION_HISTORY:
                        out.append(race.history.packet(cars[hist_cursor % n]))
                        hist_cursor += 1
                    elif pid == TYRE_SETS:
                        out.append(self.wear.tyre_sets(cars[ts_cursor % n]))
                        ts_cursor += 1
                    elif pid == LAP_POSITIONS:
                        out.extend(lap_positions(p, clock, [c.lap_positions for c in cars]))
            yield t, out
            clock.frame += 1


def lap_positions_datagrams(run: _Run, rows_per_car: list[list[int]]) -> list[bytes]:
    """LapPositions for these rows (a row per car: its position at the start of each lap)."""
    return lap_positions(run.p, run.templates, rows_per_car)
