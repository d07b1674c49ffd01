"""Forward targets checked against the bridge itself: the checks live in `bridge/net.py` (shared with the LED
output and the configuration), named here for ingest's callers."""

from bridge.net import (
    MAX_FORWARD_TARGETS,
    IPAddress,
    local_addresses,
    loop_message,
    plain_address,
    reaches_own_socket,
    resolve_addresses,
    self_loop_problems,
)

__all__ = [
    "MAX_FORWARD_TARGETS",
    "IPAddress",
    "local_addresses",
    "loop_message",
    "plain_address",
    "reaches_own_socket",
    "resolve_addresses",
    "self_loop_problems",
]
