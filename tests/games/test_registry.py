"""The game registry: every game's signature claims its own datagrams and never another game's.

Real captures of each game and synthetic datagrams of every F1 format and every Forza variant go through every
pair of signatures; datagrams built to sit on the border (a Forza size with F1's header, an F1 size with
Forza's race flag) are claimed by neither.
"""

from __future__ import annotations

import itertools
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.games.f1.codec import build as f1_build
from bridge.games.f1.codec import build_event as f1_build_event
from bridge.games.f1.codec import encode as f1_encode
from bridge.games.f1.layouts import EVENT_PACKET_ID, LAYOUTS, SUPPORTED_FORMATS
from bridge.games.f1.synth import race as f1_race
from bridge.games.forza.layouts import SIZES as FORZA_SIZES
from bridge.games.forza.layouts import VARIANTS
from bridge.games.forza.synth import race as forza_race
from bridge.games.registry import BY_KEY, F1, FORZA, GAMES, identify

SYNTH_SECONDS = 12.0


def f1_synthetic(packet_format: int) -> Iterator[bytes]:
    """The first seconds of a synthetic race (every packet a race sends then), and one of every layout."""
    for t, datagrams in f1_race(packet_format, cars=20, laps=1).frames():
        if t > SYNTH_SECONDS:
            break
        yield from datagrams
    for packet_id in LAYOUTS.formats[packet_format]:
        if packet_id == EVENT_PACKET_ID:
            yield f1_encode(f1_build_event(packet_format, "SSTA"))
        else:
            yield f1_encode(f1_build(packet_format, packet_id))


def forza_synthetic(variant: str) -> Iterator[bytes]:
    frames = forza_race(variant, laps=1, rate_hz=10).frames()
    for _, datagrams in frames:
        yield from datagrams


def assert_only(game_key: str, datagrams: list[bytes]) -> None:
    assert datagrams
    for data in datagrams:
        claimed = [game.key for game in GAMES if game.matches(data)]
        assert claimed == [game_key], (len(data), data[:8].hex(), claimed)
        assert identify(data) is BY_KEY[game_key]
        assert BY_KEY[game_key].decode(data), (len(data), data[:8].hex())


def test_registry_table() -> None:
    assert [g.key for g in GAMES][:2] == ["f1", "forza"] and BY_KEY["forza"] is FORZA
    assert (F1.default_port, FORZA.default_port) == (20777, 5300)
    assert "Data Out" in FORZA.setup and "5300" in FORZA.setup
    assert FORZA.ha_model == "Forza telemetry bridge" and F1.ha_model == "F1 telemetry bridge"


def test_real_f1_captures_are_f1_only(parser_captures: Path) -> None:
    # The two files whose length is wrong (see the captures' README) are neither game's.
    wrong_length = {"2024-03-RDFL.bin", "2024-03-SCAR.bin"}
    good = [p.read_bytes() for p in sorted(parser_captures.glob("202[3-9]-*.bin")) if p.name not in wrong_length]
    assert len(good) > 40
    assert_only("f1", good)
    for p in sorted(parser_captures.glob("*.bin")):
        if p.name.startswith("2022-") or p.name in wrong_length:  # F1 22 (unsupported) and the damaged ones
            assert identify(p.read_bytes()) is None, p.name


def test_real_forza_capture_is_forza_only(captures: Path) -> None:
    raw = (captures / "forza" / "fm2023-dash-331.bin").read_bytes()
    assert_only("forza", [raw[i : i + 331] for i in range(0, len(raw), 331)])


@pytest.mark.parametrize("packet_format", SUPPORTED_FORMATS)
def test_synthetic_f1_of_every_format_is_f1_only(packet_format: int) -> None:
    assert_only("f1", list(f1_synthetic(packet_format)))


@pytest.mark.parametrize("variant", [v.key for v in VARIANTS])
def test_synthetic_forza_of_every_variant_is_forza_only(variant: str) -> None:
    datagrams = list(forza_synthetic(variant))
    assert {len(d) for d in datagrams} == {next(v.size for v in VARIANTS if v.key == variant)}
    assert {d[:4] for d in datagrams} == {b"\1\0\0\0", b"\0\0\0\0"}  # racing and, after the flag, menus
    assert_only("forza", datagrams)


