"""GT7, Codemasters and OutGauge in the registry: each signature claims its own datagrams and no other game's.

Every pair of games is tried with real captures (F1, Forza, GT7 decrypted and encrypted, DiRT Rally) and
synthetic datagrams of every variant (F1 formats, Forza variants, GT7 296/316/344/368 encrypted with each
heartbeat's key and in clear, extradata 3, OutGauge 92/96 from Live for Speed and BeamNG.drive).
"""

from __future__ import annotations

import gzip
import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.games.codemasters.synth import StageConfig, SyntheticStage
from bridge.games.f1.layouts import SUPPORTED_FORMATS
from bridge.games.forza.layouts import VARIANTS as FORZA_VARIANTS
from bridge.games.gt7 import crypto
from bridge.games.gt7.layouts import BY_SIZE as GT7_BY_SIZE
from bridge.games.gt7.layouts import VARIANTS as GT7_VARIANTS
from bridge.games.gt7.synth import Gt7SynthConfig, SyntheticGt7
from bridge.games.outgauge.synth import GaugeConfig, SyntheticGauge
from bridge.games.registry import BY_KEY, CODEMASTERS, GAMES, GT7, OUTGAUGE, identify
from tests.games.test_registry import assert_only, f1_synthetic, forza_synthetic

SAMPLE = 400  # datagrams per synthetic source: enough for every phase, quick to run


def first(datagrams, n: int = SAMPLE) -> list[bytes]:
    return [d for _, d in itertools.islice(datagrams, n)]


def gt7_synthetic(size: int, encrypted: bool) -> list[bytes]:
    variant = GT7_BY_SIZE[size]
    race = SyntheticGt7(Gt7SynthConfig(heartbeat=variant.heartbeat, variant=variant, laps=1))
    return first(race.packets() if encrypted else race.plain_packets())


def test_the_new_games_are_registered() -> None:
    assert {"gt7", "codemasters", "outgauge"} <= set(BY_KEY)
    assert (GT7.default_port, CODEMASTERS.default_port, OUTGAUGE.default_port) == (33740, 20777, 4444)
    assert "33739" in GT7.setup and 'extradata="3"' in CODEMASTERS.setup
    assert "BeamNG" in OUTGAUGE.setup and "Live for Speed" in OUTGAUGE.setup
    assert len({g.ha_model for g in GAMES}) == len(GAMES)


@pytest.mark.parametrize("size", sorted(GT7_BY_SIZE))
@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "clear"])
def test_synthetic_gt7_of_every_variant_is_gt7_only(size: int, encrypted: bool) -> None:
    datagrams = gt7_synthetic(size, encrypted)
    assert {len(d) for d in datagrams} == {size}
    assert_only("gt7", datagrams)


def test_real_gt7_packets_are_gt7_only(captures: Path) -> None:
    folder = captures / "gt7"
    if not folder.is_dir():
        pytest.skip(f"no GT7 captures in {captures}")
    data = gzip.decompress((folder / "replay-368-decrypted.gz").read_bytes())
    plain = [data[i : i + 368] for i in range(0, len(data), 368 * 7)]  # every 7th packet
    rng = random.Random(3)
    sent = [crypto.encrypt(p, rng.getrandbits(32), hb) for p, hb in zip(plain, itertools.cycle(crypto.SEEDS))]
    assert_only("gt7", plain + sent + [(folder / "encrypted-296.bin").read_bytes()])


def test_real_dirt_rally_datagrams_are_codemasters_only(captures: Path) -> None:
    path = captures / "dirt" / "dirt-rally-ps4-264.bin"
    if not path.is_file():
        pytest.skip(f"no DiRT capture in {captures}")
    raw = path.read_bytes()
    datagrams = [raw[i : i + 264] for i in range(0, len(raw), 264)]
    assert_only("codemasters", datagrams)
    for data in datagrams[::50]:  # one byte more or less is nobody's
        assert identify(data[:-1]) is None and identify(data + b"\0") is None


def test_synthetic_stage_is_codemasters_only() -> None:
    assert_only("codemasters", first(SyntheticStage(StageConfig(length_m=1500)).datagrams(), 100_000))


@pytest.mark.parametrize("config", [GaugeConfig(), GaugeConfig(with_id=True), GaugeConfig(source="beamng"),
                                    GaugeConfig(source="beamng", with_id=True)], ids=["lfs", "lfs-id", "beamng",
                                                                                      "beamng-id"])  # fmt: skip
def test_synthetic_outgauge_is_outgauge_only(config: GaugeConfig) -> None:
    datagrams = first(SyntheticGauge(config).datagrams(), 2000)
    assert {len(d) for d in datagrams} == {96 if config.with_id else 92}
    assert_only("outgauge", datagrams)


def test_other_games_are_not_claimed_by_the_new_ones(captures: Path, parser_captures: Path) -> None:
    new = (GT7, CODEMASTERS, OUTGAUGE)
    others = [p.read_bytes() for p in sorted(parser_captures.glob("*.bin"))]
    forza = (captures / "forza" / "fm2023-dash-331.bin").read_bytes()
    others += [forza[i : i + 331] for i in range(0, 331 * 200, 331)]
    for packet_format in SUPPORTED_FORMATS:
        others += list(itertools.islice(f1_synthetic(packet_format), SAMPLE))
    for variant in FORZA_VARIANTS:
        others += list(itertools.islice(forza_synthetic(variant.key), 50))
    for data in others:
        assert not any(game.matches(data) for game in new), (len(data), data[:8].hex())
        for game in new:
            result = game.decode(data)
            assert not result and result.reason, (game.key, len(data))


def test_new_games_never_claim_each_others_sizes_nor_garbage() -> None:
    """Random bytes at every size the new games use: GT7 never (no magic under any key), and neither of the
    others when a value is impossible (NaN, a pedal at 7, a gear of 200)."""
    rng = random.Random(11)
    sizes = [*GT7_BY_SIZE, 264, 92, 96]
    for size in sizes:
        for _ in range(200):
            data = rng.randbytes(size)
            assert not GT7.matches(data)
            assert sum(game.matches(data) for game in GAMES) <= 1
    nan = b"\x00\x00\xc0\x7f"
    assert not CODEMASTERS.matches(nan * 66) and CODEMASTERS.decode(nan * 66).reason == "implausible"
    assert not OUTGAUGE.matches(nan * 23) and OUTGAUGE.decode(nan * 23).reason == "implausible"
    assert {v.size for v in GT7_VARIANTS}.isdisjoint({264, 92, 96})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.sampled_from([92, 96, 264, 296, 316, 344, 368]).flatmap(
    lambda n: st.binary(min_size=n, max_size=n))))  # fmt: skip
def test_signature_and_decoder_agree_and_never_raise(data: bytes) -> None:
    """What a signature claims its decoder decodes, and the decoder never raises, whatever the bytes."""
    for game in (GT7, CODEMASTERS, OUTGAUGE):
        for view in (data, memoryview(data), bytearray(data)):
            result = game.decode(view)
            assert bool(result) == game.matches(view)
            if not result:
                assert result.reason and result.to_dict()["game"] == game.key
