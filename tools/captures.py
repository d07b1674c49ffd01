"""Where the real game captures are, for the tests and the benchmarks (never read by the package itself)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def captures_root() -> Path | None:
    """`$RIGBRIDGE_CAPTURES`, else `../shared/captures` beside the project; None when neither exists."""
    env = os.environ.get("RIGBRIDGE_CAPTURES")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "captures")
    for path in candidates:
        if path.is_dir():
            return path
    return None
