"""Loopback helpers shared by the tests and the benchmarks: free ports, waiting for a server to listen."""

from __future__ import annotations

import socket
import time


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now (TCP by default; `socket.SOCK_DGRAM` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0, what: str = "mosquitto") -> None:
    """Return once a TCP connect to 127.0.0.1:`port` succeeds; `TimeoutError` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{what} did not listen on {port} within {timeout} s")
