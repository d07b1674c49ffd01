"""UDP peers: resolving a target once, and checking it against the bridge itself (how many targets there may be,
which would loop, a port already taken). Shared by ingest (forwarding, the receiving socket), the realtime LED
output and the configuration checks, so none of them imports another's layer.

A target loops when, after name resolution, it is the bridge's own receiving socket: every datagram forwarded
there comes back, is forwarded again, and circulates as fast as the machine allows. The same address has many
spellings (`127.1`, `0`, `0x7f000001`, `2130706433`, `localhost`, `::ffff:127.0.0.1`, any address of any
interface), so targets are compared after `getaddrinfo`, the resolver the forwarder itself uses, with every
address the bridge's socket receives on: all local addresses when it is bound to a wildcard, else the bind address.

Config validation (check-config and run) calls `self_loop_problems`; the forwarder applies the same rule at start
and on reload, when the real port is known.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import re
import socket
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "MAX_FORWARD_TARGETS",
    "RETRY_S",
    "IPAddress",
    "PortInUseError",
    "format_hostport",
    "local_addresses",
    "loop_message",
    "plain_address",
    "reaches_own_socket",
    "resolve_addresses",
    "resolve_target",
    "self_loop_problems",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Each target costs one socket and one send per datagram on the event loop thread: thousands of them burn a core
# and can exhaust the file descriptors. A few tools per rig is the real use.
MAX_FORWARD_TARGETS = 32

RETRY_S = 30.0  # unresolvable targets are resolved again this often

_FIB_TRIE = Path("/proc/net/fib_trie")
_IF_INET6 = Path("/proc/net/if_inet6")


def plain_address(text: str) -> IPAddress:
    """`text` as an address to compare: zone id dropped, IPv4-mapped IPv6 as its IPv4 address; else ValueError."""
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def local_addresses() -> frozenset[IPAddress]:
    """Every address of this machine: each interface's (from /proc on Linux, else the host name's) and loopback."""
    found: set[IPAddress] = {ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")}
    try:
        lines = _FIB_TRIE.read_text().splitlines()
    except OSError:
        lines = []
    previous = ""
    for line in lines:  # "|-- 192.0.2.2" then "/32 host LOCAL" marks an address of this machine
        if "host LOCAL" in line and previous.lstrip().startswith("|--"):
            with contextlib.suppress(ValueError):
                found.add(plain_address(previous.split()[-1]))
        previous = line
    try:
        rows = _IF_INET6.read_text().splitlines()
    except OSError:
        rows = []
    for row in rows:  # 32 hex digits, then index, prefix, scope, flags, interface
        fields = row.split()
        if fields and len(fields[0]) == 32:
            with contextlib.suppress(ValueError):
                found.add(plain_address(":".join(fields[0][i : i + 4] for i in range(0, 32, 4))))
    if lines or rows:
        return frozenset(found)
    # Without /proc (not Linux): the host name's addresses. Not first choice: the lookup may go to DNS.
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        infos = []
    for info in infos:
        with contextlib.suppress(ValueError):
            found.add(plain_address(str(info[4][0])))
    return frozenset(found)


def resolve_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, as the forwarder's resolver sees it. Raises OSError (socket.gaierror)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
    addresses: list[IPAddress] = []
    for info in infos:
        ip = plain_address(str(info[4][0]))
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def reaches_own_socket(address: IPAddress | str, bind: str, local: frozenset[IPAddress] | None = None) -> bool:
    """Whether a datagram sent to `address` (on the bridge's own port) arrives at a socket bound to `bind`.

    `local` is `local_addresses()`, read once by a caller that checks many targets.
    """
    ip = plain_address(str(address))
    if ip.is_unspecified:
        return True  # 0.0.0.0 and :: as a destination mean this machine
    own = plain_address(bind)
    if not own.is_unspecified:
        return ip == own
    if own.version == 4 and ip.version == 6:
        return False  # an IPv4 wildcard socket receives no IPv6
    # A wildcard socket receives on every local address; `::` is dual-stack and receives IPv4 as well.
    return ip.is_loopback or ip in (local_addresses() if local is None else local)


def loop_message(host: str, address: IPAddress | str) -> str:
    """The one-line reason a target is refused."""
    resolved = str(plain_address(str(address)))
    how = f"{host} resolves to {resolved}" if resolved != host else f"{host} is this machine"
    return f"forwards to the bridge's own port ({how}): every datagram would loop"


def self_loop_problems(targets: Sequence[tuple[str, int]], bind: str, own_port: int) -> dict[int, str]:
    """{index: message} for each target that reaches the bridge's own socket on `bind`:`own_port`.

    Unresolvable names are left out (the forwarder reports them at run time); `own_port` 0 (any free port) cannot
    be compared before binding, so nothing is reported for it here.
    """
    problems: dict[int, str] = {}
    if own_port == 0:
        return problems
    local: frozenset[IPAddress] | None = None
    for index, (host, port) in enumerate(targets):
        if port != own_port:
            continue
        try:
            addresses = resolve_addresses(host, port)
        except (OSError, UnicodeError, ValueError):
            continue
        if local is None:
            local = local_addresses()
        for address in addresses:
            if reaches_own_socket(address, bind, local):
                problems[index] = loop_message(host, address)
                break
    return problems


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_target(host: str, port: int) -> tuple[int, tuple[object, ...]]:
    """(family, sockaddr) for a target; IP literals skip the resolver. Raises OSError (socket.gaierror)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP)
        except ValueError as exc:  # a label the IDNA codec refuses (too long, empty), a NUL character
            raise socket.gaierror(f"not a valid host name: {exc}") from None
        if not infos:
            raise socket.gaierror(f"no address for {host}") from None
        # Prefer IPv4 when both exist: loopback names and dual-stack hosts answer on it more often.
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        family, _, _, _, sockaddr = infos[0]
        return family, tuple(sockaddr)
    if ip.version == 4:
        return socket.AF_INET, (str(ip), port)
    return socket.AF_INET6, (str(ip), port, 0, 0)


class PortInUseError(OSError):
    """The UDP port is taken by another socket; the message names the port and, when known, the program."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EADDRINUSE, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def realtime_loop_message(message: str) -> str:
    """`self_loop_problems`' reason for a forward target, said of an LED device."""
    return message.replace("forwards to", "sends to").replace(
        "every datagram would loop", "the bridge would receive its own LED frames")


# A host name as DNS allows it: labels of letters, digits and hyphens, 253 characters at most.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


def parse_hostport(text: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); raises ValueError with the reason."""
    if text.startswith("["):
        match = re.fullmatch(r"\[([^\]]*)\]:([^:]*)", text)
        if not match:
            raise ValueError('write an IPv6 target as "[address]:port", e.g. "[::1]:20778"')
        host, port_text = match.groups()
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError('expected "host:port"')
        if ":" in host:
            raise ValueError('IPv6 addresses need brackets, e.g. "[::1]:20778"')
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not HOSTNAME_RE.fullmatch(host):
                raise ValueError(f"{host!r} is not a host name or IP address") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("port must be an integer from 1 to 65535")
    if host in ("0.0.0.0", "::"):
        raise ValueError("the unspecified address cannot be a destination")
    return host, int(port_text)
