"""`rigbridge decode FILE...`: one JSON object per datagram, the contract other tools script against."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bridge.games.f1.codec import decode


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats print as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(obj: dict[str, Any]) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False)


def datagrams(path: Path) -> Iterator[bytes]:
    """The datagrams in a file: a rigbridge capture, or one raw datagram per file."""
    from bridge.ingest.capture import is_capture, read_capture

    if is_capture(path):
        for record in read_capture(path):
            yield record.data
    else:
        yield path.read_bytes()


def decode_files(files: Iterable[str], out: TextIO) -> int:
    failed = False
    for name in files:
        path = Path(name)
        try:
            items = list(datagrams(path))
        except OSError as exc:
            print(f"rigbridge decode: {name}: {exc.strerror or exc}", file=sys.stderr)
            failed = True
            continue
        for data in items:
            result = decode(data)
            if result:
                out.write(to_json(result.to_dict()) + "\n")
            else:
                failed = True
                out.write(to_json({**result.to_dict(), "file": name}) + "\n")
    return 1 if failed else 0
