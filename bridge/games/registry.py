"""The games rigbridge understands: one line per game, the way rtl_433 lists its decoders.

A game is a folder under `bridge/games/` that provides a signature test (is this datagram mine?), a decoder
with typed drop reasons, and its metadata. `identify()` asks each game in turn; signatures never overlap
(tests/games/test_registry.py checks every pair with real and synthetic datagrams), so the order is only a
matter of speed: the most common game first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.games.codemasters import codec as codemasters_codec
from bridge.games.codemasters import synth as codemasters_synth
from bridge.games.codemasters import synth_cli as codemasters_synth_cli
from bridge.games.codemasters import writer as codemasters_writer
from bridge.games.codemasters.values import CODEMASTERS_VALUES
from bridge.games.f1 import codec as f1_codec
from bridge.games.f1 import synth as f1_synth
from bridge.games.f1 import synth_cli as f1_synth_cli
from bridge.games.f1 import writer as f1_writer
from bridge.games.f1.layouts import HEADER_SIZE as F1_HEADER_SIZE
from bridge.games.f1.layouts import LAYOUTS as F1_LAYOUTS
from bridge.games.f1.values import F1_VALUES
from bridge.games.forza import codec as forza_codec
from bridge.games.forza import synth as forza_synth
from bridge.games.forza import synth_cli as forza_synth_cli
from bridge.games.forza import writer as forza_writer
from bridge.games.forza.values import FORZA_VALUES
from bridge.games.gt7 import codec as gt7_codec
from bridge.games.gt7 import synth as gt7_synth
from bridge.games.gt7 import synth_cli as gt7_synth_cli
from bridge.games.gt7 import writer as gt7_writer
from bridge.games.gt7.values import GT7_VALUES
from bridge.games.outgauge import codec as outgauge_codec
from bridge.games.outgauge import synth as outgauge_synth
from bridge.games.outgauge import synth_cli as outgauge_synth_cli
from bridge.games.outgauge import writer as outgauge_writer
from bridge.games.outgauge.values import OUTGAUGE_VALUES
from bridge.games.synth_plan import SynthOptions, SynthPlan
from bridge.state.changes import Changes
from bridge.state.session import SessionState
from bridge.state.values import ValueTable

Datagram = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Game:
    key: str  # the future `udp.game` value
    name: str  # for people
    ha_model: str  # Home Assistant device model
    default_port: int  # where the game sends by default
    setup: str  # the in-game set-up, one paragraph
    matches: Callable[[Datagram], bool]  # cheap signature test
    # Truthy result with .to_dict(), or falsy with .reason; never raises. The record is the game's own type.
    decode: Callable[[Datagram], Any]
    # The game's writer for the live pipeline: folds one decoded record (what `decode` returned) into the session
    # state and returns what it changed. None: decode and synth only (not yet in `rigbridge run`).
    process: Callable[[SessionState, Any], Changes] | None = None
    tables: ValueTable | None = None  # what the writer registers into the state (with `process`)
    # `rigbridge demo --game <key>`: (the race generator, its config) for a seed; None: no demo
    synth: Callable[[int], tuple[Callable[[Any], Any], Any]] | None = None
    # `rigbridge synth --game <key>`: the command's options mapped to the generator (bridge/games/sender.py)
    synth_plan: Callable[[SynthOptions], SynthPlan] | None = None


# Every size each F1 format allows, computed once from the layouts.
_F1_SIZES: dict[int, frozenset[int]] = {
    packet_format: frozenset(layout.size for layout in by_id.values())
    for packet_format, by_id in F1_LAYOUTS.formats.items()
}


def f1_matches(data: Datagram) -> bool:
    """A supported `packetFormat` in the header and a size that format's layouts allow."""
    if len(data) < F1_HEADER_SIZE:
        return False
    sizes = _F1_SIZES.get(data[0] | data[1] << 8)
    return sizes is not None and len(data) in sizes


F1 = Game(
    key="f1",
    name="EA Sports F1 (F1 23, F1 24, F1 25 and the 2026 format)",
    ha_model="F1 telemetry bridge",
    default_port=20777,
    setup=(
        "In the game: Settings -> Telemetry Settings: UDP Telemetry On, UDP Broadcast Mode Off, UDP IP Address "
        "the address of the machine running rigbridge, UDP Port 20777, UDP Send Rate 60 Hz, UDP Format the "
        "game's year (2023, 2024 or 2025)."
    ),
    matches=f1_matches,
    decode=f1_codec.decode,
    process=f1_writer.process_packet,
    tables=F1_VALUES,
    synth=lambda seed: (f1_synth.SyntheticRace, f1_synth.SynthConfig(cars=22, seed=seed)),
    synth_plan=f1_synth_cli.plan,
)

