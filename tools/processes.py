"""Child processes for the benchmarks and tests: start with a log, stop in reverse order, a loopback mosquitto,
and CPU time and resident memory read from /proc."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.net import free_port, wait_listening

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
MOSQUITTO_SUB = shutil.which("mosquitto_sub")


def require_mosquitto() -> None:
    """Exit with what to install when mosquitto or mosquitto_sub is missing."""
    missing = [name for name, path in (("mosquitto", MOSQUITTO), ("mosquitto_sub", MOSQUITTO_SUB)) if path is None]
    if missing:
        sys.exit(f"bench: {' and '.join(missing)} not found (Debian/Ubuntu: apt-get install mosquitto "
                 "mosquitto-clients)")  # fmt: skip


class Procs:
    """Every child process started here, each stopped by its own handle, in reverse order.

    A child's output goes to `<directory>/<name>.log` unless `stdout` is given; a name started again appends.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.children: list[subprocess.Popen[Any]] = []

    def start(self, cmd: Sequence[str], name: str, **kw: Any) -> subprocess.Popen[Any]:
        log = None
        if "stdout" not in kw:
            kw["stdout"] = log = (self.directory / f"{name}.log").open("ab")
            kw.setdefault("stderr", subprocess.STDOUT)
        try:
            process = subprocess.Popen(list(cmd), **kw)
        finally:
            if log is not None:
                log.close()
        self.children.append(process)
        return process

    @staticmethod
    def stop(process: subprocess.Popen[Any], timeout: float = 10.0) -> int | None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def close(self) -> None:
        for process in reversed(self.children):
            self.stop(process, 5.0)


class Broker:
    """A mosquitto on a free loopback port, anonymous, no persistence, Nagle off as `mosquitto/mosquitto.conf`."""

    def __init__(self, procs: Procs) -> None:
        self.procs = procs
        self.port = free_port()
        self.directory = procs.directory / "broker"
        self.directory.mkdir()
        self.config = self.directory / "mosquitto.conf"
        lines = [
            "user root" if os.geteuid() == 0 else "",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence false",
            "set_tcp_nodelay true",  # as shipped: the broker passes each message on at once
            f"log_dest file {self.directory}/mosquitto.log",
            "log_type error",
            "log_type warning",
        ]
        self.config.write_text("\n".join(line for line in lines if line) + "\n")
        self.process: subprocess.Popen[Any] | None = None

    def start(self) -> Broker:
        assert MOSQUITTO is not None
        self.process = self.procs.start([MOSQUITTO, "-c", str(self.config)], "mosquitto")
        wait_listening(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.procs.stop(self.process)
            self.process = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
