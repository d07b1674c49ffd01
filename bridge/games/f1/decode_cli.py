"""`rigbridge decode FILE...`: one JSON object per datagram, the contract other tools script against."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bridge.games.f1.codec import decode
from bridge.jsontext import json_text
from bridge.ingest.capture import MAX_DATAGRAM, CaptureError, CaptureReader, is_capture


def to_json(obj: dict[str, Any]) -> str:
    return json_text(obj, ensure_ascii=False)


class UnreadableInput(Exception):
    """A file decode cannot take (a directory, too large for a datagram, a damaged capture); the message says why."""


def datagrams(path: Path) -> Iterator[bytes]:
    """The datagrams in a file, read as they are needed: a rigbridge capture record by record (constant memory
    whatever its size), anything else as one raw datagram, read no further than one datagram can be long.

    Raises UnreadableInput or OSError with the reason; a damaged capture raises after its good records.
    """
    info = path.stat()
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise UnreadableInput("is a directory")
    if stat.S_ISREG(mode) and is_capture(path):
        reader = CaptureReader(path)
        for record in reader:
            yield record.data
        damage = []
        if reader.corrupt:
            damage.append(f"{reader.corrupt} records skipped (CRC mismatch)")
        if reader.truncated:
            damage.append(f"capture cut short after {reader.records + reader.corrupt} records")
        if damage:
            raise UnreadableInput("; ".join(damage))
        return
    # A raw datagram: a regular file is judged by its size, anything else (a device, a pipe) by reading one byte
    # more than a datagram can hold, so /dev/zero or a huge file is refused without being read.
    if stat.S_ISREG(mode) and info.st_size > MAX_DATAGRAM:
        raise UnreadableInput(_too_large(f"{info.st_size} bytes", "and not a capture"))
    with open(path, "rb") as f:
        data = f.read(MAX_DATAGRAM + 1)
    if len(data) > MAX_DATAGRAM:
        raise UnreadableInput(_too_large(f"more than {MAX_DATAGRAM} bytes", "(captures are read from regular files)"))
    yield data


def _too_large(size: str, hint: str) -> str:
    return f"too large to be one datagram ({size}; a UDP payload is at most {MAX_DATAGRAM}) {hint}"


def decode_files(files: Iterable[str], out: TextIO, err: TextIO | None = None) -> int:
    """Print one JSON line per datagram as it is read; a file that cannot be read is reported on `err` in one
    line and the other files are still decoded. Returns 1 when anything failed, else 0."""
    err = sys.stderr if err is None else err
    failed = False
    for name in files:
        try:
            for data in datagrams(Path(name)):
                result = decode(data)
                if result:
                    out.write(to_json(result.to_dict()) + "\n")
                else:
                    failed = True
                    out.write(to_json({**result.to_dict(), "file": name}) + "\n")
        except CaptureError as exc:  # its message names the file
            print(f"rigbridge decode: {exc}", file=err)
            failed = True
        except UnreadableInput as exc:
            print(f"rigbridge decode: {name}: {exc}", file=err)
            failed = True
        except BrokenPipeError:
            raise  # our reader went away, not our input: the command ends quietly
        except OSError as exc:
            print(f"rigbridge decode: {name}: {exc.strerror or exc}", file=err)
            failed = True
    return 1 if failed else 0
