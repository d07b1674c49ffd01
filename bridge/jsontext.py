"""JSON text every parser accepts: NaN and infinities (a datagram may carry them) become null.

Python's `json.dumps` writes `NaN` and `Infinity` by default, which strict parsers (and JSON itself) refuse.
The fast path encodes with `allow_nan=False`; only a value that holds a non-finite float pays for the copy.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["finite", "json_text"]


def finite(value: Any) -> Any:
    """`value` with every non-finite float (at any depth of dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(obj: Any, **dumps_options: Any) -> str:
    """`json.dumps(obj, **dumps_options)` with non-finite floats written as null."""
    try:
        return json.dumps(obj, allow_nan=False, **dumps_options)
    except ValueError:
        return json.dumps(finite(obj), allow_nan=False, **dumps_options)
