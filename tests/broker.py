"""A real mosquitto for tests: own port, own config, own directory; started and stopped by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tools.net import free_port, wait_listening

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


class Mosquitto:
    """`start()`, `stop()`, `kill()`, `restart()`; `extra` lines go into its config (auth, TLS...)."""

    def __init__(self, directory: Path, *, port: int | None = None, extra: str = "", persistence: bool = False):
        if MOSQUITTO is None:
            pytest.skip("mosquitto is not installed (.ci/run installs the Debian package)")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = extra
        self.persistence = persistence
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    def write_config(self) -> None:
        lines = [
            # As root, mosquitto would switch to its own user, which cannot read the test's private tmp files.
            "user root" if os.geteuid() == 0 else "",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true" if "allow_anonymous" not in self.extra and "password_file" not in self.extra
            else "",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.directory}/",
            f"log_dest file {self.directory}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            self.extra,
        ]
        self.config.write_text("\n".join(line for line in lines if line) + "\n")

    def start(self) -> Mosquitto:
        self.write_config()
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_listening(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text() if path.exists() else ""
