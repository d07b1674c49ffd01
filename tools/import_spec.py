"""Vendor the F1 UDP specification tables into the package.

The project never reads the shared specification at run time: this script turns
`f1_layouts.json` and `f1_enums.json` into the compact tables under
`bridge/games/f1/spec/`, keeping only what decoding, encoding and naming need.
Run it again when the specification changes; `tests/games/f1/test_spec_tables.py`
fails while the vendored tables and the specification disagree.

    python tools/import_spec.py [SPEC_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "spec"
TARGET = ROOT / "bridge" / "games" / "f1" / "spec"


def compact_field(field: dict) -> list:
    """One field as [name, type, count, struct, enum, note]; the struct letter 's' keeps its byte count."""
    return [
        field["name"],
        field["type"],
        field["count"],
        field.get("struct"),
        field.get("enum"),
        field.get("note", ""),
    ]


def compact_layouts(spec: dict) -> dict:
    formats = {}
    for year, fmt in spec["formats"].items():
        formats[year] = {
            "numCars": fmt["numCars"],
            "structs": {name: [compact_field(f) for f in s["fields"]] for name, s in fmt["structs"].items()},
            "packets": {
                pid: {
                    "name": p["name"],
                    "size": p["size"],
                    "rate": p.get("rate", ""),
                    "fields": [compact_field(f) for f in p["fields"]],
                }
                for pid, p in fmt["packets"].items()
            },
            "events": {
                code: {"meaning": e["meaning"], "fields": [compact_field(f) for f in e.get("fields", [])]}
                for code, e in fmt["events"].items()
            },
        }
    return {
        "source": "F1 UDP specification tables (formats 2023-2026), vendored by tools/import_spec.py",
        "header": [compact_field(f) for f in spec["header"]["fields"]],
        "formats": formats,
    }


def compact_enums(spec: dict) -> dict:
    return {
        "source": "F1 UDP enumerations (formats 2023-2026), vendored by tools/import_spec.py",
        "enums": {
            name: {"kind": e["kind"], "values": e["values"]} for name, e in spec["enums"].items()
        },
    }


def render(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"


def build(spec_dir: Path) -> dict[str, str]:
    layouts = json.loads((spec_dir / "f1_layouts.json").read_text(encoding="utf-8"))
    enums = json.loads((spec_dir / "f1_enums.json").read_text(encoding="utf-8"))
    return {"layouts.json": render(compact_layouts(layouts)), "enums.json": render(compact_enums(enums))}


def main(argv: list[str]) -> int:
    spec_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, text in build(spec_dir).items():
        (TARGET / name).write_text(text, encoding="utf-8")
        print(f"wrote {TARGET / name} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