def test_border_datagrams_are_nobodys() -> None:
    """Sizes can coincide with another game's expectations: the signature looks at more than the size."""
    f1_sizes = {size for by_id in LAYOUTS.formats.values() for size in (layout.size for layout in by_id.values())}
    assert not f1_sizes & set(FORZA_SIZES)
    for packet_format, size in itertools.product(SUPPORTED_FORMATS, FORZA_SIZES):
        # F1's header (a supported format, a packet id) at a Forza size.
        data = struct.pack("<HBBBBB", packet_format, packet_format % 100, 1, 0, 1, 6).ljust(size, b"\0")
        assert identify(data) is None and not F1.matches(data) and not FORZA.matches(data)
    for size in sorted(f1_sizes):
        for flag in (0, 1):  # Forza's race flag at an F1 size
            data = struct.pack("<i", flag).ljust(size, b"\0")
            assert identify(data) is None
    for size in FORZA_SIZES:
        assert identify(b"\2\0\0\0".ljust(size, b"\0")) is None  # a race flag Forza never sends
        assert identify(b"\1\0\0\0".ljust(size - 1, b"\0")) is None
        assert identify(b"\1\0\0\0".ljust(size + 1, b"\0")) is None


def test_decoders_never_raise_on_the_other_games_datagrams(captures: Path) -> None:
    forza = (captures / "forza" / "fm2023-dash-331.bin").read_bytes()[:331 * 20]
    f1 = list(f1_synthetic(2025))[:200]
    for data in [forza[i : i + 331] for i in range(0, len(forza), 331)]:
        assert not F1.decode(data) and F1.decode(data).reason
    for data in f1:
        result = FORZA.decode(data)
        assert not result and result.reason == "wrong_size"


def test_every_live_game_has_a_writer_a_value_table_and_counted_drop_reasons() -> None:
    import importlib

    from bridge.games.registry import LIVE
    from bridge.ingest.stats import DECODE_REASONS
    from bridge.state.values import GAMES as TABLES

    assert [game.key for game in LIVE] == ["f1", "forza", "codemasters", "outgauge", "gt7"]
    for game in LIVE:
        assert game.process is not None and game.tables is not None and game.tables.game == game.key
        assert game.tables.model == game.ha_model and game.tables in TABLES
        reasons = importlib.import_module(f"bridge.games.{game.key}.codec").REASONS
        assert set(reasons) <= set(DECODE_REASONS), game.key  # the metrics' reason labels stay bounded


def _imports(path: Path) -> list[str]:
    """Every module a file imports, TYPE_CHECKING blocks and function bodies included."""
    import ast

    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


# Who may not import whom: state, publish and ingest know no game; the outputs (publish) know neither the app
# that wires them nor ingest (shared network helpers live in bridge/net.py, drop reasons in bridge/drops.py).
FORBIDDEN = {
    "state": ("bridge.games", "bridge.app", "bridge.publish", "bridge.ingest"),
    "publish": ("bridge.games", "bridge.app", "bridge.ingest"),
    "ingest": ("bridge.games", "bridge.app", "bridge.publish"),
}


def test_state_publish_and_ingest_import_nothing_from_the_games() -> None:
    root = Path(__file__).resolve().parents[2] / "bridge"
    offenders = []
    for package, forbidden in FORBIDDEN.items():
        files = sorted((root / package).rglob("*.py"))
        assert files, package
        for path in files:
            offenders += [f"{path.relative_to(root)}: {n}" for n in _imports(path)
                          if n == "bridge.app" or n.startswith(tuple(f + "." for f in forbidden)) or n in forbidden]
    assert offenders == []


def test_the_import_rule_catches_an_import_of_the_app(tmp_path: Path) -> None:
    bad = tmp_path / "output.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bridge.app import Bridge\n")
    assert "bridge.app" in _imports(bad)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_nothing_forbidden_is_reached_through_another_module(package: str) -> None:
    """The rule holds for what importing the package loads, not only for its own import lines: a module it uses
    (the config loader, say) must not bring the games, the app or the outputs in behind its back."""
    root = Path(__file__).resolve().parents[2]
    modules = sorted(
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for path in (root / "bridge" / package).rglob("*.py")
    )
    forbidden = (*FORBIDDEN[package], "bridge.config")  # the loader reads every section: only the app uses it
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m.startswith({forbidden!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
