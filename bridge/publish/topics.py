"""Topic safety: every topic segment derived from data is sanitised, and every topic is checked before use.

MQTT forbids `+` and `#` in topic names, `$` starts system topics, `/` would add levels and NUL is never allowed.
Segments that come from data (rig ids, car indices, event codes, device topics) pass through `segment()`; whole
topics through `checked()`, which enforces the rules and a length bound well under MQTT's 65,535 bytes.
"""

from __future__ import annotations

import re

MAX_SEGMENT = 64
MAX_TOPIC = 256  # bytes, UTF-8; brokers and ESP32 clients have small buffers

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class TopicError(ValueError):
    """A topic that must never be published: wildcards, system prefix, empty levels or too long."""


def segment(text: object) -> str:
    """One safe topic level from arbitrary data: `[A-Za-z0-9_-]`, at most 64 characters, never empty."""
    cleaned = _UNSAFE.sub("_", str(text)).strip("_")[:MAX_SEGMENT]
    return cleaned or "_"


def checked(topic: str) -> str:
    """`topic` if it is a valid, bounded topic name to publish to; otherwise `TopicError`."""
    if not topic:
        raise TopicError("empty topic")
    if len(topic.encode("utf-8")) > MAX_TOPIC:
        raise TopicError(f"topic longer than {MAX_TOPIC} bytes: {topic[:40]}...")
    if any(c in topic for c in "+#\0"):
        raise TopicError(f"wildcard or NUL in topic {topic!r}")
    if topic.startswith("$") or topic.startswith("/") or topic.endswith("/") or "//" in topic:
        raise TopicError(f"malformed topic {topic!r}")
    return topic


def join(*levels: str) -> str:
    return checked("/".join(levels))
