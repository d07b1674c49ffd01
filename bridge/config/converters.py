"""The value converters: numbers with bounds, strings MQTT accepts, addresses, file paths, glob maps."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import socket
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from bridge.config.context import DEFAULT, INVALID, Ctx, is_null, iter_mapping, join_key, plain
from bridge.config.engine import Converter, Reject, scalar, wrong_shape
from bridge.ingest.capture import check_capture_file
from bridge.ingest.targets import plain_address
from bridge.net import HOSTNAME_RE, parse_hostport
from bridge.settings import IPNetwork

GLOB_RE = re.compile(r"[A-Za-z0-9_\-*?\[\]!]+(?:/[A-Za-z0-9_\-*?\[\]!]+)*")

MQTT_STRING_MAX = 65_535  # bytes: MQTT strings and binary data carry a two-byte length
# Characters MQTT forbids (U+0000, surrogates) or says must not be used (other control characters).
_MQTT_FORBIDDEN_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(
    message: str, low: float, high: float, kind: Callable[[Any], bool], cast: Callable[[Any], Any]
) -> Converter:
    def accept(value: Any) -> Any:
        if kind(value) and low <= value <= high:
            return cast(value)
        raise Reject

    return scalar(message, accept)


def integer(low: int, high: int) -> Converter:
    """An integer within [low, high]: every numeric key has both bounds, so no value reaches code unchecked."""
    return _in_range(f"must be an integer from {low} to {high}", low, high, _is_int, int)


def number(low: float, high: float) -> Converter:
    """A finite number (int or float) within [low, high]; NaN and infinities never pass."""
    return _in_range(f"must be a number from {low:g} to {high:g}", low, high, _is_number, float)


def boolean() -> Converter:
    def accept(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
            raise Reject(f"must be true or false ('{value}' is a string in YAML 1.2)")
        raise Reject

    return scalar("must be true or false", accept)


def mqtt_text_problem(text: str, *, binary: bool = False) -> str | None:
    """Why MQTT would refuse `text` as a string (client id, user name) or, `binary`, as binary data (password)."""
    if not binary:
        bad = _MQTT_FORBIDDEN_RE.search(text)
        if bad:
            return f"must not contain control characters such as {bad.group()!r} (MQTT forbids them)"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "must be valid Unicode text (it contains a lone surrogate)"
    if size > MQTT_STRING_MAX:
        return f"is {size} bytes long; MQTT allows at most {MQTT_STRING_MAX} bytes"
    return None


def string(
    message: str = "must be a string",
    *,
    pattern: re.Pattern[str] | None = None,
    max_len: int | None = None,
    mqtt: str | None = None,
    secret: bool = False,
    transform: Callable[[str], Any] = str,
) -> Converter:
    """A non-empty string; `mqtt` ("text" or "binary") also applies MQTT's rules for what goes on the wire."""

    def accept(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            raise Reject
        if mqtt is not None:
            problem = mqtt_text_problem(value, binary=mqtt == "binary")
            if problem:
                raise Reject(problem)
        if max_len is not None and len(value) > max_len:
            raise Reject
        if pattern is not None and not pattern.fullmatch(value):
            raise Reject
        return transform(value)

    return scalar(message, accept, secret=secret)


def choice(choices: Mapping[Any, Any], message: str, *, fold_case: bool = False) -> Converter:
    """One of the keys of `choices` (type and value must both match, so 5.0 and true are not 5 and 1)."""
    table = {(type(key), key.lower() if fold_case and isinstance(key, str) else key): v for key, v in choices.items()}

    def accept(value: Any) -> Any:
        lookup = value.lower() if fold_case and isinstance(value, str) else value
        try:
            return table[(type(value), lookup)]
        except (KeyError, TypeError):
            raise Reject from None

    return scalar(message, accept)


def enum(values: tuple[str, ...], *, fold_case: bool = False) -> Converter:
    return choice({v: v for v in values}, "must be one of: " + ", ".join(values), fold_case=fold_case)


def ip_address(example: str) -> Converter:
    def accept(value: Any) -> str:
        if not isinstance(value, str):
            raise Reject
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise Reject from None

    return scalar(f"must be an IPv4 or IPv6 address, e.g. {example}", accept)


def network() -> Converter:
    message = "must be an IP address or CIDR network, e.g. 192.168.1.0/24"

    def accept(value: Any) -> IPNetwork:
        if not isinstance(value, str):
            raise Reject
        try:
            return ipaddress.ip_network(value, strict=True)
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise Reject from None
        raise Reject(f"host bits are set in this CIDR network; did you mean {loose}?")

    return scalar(message, accept)


def host_or_ip() -> Converter:
    def accept(value: Any) -> str:
        if isinstance(value, str):
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                if HOSTNAME_RE.fullmatch(value):
                    return value
        raise Reject

    return scalar("must be a host name or IP address (no scheme, no port)", accept)


def _parse_source(text: str) -> tuple[str, int]:
    """"host", "host:port", "[v6]:port" or a bare IPv6 address -> (host, port; 0 = any port)."""
    try:
        host, port = str(ipaddress.ip_address(text)), 0
    except ValueError:
        if ":" in text:
            return parse_hostport(text)
        if not HOSTNAME_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a host name or IP address") from None
        return text, 0
    if ipaddress.ip_address(host).is_unspecified:
        raise ValueError("the unspecified address cannot be a sender")
    return host, port


def source() -> Converter:
    """`udp.source`: one sender, its host name resolved now so the receiver compares addresses only."""

    def convert(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        value = plain(ctx, node, path, line)
        if value is INVALID:
            return INVALID
        message = 'must be "host" or "host:port", IPv6 as "[::1]:20777"'
        if not isinstance(value, str):
            ctx.add(path, message, value, line)
            return INVALID
        try:
            host, port = _parse_source(value)
        except ValueError as exc:
            ctx.add(path, f"{message} ({exc})", value, line)
            return INVALID
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as exc:
            ctx.add(path, f"cannot resolve {host!r}: {getattr(exc, 'strerror', None) or exc}", value, line)
            return INVALID
        return str(plain_address(str(infos[0][4][0]))), port  # IPv4-mapped IPv6 as IPv4, as the receiver compares

    return convert


def hostport() -> Converter:
    def accept(value: Any) -> tuple[str, int]:
        if not isinstance(value, str):
            raise Reject
        try:
            return parse_hostport(value)
        except ValueError as exc:
            raise Reject(f'must be "host:port" ({exc})') from None

    return scalar('must be a "host:port" string, IPv6 as "[::1]:20778"', accept)


def _file(message: str, problem: Callable[[Path], str | None]) -> Converter:
    """A file path, relative to the config file's directory; `problem` says why the resolved path is unusable."""

    def convert(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        value = plain(ctx, node, path, line)
        if value is INVALID:
            return INVALID
        if not isinstance(value, str) or not value or "\0" in value:
            ctx.add(path, message, value, line)
            return INVALID
        resolved = ctx.base_dir / Path(value).expanduser()
        reason = problem(resolved)
        if reason is None:
            return str(resolved)
        ctx.add(path, f"{reason}: {resolved}", value, line)
        return INVALID

    return convert


def _unreadable(path: Path) -> str | None:
    if not path.exists():
        return "file not found"
    if not path.is_file():
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "file is not readable"
    return None


def existing_file() -> Converter:
    """A path to a readable file."""
    return _file("must be a file path", _unreadable)


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(path.stat().st_mode)
    except OSError:
        return False


def _unrecordable(path: Path) -> str | None:
    # A character device (/dev/null, /dev/full) takes the stream without being a file: never read, so allowed.
    reason = None if _is_char_device(path) else check_capture_file(path)
    if reason is None:
        if path.exists():
            reason = None if os.access(path, os.W_OK) else "file is not writable"
        elif not path.parent.is_dir():
            reason = "its directory does not exist"
        elif not os.access(path.parent, os.W_OK | os.X_OK):
            reason = "its directory is not writable"
    return reason


def record_file() -> Converter:
    """`udp.record`: a capture recording may append to, or a new file in a directory the bridge can write."""
    return _file("must be the path of a capture file to append to", _unrecordable)


def _unwritable_directory(path: Path) -> str | None:
    # A folder that does not exist yet is created at the first write: its nearest existing parent must allow it.
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return "not a directory" if existing == path else f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return "directory is not writable" if existing == path else f"{existing} is not writable"
    return None


def writable_directory() -> Converter:
    """`export.dir`: a folder the bridge can write files in (created when missing)."""
    return _file("must be a directory path", _unwritable_directory)


def glob_map(value: Converter, message: str) -> Converter:
    """A mapping glob -> value, stored as a tuple of (glob, value) pairs in file order; null keeps the default."""
    key_check = string(message, pattern=GLOB_RE)

    def convert(ctx: Ctx, node: Node | None, path: str, line: int) -> Any:
        if is_null(node):
            return DEFAULT
        if not isinstance(node, MappingNode):
            return wrong_shape(ctx, node, path, line, "must be a mapping of glob: number")
        pairs: list[tuple[str, Any]] = []
        failed = False
        for name, key_line, value_node in iter_mapping(ctx, node, path):
            entry_path = join_key(path, name)
            ctx.lines[entry_path] = key_line
            glob = key_check(ctx, ScalarNode("tag:yaml.org,2002:str", name), entry_path, key_line)
            converted = value(ctx, value_node, entry_path, key_line)
            if glob is INVALID or converted is INVALID:
                ctx.invalid.add(entry_path)
                failed = True
                continue
            pairs.append((glob, converted))
        return INVALID if failed else tuple(pairs)

    return convert

