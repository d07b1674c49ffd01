"""The synth commands of GT7, Codemasters and OutGauge: real UDP to a socket of the test, every datagram decoded."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable

import pytest

from bridge.games.codemasters.synth_cli import synth_main as codemasters_synth
from bridge.games.gt7.synth_cli import synth_main as gt7_synth
from bridge.games.outgauge.synth_cli import synth_main as outgauge_synth
from bridge.games.registry import identify


def received(send: Callable[..., int], **options) -> tuple[int, list[bytes], str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    err = io.StringIO()
    code = send(to=f"127.0.0.1:{sock.getsockname()[1]}", rate=60, duration=0.5, speed=10.0, seed=3, laps=1,
                err=err, **options)  # fmt: skip
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
    "send, options, game, sizes",
    [
        (gt7_synth, {"variant": None}, "gt7", {344}),
        (gt7_synth, {"variant": "296"}, "gt7", {296}),
        (gt7_synth, {"variant": "368"}, "gt7", {368}),
        (codemasters_synth, {}, "codemasters", {264}),
        (outgauge_synth, {"variant": "beamng-id"}, "outgauge", {96}),
        (outgauge_synth, {"variant": None}, "outgauge", {92}),
    ],
)
def test_synth_sends_the_games_datagrams(send, options: dict, game: str, sizes: set[int]) -> None:
    code, datagrams, err = received(send, **options)
    assert code == 0, err
    assert len(datagrams) > 50  # 5 s of game time at 60 Hz, minus what a loaded machine delays
    assert {len(d) for d in datagrams} == sizes
    for data in datagrams:
        found = identify(data)
        assert found is not None and found.key == game and found.decode(data)


@pytest.mark.parametrize("send, variant", [(gt7_synth, "300"), (outgauge_synth, "rfactor")])
def test_a_bad_variant_is_named_in_one_line(send, variant: str) -> None:
    code, datagrams, err = received(send, variant=variant)
    assert code == 2 and not datagrams
    assert err.count("\n") == 1 and f"--variant {variant!r}" in err
