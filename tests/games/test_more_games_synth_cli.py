"""The synth commands of GT7, Codemasters and OutGauge: real UDP to a socket of the test, every datagram decoded."""

from __future__ import annotations

import io
import socket

import pytest

from bridge.games.registry import BY_KEY, identify
from bridge.games.sender import synth_command
from bridge.games.synth_plan import SynthOptions


def received(game: str, **options: object) -> tuple[int, list[bytes], str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    err = io.StringIO()
    plan = BY_KEY[game].synth_plan
    assert plan is not None
    code = synth_command(plan, SynthOptions(rate=60, seed=3, laps=1, **options),  # type: ignore[arg-type]
                         to=f"127.0.0.1:{sock.getsockname()[1]}", duration=0.5, speed=10.0, err=err)
    sock.setblocking(False)
    datagrams = []
    while True:
        try:
            datagrams.append(sock.recv(2048))
        except BlockingIOError:
            break
    sock.close()
    return code, datagrams, err.getvalue()


@pytest.mark.parametrize(
    "game, options, sizes",
    [
        ("gt7", {"variant": None}, {344}),
        ("gt7", {"variant": "296"}, {296}),
        ("gt7", {"variant": "368"}, {368}),
        ("codemasters", {}, {264}),
        ("outgauge", {"variant": "beamng-id"}, {96}),
        ("outgauge", {"variant": None}, {92}),
        ("forza", {"variant": "sled", "cars": 4}, {232}),
        ("f1", {"packet_format": 2023, "cars": 4}, None),
    ],
)
def test_synth_sends_the_games_datagrams(game: str, options: dict[str, object], sizes: set[int] | None) -> None:
    code, datagrams, err = received(game, **options)
    assert code == 0, err
    assert len(datagrams) > 50  # 5 s of game time at 60 Hz, minus what a loaded machine delays
    assert sizes is None or {len(d) for d in datagrams} == sizes
    for data in datagrams:
        found = identify(data)
        assert found is not None and found.key == game and found.decode(data)


@pytest.mark.parametrize("game, variant", [("gt7", "300"), ("outgauge", "rfactor"), ("forza", "344")])
def test_a_bad_variant_is_named_in_one_line(game: str, variant: str) -> None:
    code, datagrams, err = received(game, variant=variant)
    assert code == 2 and not datagrams
    assert err.count("\n") == 1 and f"--variant {variant!r}" in err


@pytest.mark.parametrize("game, option", [("f1", "variant"), ("forza", "packet_format"), ("gt7", "cars"),
                                          ("codemasters", "variant"), ("outgauge", "packet_format")])
def test_an_option_the_game_does_not_take_is_named_in_one_line(game: str, option: str) -> None:
    code, datagrams, err = received(game, **{option: "2025" if option == "variant" else 4})
    flag = "--format" if option == "packet_format" else f"--{option}"
    assert code == 2 and not datagrams
    assert err == f"rigbridge synth: {flag} is not an option of --game {game}\n"