FORZA = Game(
    key="forza",
    name="Forza (Motorsport 7, Motorsport 2023, Horizon 4/5)",
    ha_model="Forza telemetry bridge",
    default_port=5300,
    setup=(
        "In the game: Settings -> HUD and Gameplay -> Data Out: Data Out On, Data Out IP Address the address "
        "of the machine running rigbridge, Data Out IP Port 5300 (Horizon's default), Data Out Packet Format "
        "Dash (Motorsport; Horizon always sends its own Dash format). Before Forza Motorsport (2023) the games "
        "cannot send to 127.0.0.1: run rigbridge on another machine."
    ),
    matches=forza_codec.matches,
    decode=forza_codec.decode,
    process=forza_writer.process_telemetry,
    tables=FORZA_VALUES,
    synth=lambda seed: (forza_synth.ForzaRace, forza_synth.SynthConfig(seed=seed)),
    synth_plan=forza_synth_cli.plan,
)

GT7 = Game(
    key="gt7",
    name="Gran Turismo 7 (PlayStation 4 and 5)",
    ha_model="Gran Turismo 7 telemetry bridge",
    default_port=33740,
    setup=(
        "Nothing to set in the game: GT7 streams to whoever sends the PlayStation a heartbeat. Give rigbridge the "
        "console's IP address as games.gt7.console (on the PlayStation: Settings -> Network -> Connection "
        "Status); rigbridge sends the heartbeat to its UDP port 33739 and receives the encrypted packets on port "
        "33740, so both ports must be reachable between the two machines (same network, no client isolation). "
        "Packets flow on track and in replays, not in the menus."
    ),
    matches=gt7_codec.matches,
    decode=gt7_codec.decode,
    process=gt7_writer.process_packet,
    tables=GT7_VALUES,
    synth=lambda seed: (gt7_synth.SyntheticGt7, gt7_synth.Gt7SynthConfig(seed=seed)),
    synth_plan=gt7_synth_cli.plan,
)

CODEMASTERS = Game(
    key="codemasters",
    name="Codemasters rally (DiRT Rally, DiRT Rally 2.0, DiRT 4, WRC Generations): extradata 3",
    ha_model="Codemasters rally telemetry bridge",
    # The games' documented default, which is F1's port too: rigbridge tells the two apart by their datagrams,
    # but one bridge listening on 20777 receives whichever game is running.
    default_port=20777,
    setup=(
        "In Documents/My Games/<game>/hardwaresettings/hardware_settings_config.xml, set the udp line to "
        "<udp enabled=\"true\" extradata=\"3\" ip=\"ADDRESS\" port=\"20777\" delay=\"1\" />, where ADDRESS is "
        "the machine running rigbridge (delay 1 sends every frame); restart the game. Port 20777 is F1's too: "
        "choose another port here and in rigbridge when both games run on the same network."
    ),
    matches=codemasters_codec.matches,
    decode=codemasters_codec.decode,
    process=codemasters_writer.process_telemetry,
    tables=CODEMASTERS_VALUES,
    synth=lambda seed: (codemasters_synth.SyntheticStage, codemasters_synth.StageConfig(seed=seed)),
    synth_plan=codemasters_synth_cli.plan,
)

OUTGAUGE = Game(
    key="outgauge",
    name="OutGauge (BeamNG.drive, Live for Speed)",
    ha_model="OutGauge telemetry bridge",
    default_port=4444,
    setup=(
        "BeamNG.drive: Options -> Other -> Protocols -> OutGauge UDP protocol: enable it, IP the address of the "
        "machine running rigbridge, port 4444. Live for Speed: in cfg.txt set OutGauge Mode 1, OutGauge Delay 1, "
        "OutGauge IP the address of the machine running rigbridge, OutGauge Port 4444 (OutGauge ID optional)."
    ),
    matches=outgauge_codec.matches,
    decode=outgauge_codec.decode,
    process=outgauge_writer.process_gauge,
    tables=OUTGAUGE_VALUES,
    synth=lambda seed: (outgauge_synth.SyntheticGauge, outgauge_synth.GaugeConfig(seed=seed)),
    synth_plan=outgauge_synth_cli.plan,
)

GAMES: tuple[Game, ...] = (F1, FORZA, CODEMASTERS, OUTGAUGE, GT7)
BY_KEY: dict[str, Game] = {game.key: game for game in GAMES}
LIVE: tuple[Game, ...] = tuple(game for game in GAMES if game.process is not None)  # the games `run` can follow


def identify(data: Datagram) -> Game | None:
    """The game whose signature this datagram matches, or None."""
    for game in GAMES:
        if game.matches(data):
            return game
    return None


def identify_live(data: Datagram) -> Game | None:
    """The game the live pipeline can follow whose signature this datagram matches, or None."""
    for game in LIVE:
        if game.matches(data):
            return game
    return None
