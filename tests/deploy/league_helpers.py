"""A league on loopback, from the shipped recipe in `mosquitto/league/`: a central broker, site brokers bridged into
it over TLS, an account per rig, site bridge and reader, and a rigbridge config per rig.

The shipped files are run as they are except where a run on this machine must differ: ports, file paths, the
bridge's password, the central host name (127.0.0.1) and, as root, `user root` (the broker would otherwise switch to
an account that cannot read the test's files). Each replaced line must exist exactly once, so a change to the shipped
files that the rewrite no longer matches fails loudly. The shipped files describe site paddock-a (rig01, rig02) and
paddock-b; other layouts (the benchmark's) are made from the same files by `site_acl` and `central_acl`, which give
the shipped text back for the shipped layout.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.deploy.test_mosquitto_conf import MOSQUITTO, MOSQUITTO_PASSWD
from tests.publish.test_mqtt_broker import _make_ca
from tools.net import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "mosquitto" / "league"
SITE = "paddock-a"  # the site the shipped site.conf and site.acl describe
SHIPPED_SITE_RIGS = ("rig01", "rig02")
SHIPPED_LAYOUT: dict[str, tuple[str, ...]] = {"paddock-a": ("rig01", "rig02"), "paddock-b": ("rig03", "rig04")}
READER = "league-reader"  # the central read-only account of central.acl
SITE_READER = "site-reader"


def password(account: str) -> str:
    return f"pw-{account}"


def bridge_account(site: str) -> str:
    return f"bridge-{site}"


def rewrite_lines(text: str, replacements: Mapping[str, str], where: str) -> str:
    """`text` with each line equal to a key (stripped) replaced by its value; each key must be there once."""
    lines = text.splitlines()
    for old in replacements:
        count = sum(1 for line in lines if line.strip() == old)
        assert count == 1, f"{where}: expected the line {old!r} exactly once, found it {count} times"
    head = ["user root"] if os.geteuid() == 0 else []
    return "\n".join(head + [replacements.get(line.strip(), line) for line in lines]) + "\n"


def _block(text: str, first_line: str) -> str:
    """The lines from `first_line` to the next blank line, that blank line included."""
    match = re.search(rf"^{re.escape(first_line)}\n(?:.+\n)*\n", text, re.MULTILINE)
    assert match, f"no block starting with {first_line!r}"
    return match.group(0)


def site_acl(rigs: Sequence[str]) -> str:
    """The shipped site.acl for these rigs: rig01's block for the first, rig02's for each further one."""
    text = (RECIPE / "site.acl").read_text()
    first_rig, other_rig = SHIPPED_SITE_RIGS
    first, other = _block(text, f"user {first_rig}"), _block(text, f"user {other_rig}")
    assert first + other in text, "site.acl: the two rig blocks are no longer next to each other"
    blocks = first.replace(first_rig, rigs[0]) + "".join(other.replace(other_rig, rig) for rig in rigs[1:])
    return text.replace(first + other, blocks)


def central_acl(layout: Mapping[str, Sequence[str]]) -> str:
    """The shipped central.acl for this layout: paddock-a's bridge block for the first site, paddock-b's for each
    further one, with one `topic write rigbridge/<site>/<rig>/#` line per rig."""
    text = (RECIPE / "central.acl").read_text()
    (first_site, first_rigs), (other_site, other_rigs) = SHIPPED_LAYOUT.items()
    first = _block(text, f"user {bridge_account(first_site)}")
    other = _block(text, f"user {bridge_account(other_site)}")
    assert first + other in text, "central.acl: the two bridge blocks are no longer next to each other"

    def block(template: str, shipped_site: str, shipped_rigs: Sequence[str], site: str, rigs: Sequence[str]) -> str:
        shipped_lines = "".join(f"topic write rigbridge/{shipped_site}/{rig}/#\n" for rig in shipped_rigs)
        assert shipped_lines in template, f"central.acl: the {shipped_site} bridge block lost its rig lines"
        lines = "".join(f"topic write rigbridge/{shipped_site}/{rig}/#\n" for rig in rigs)
        return template.replace(shipped_lines, lines).replace(shipped_site, site)

    (site, rigs), *others = layout.items()
    blocks = block(first, first_site, first_rigs, site, rigs)
    blocks += "".join(block(other, other_site, other_rigs, site, rigs) for site, rigs in others)
    return text.replace(first + other, blocks)


def write_passwd(path: Path, accounts: Sequence[str]) -> None:
    """A mosquitto password file with `password(account)` for every account, made by mosquitto_passwd."""
    assert MOSQUITTO_PASSWD is not None, "mosquitto is installed but mosquitto_passwd is not (package mosquitto)"
    path.write_text("")
    for account in accounts:
        subprocess.run([MOSQUITTO_PASSWD, "-b", str(path), account, password(account)], check=True,
                       capture_output=True, timeout=10)  # fmt: skip


class ConfiguredBroker:
    """A mosquitto run with a config file the caller wrote; `port` is where its clients connect."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def start(self) -> ConfiguredBroker:
        assert MOSQUITTO is not None
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_listening(self.port)
        except TimeoutError:
            self.kill()
            raise AssertionError(f"mosquitto did not start with {self.config}:\n{self.log()}") from None
        return self

    def stop(self) -> None:
        """SIGTERM, a clean shutdown (persistence is written), and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class League:
    """The brokers of a league in `directory`: `central` (TLS listener for bridges, plain one for readers) and one
    site broker per site, each from the shipped files; `start()` starts the centre first, then the sites."""

    def __init__(self, directory: Path, layout: Mapping[str, Sequence[str]] = SHIPPED_LAYOUT) -> None:
        self.directory = directory
        self.layout = {site: tuple(rigs) for site, rigs in layout.items()}
        certs = directory / "certs"
        certs.mkdir(parents=True)
        self.ca, cert, key = _make_ca(certs)
        self.central = self._central(directory / "central", cert, key)
        self.sites = {site: self._site(directory / site, site, rigs) for site, rigs in self.layout.items()}

    def _central(self, workdir: Path, cert: Path, key: Path) -> ConfiguredBroker:
        (workdir / "data").mkdir(parents=True)
        broker = ConfiguredBroker(workdir, free_port())
        self.central_tls_port = free_port()
        text = rewrite_lines((RECIPE / "central.conf").read_text(), {
            "listener 8883": f"listener {self.central_tls_port} 127.0.0.1",
            "listener 1883 127.0.0.1": f"listener {broker.port} 127.0.0.1",
            "certfile /mosquitto/config/certs/central.crt": f"certfile {cert}",
            "keyfile /mosquitto/config/certs/central.key": f"keyfile {key}",
            "password_file /mosquitto/config/central.passwd": f"password_file {workdir / 'passwd'}",
            "acl_file /mosquitto/config/central.acl": f"acl_file {workdir / 'acl'}",
            "persistence_location /mosquitto/data/": f"persistence_location {workdir / 'data'}/",
            "log_dest stdout": f"log_dest file {workdir / 'mosquitto.log'}",
        }, "central.conf")  # fmt: skip
        broker.config.write_text(text)
        (workdir / "acl").write_text(central_acl(self.layout))
        write_passwd(workdir / "passwd", [READER, "rig09", *(bridge_account(site) for site in self.layout)])
        return broker

    def _site(self, workdir: Path, site: str, rigs: Sequence[str]) -> ConfiguredBroker:
        (workdir / "data").mkdir(parents=True)
        broker = ConfiguredBroker(workdir, free_port())
        # Another site is the shipped one with its name replaced everywhere (mosquitto/league/README.md).
        shipped = (RECIPE / "site.conf").read_text().replace(SITE, site)
        text = rewrite_lines(shipped, {
            "listener 1883": f"listener {broker.port} 127.0.0.1",
            "password_file /mosquitto/config/site.passwd": f"password_file {workdir / 'passwd'}",
            "acl_file /mosquitto/config/site.acl": f"acl_file {workdir / 'acl'}",
            "persistence_location /mosquitto/data/": f"persistence_location {workdir / 'data'}/",
            "log_dest stdout": f"log_dest file {workdir / 'mosquitto.log'}",
            "address central.example.net:8883": f"address 127.0.0.1:{self.central_tls_port}",
            "remote_password CHANGE-ME": f"remote_password {password(bridge_account(site))}",
            "bridge_cafile /mosquitto/config/central-ca.pem": f"bridge_cafile {self.ca}",
        }, f"site.conf ({site})")  # fmt: skip
        broker.config.write_text(text)
        (workdir / "acl").write_text(site_acl(rigs))
        write_passwd(workdir / "passwd", [SITE_READER, *rigs])
        return broker

    def start(self) -> League:
        self.central.start()
        for broker in self.sites.values():
            broker.start()
        return self

    def stop(self) -> None:
        for broker in [*self.sites.values(), self.central]:
            broker.kill()

    def site_of(self, rig: str) -> str:
        return next(site for site, rigs in self.layout.items() if rig in rigs)

    def port_of(self, rig: str) -> int:
        """The port of the site broker `rig` publishes to."""
        return self.sites[self.site_of(rig)].port

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{broker.log()[-3000:]}"
                         for name, broker in [("central", self.central), *self.sites.items()])  # fmt: skip


def rig_config(directory: Path, broker_port: int, rig: str, udp_port: int, extra: str = "",
               base_topic: str = "rigbridge") -> Path:
    """A rigbridge config for `rig` (its own account) at the broker on `broker_port`: quick reconnects, metrics
    off."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / f"{rig}.password"
    secret.write_text(password(rig) + "\n")
    config = directory / f"{rig}.yaml"
    config.write_text(
        f"udp: {{bind: 127.0.0.1, port: {udp_port}, receive_timeout_s: 1}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker_port}, base_topic: {base_topic}, rig: {rig}, username: {rig}, "
        f"password_file: {secret}, keepalive: 5, reconnect_min_s: 0.2, reconnect_max_s: 1.0}}\n"
        "metrics: {enabled: false}\n" + extra
    )
    return config
