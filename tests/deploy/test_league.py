"""A league on loopback, run for real from `mosquitto/league/`: a central broker and two site brokers bridged into it
over TLS, two rigs per site, each rig a `rigbridge run` process with its own account fed by the synthetic game.

What a central consumer sees is the judge: every rig under rigbridge/<site>/<rig>/, nothing written into another
rig's subtree, the uplink's state and the rigs' values after the central broker is stopped and started again, and a
killed rig's Last Will.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.deploy.league_helpers import (
    READER,
    RECIPE,
    SHIPPED_LAYOUT,
    SHIPPED_SITE_RIGS,
    SITE_READER,
    League,
    bridge_account,
    central_acl,
    password,
    rig_config,
    site_acl,
)
from tests.deploy.test_mosquitto_conf import MOSQUITTO, Client
from tests.harness import Received, RigbridgeProcess, Subscriber, retained_snapshot
from tests.publish.test_mqtt_broker import race_frames
from tests.reliability.helpers import Feeder, wait_until
from tools.net import free_port

pytestmark = [
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.skipif(MOSQUITTO is None, reason="no mosquitto binary (Debian package: mosquitto)"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed (central TLS)"),
]

RIGS = [rig for rigs in SHIPPED_LAYOUT.values() for rig in rigs]
# Topics of the rate class realtime (every packet that moves them): they change many times a second in a race.
REALTIME = ("lights/rev_pct", "lights/rev_bits", "lights/leds", "player/gear", "player/throttle_pct",
            "player/brake_pct")
RACE_SECONDS = 45.0  # more than the module runs for: the games keep sending until a test stops one


@dataclass
class RunningLeague:
    league: League
    rigs: dict[str, RigbridgeProcess]
    feeders: dict[str, Feeder]
    centre: Subscriber  # league-reader on "#" at the central broker

    def root(self, rig: str) -> str:
        return f"rigbridge/{self.league.site_of(rig)}/{rig}"

    def output(self) -> str:
        return self.league.logs() + "".join(f"\n--- {rig}\n{p.output()[-2000:]}" for rig, p in self.rigs.items())


def central_subscriber(league: League) -> Subscriber:
    return Subscriber(league.central.port, "#", username=READER, password=password(READER)).start()


def realtime_of(messages: list[Received], root: str, since: float = 0.0) -> list[Received]:
    return [m for m in messages if m.t >= since and any(m.topic == f"{root}/{t}" for t in REALTIME)]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLeague]:
    directory = tmp_path_factory.mktemp("league")
    league = League(directory).start()
    frames = race_frames(RACE_SECONDS)
    rigs: dict[str, RigbridgeProcess] = {}
    feeders: dict[str, Feeder] = {}
    centre: Subscriber | None = None
    running: RunningLeague | None = None
    try:
        centre = central_subscriber(league)
        for rig in RIGS:
            udp_port = free_port()
            config = rig_config(directory / "rigs", league.port_of(rig), rig, udp_port, "publish: {cars: player}\n")
            rigs[rig] = RigbridgeProcess(config)
            feeders[rig] = Feeder(udp_port, frames)
        running = RunningLeague(league, rigs, feeders, centre)
        try:
            wait_until(lambda: all(f"{running.root(rig)}/status" in centre.last() for rig in RIGS), 30,
                       "status of every rig at the centre")  # fmt: skip
        except AssertionError:
            raise AssertionError(running.output()) from None
        for feeder in feeders.values():
            feeder.start()
        yield running
    finally:
        for feeder in feeders.values():
            feeder.stop()
        subscriber = running.centre if running is not None else centre  # a test may have replaced it
        if subscriber is not None:
            subscriber.stop()
        for process in rigs.values():
            process.close()
        league.stop()


def test_the_acl_generator_gives_back_the_shipped_files() -> None:
    # The benchmark's larger leagues are made by the same functions the test uses for the shipped layout.
    assert site_acl(SHIPPED_SITE_RIGS) == (RECIPE / "site.acl").read_text()
    assert central_acl(SHIPPED_LAYOUT) == (RECIPE / "central.acl").read_text()
    bigger = central_acl({"s1": ["r1", "r2", "r3"], "s2": ["r4"]})
    assert "user bridge-s1\ntopic write rigbridge/s1/r1/#\ntopic write rigbridge/s1/r2/#\n" in bigger
    assert "user bridge-s2\ntopic write rigbridge/s2/r4/#\ntopic write sites/s2/uplink\n" in bigger


def test_the_scaling_doc_shows_the_shipped_bridge_block() -> None:
    shipped = (RECIPE / "site.conf").read_text().split("\nconnection ", 1)[1]
    settings = ["connection " + shipped.splitlines()[0]]
    settings += [line for line in shipped.splitlines()[1:] if line.strip() and not line.startswith("#")]
    doc = (RECIPE.parents[1] / "docs" / "scaling.md").read_text()
    assert "```\n" + "\n".join(settings) + "\n```" in doc


def test_every_rig_arrives_at_the_centre_under_its_site(running: RunningLeague) -> None:
    centre = running.centre
    start = time.monotonic()
    wait_until(lambda: all(realtime_of(centre.snapshot(), running.root(rig), start) for rig in RIGS), 10,
               "realtime topics of every rig at the centre")  # fmt: skip
    wait_until(lambda: all(centre.last()[f"{running.root(rig)}/game/receiving"].payload == "true" for rig in RIGS),
               5, "game/receiving true for every rig at the centre")  # fmt: skip
    last = centre.last()
    for rig in RIGS:
        assert last[f"{running.root(rig)}/status"].payload == "online"
    for site in SHIPPED_LAYOUT:
        assert last[f"sites/{site}/uplink"].payload == "1"
    # Nothing arrives outside the sites' namespaces (no unmapped rigbridge/<rig>/..., no discovery).
    allowed = tuple(f"{running.root(rig)}/" for rig in RIGS) + tuple(f"sites/{site}/" for site in SHIPPED_LAYOUT)
    assert {m.topic for m in centre.snapshot() if not m.topic.startswith(allowed)} == set()
    # The centre holds each rig's retained state as the rig published it (a new consumer gets it at once).
    held = retained_snapshot(running.league.central.port, "rigbridge/#", settle=0.5, username=READER,
                             password=password(READER))  # fmt: skip
    for rig in RIGS:
        assert held[f"{running.root(rig)}/status"].payload == "online"
        assert held[f"{running.root(rig)}/session/track"].retain
        assert f"{running.root(rig)}/lights/rev_pct" not in held  # not retained by the rig, nor by the bridge


def test_a_rig_cannot_write_another_rigs_subtree(running: RunningLeague) -> None:
    league, centre = running.league, running.centre
    site_a = league.sites["paddock-a"].port
    rig01 = Client(site_a, "rig01", password("rig01"))
    bridge_a = Client(league.central.port, bridge_account("paddock-a"), password(bridge_account("paddock-a")))
    remote = Client(league.central.port, "rig09", password("rig09"))
    clients = [rig01, bridge_a, remote]
    try:
        assert all(client.accepted for client in clients)
        refused = [
            rig01.publish("rigbridge/rig02/lights/rev_pct", "6666"),  # the other rig of its site
            rig01.publish("rigbridge/rig03/lights/rev_pct", "6666"),  # a rig of the other site
            rig01.publish("homeassistant/device/rig02/config", "6666"),  # another rig's discovery
            bridge_a.publish("rigbridge/paddock-b/rig03/status", "6666"),  # a site bridge, another site's rig
            bridge_a.publish("sites/paddock-b/uplink", "6666"),
            remote.publish("rigbridge/paddock-a/rig01/status", "6666"),  # a direct rig, a site's rig
        ]
        assert [code.getName() for code in refused] == ["Not authorized"] * len(refused)
        rig01.client.publish("rigbridge/rig02/status", "6666", qos=0)  # QoS 0: refused without a word
        # The same account inside its own subtree gets through, through the bridge and directly: what was refused
        # before would have arrived before these (one publisher's messages keep their order).
        assert not rig01.publish("rigbridge/rig01/probe", "mine").is_failure
        assert not remote.publish("rigbridge/remote/rig09/probe", "mine").is_failure
        probes = {"rigbridge/paddock-a/rig01/probe", "rigbridge/remote/rig09/probe"}
        centre.wait_for(lambda ms: {m.topic for m in ms if m.payload == "mine"} == probes, 10, "the probes")
    finally:
        for client in clients:
            client.close()
    assert [m.topic for m in centre.snapshot() if m.payload == "6666"] == []
    assert running.centre.last()["rigbridge/paddock-a/rig02/status"].payload == "online"


def test_uplink_cut_and_restored(running: RunningLeague) -> None:
    league = running.league
    local = Subscriber(league.sites["paddock-a"].port, "#", username=SITE_READER,
                       password=password(SITE_READER)).start()  # fmt: skip
    try:
        running.centre.stop()
        league.central.stop()  # SIGTERM: the central broker writes its retained state and exits
        cut = time.monotonic()
        # The site sees its uplink down and keeps working for its own consumers.
        local.wait_for(lambda ms: any(m.topic == "sites/paddock-a/uplink" and m.payload == "0" for m in ms), 10,
                       "uplink 0 at the site")  # fmt: skip
        local.wait_for(lambda ms: len(realtime_of(ms, "rigbridge/rig01", cut)) > 10, 5, "realtime at the site")
        # During the outage rig02's game stops: its game/receiving turns false (QoS 1, retained), and rig01's account
        # sends an event (QoS 1, not retained; the QoS 0 one is lost by design).
        running.feeders["rig02"].stop()
        local.wait_for(lambda ms: any(m.topic == "rigbridge/rig02/game/receiving" and m.payload == "false"
                                      for m in ms), 5, "rig02's game stopped, at the site")  # fmt: skip
        probe = Client(league.sites["paddock-a"].port, "rig01", password("rig01"))
        try:
            assert not probe.publish("rigbridge/rig01/event/PROBE", "during the outage").is_failure
            probe.client.publish("rigbridge/rig01/event/PROBE0", "during the outage", qos=0)
        finally:
            probe.close()
        league.central.start()
        restarted = time.monotonic()
        centre = central_subscriber(league)
        running.centre = centre

        def uplink_up(ms: list[Received], site: str) -> list[Received]:
            return [m for m in ms if m.topic == f"sites/{site}/uplink" and m.payload == "1" and not m.retain]

        centre.wait_for(lambda ms: all(uplink_up(ms, site) for site in SHIPPED_LAYOUT), 20, "both uplinks back")
        messages = centre.snapshot()
        up = {site: uplink_up(messages, site)[0].t for site in SHIPPED_LAYOUT}
        for rig in ("rig01", "rig03", "rig04"):  # the rigs whose game still runs
            site = league.site_of(rig)
            centre.wait_for(lambda ms, rig=rig, site=site: bool(realtime_of(ms, running.root(rig), up[site])), 5,
                            f"{rig} realtime")
            first = realtime_of(centre.snapshot(), running.root(rig), up[site])[0].t
            assert first - up[site] < 1.0, (rig, first - up[site])

        def live(topic: str, payload: str | None = None) -> list[Received]:
            return [m for m in centre.snapshot()
                    if m.topic == topic and not m.retain and (payload is None or m.payload == payload)]  # fmt: skip

        # The bridge resends the site's retained messages when it reconnects: values that did not change...
        wait_until(lambda: all(live(f"{running.root(rig)}/session/track") for rig in RIGS), 5,
                   "every rig's session/track again, live")  # fmt: skip
        # ...and those that changed while the uplink was down.
        wait_until(lambda: bool(live("rigbridge/paddock-a/rig02/game/receiving", "false")), 5, "rig02 not receiving")
        # A QoS 1 event of the outage comes once, from the site's queue; the QoS 0 one never.
        wait_until(lambda: bool(live("rigbridge/paddock-a/rig01/event/PROBE")), 5, "the queued event")
        time.sleep(0.5)
        assert len(live("rigbridge/paddock-a/rig01/event/PROBE")) == 1
        assert live("rigbridge/paddock-a/rig01/event/PROBE0") == []
        burst = [m for m in centre.snapshot() if up["paddock-a"] <= m.t < up["paddock-a"] + 1.0
                 and m.topic.startswith("rigbridge/paddock-a/")]  # fmt: skip
        print(f"uplink: bridges back {', '.join(f'{site} {t - restarted:.2f} s' for site, t in up.items())} after "
              f"the central broker; paddock-a's first second back: {len(burst)} messages")
    except (AssertionError, TimeoutError) as exc:
        raise AssertionError(f"{exc}\n{running.output()}") from None
    finally:
        local.stop()


def test_a_killed_rig_goes_offline_at_the_centre(running: RunningLeague) -> None:
    rig = "rig04"
    topic = f"{running.root(rig)}/status"
    centre = running.centre
    killed = time.monotonic()
    running.rigs[rig].process.kill()  # SIGKILL: no goodbye, the site broker publishes the Last Will
    centre.wait_for(lambda ms: any(m.topic == topic and m.payload == "offline" and m.t >= killed for m in ms), 10,
                    "rig04 offline at the centre")  # fmt: skip
    offline = next(m.t for m in centre.snapshot() if m.topic == topic and m.payload == "offline" and m.t >= killed)
    print(f"rig04 killed: offline at the centre {offline - killed:.2f} s later")
    held = retained_snapshot(running.league.central.port, topic, settle=0.3, username=READER,
                             password=password(READER))  # fmt: skip
    assert held[topic].payload == "offline"
    # The other rig of that site is untouched.
    assert centre.last()[f"{running.root('rig03')}/status"].payload == "online"


def test_the_site_acl_lets_every_rig_do_all_it_does(running: RunningLeague) -> None:
    # Status, instance hello, Home Assistant discovery, events: a refused QoS 1 publish is logged by the rig (within
    # a second: its fault log is written every second), and the rigs have been running for several seconds now.
    refused = {rig: line for rig, p in running.rigs.items() for line in p.output().splitlines() if "refused" in line}
    assert refused == {}
