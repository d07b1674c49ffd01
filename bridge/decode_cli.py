"""`rigbridge decode FILE...`: one JSON object per datagram, the contract other tools script against.

Each datagram is decoded by the game its signature names (`bridge.games.registry`), or by the game given with
`--game`. F1 datagrams print as they always have (header, packet, body); other games' as
`{"game": KEY, "packet": VARIANT, ...fields}`. A datagram no game claims is reported by F1's decoder, whose
reasons (unknown_format, too_short...) say what is wrong with it.
"""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bridge.games.forza.layouts import SIZES as FORZA_SIZES
from bridge.games.registry import BY_KEY, F1, FORZA, Game, identify
from bridge.ingest.capture import MAX_DATAGRAM, CaptureError, CaptureReader, is_capture
from bridge.jsontext import json_text

GAME_CHOICES = ("auto", *BY_KEY)


def to_json(obj: dict[str, Any]) -> str:
    return json_text(obj, ensure_ascii=False)


class UnreadableInput(Exception):
    """A file decode cannot take (a directory, too large for a datagram, a damaged capture); the message says why."""


def datagrams(path: Path, game: str = "auto") -> Iterator[tuple[bytes, Game | None]]:
    """The datagrams in a file, read as they are needed, each with the game that must decode it (None: the one
    its signature names). A rigbridge capture is read record by record (constant memory whatever its size); a
    raw Forza recording (datagrams of one size back to back, no header) is split by that size; anything else is
    one raw datagram, read no further than one datagram can be long.

    Raises UnreadableInput or OSError with the reason; a damaged capture raises after its good records.
    """
    forced = BY_KEY.get(game)
    info = path.stat()
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise UnreadableInput("is a directory")
    if stat.S_ISREG(mode) and is_capture(path):
        reader = CaptureReader(path)
        for record in reader:
            yield record.data, forced
        damage = []
        if reader.corrupt:
            damage.append(f"{reader.corrupt} records skipped (CRC mismatch)")
        if reader.truncated:
            damage.append(f"capture cut short after {reader.records + reader.corrupt} records")
        if damage:
            raise UnreadableInput("; ".join(damage))
        return
    if stat.S_ISREG(mode) and forced is not F1:
        size = forza_datagram_size(path, info.st_size, required=forced is FORZA)
        if size is not None:
            yield from ((chunk, FORZA) for chunk in _chunks(path, size))
            return
    # A raw datagram: a regular file is judged by its size, anything else (a device, a pipe) by reading one byte
    # more than a datagram can hold, so /dev/zero or a huge file is refused without being read.
    if stat.S_ISREG(mode) and info.st_size > MAX_DATAGRAM:
        raise UnreadableInput(_too_large(f"{info.st_size} bytes", "and not a capture"))
    with open(path, "rb") as f:
        data = f.read(MAX_DATAGRAM + 1)
    if len(data) > MAX_DATAGRAM:
        raise UnreadableInput(_too_large(f"more than {MAX_DATAGRAM} bytes", "(captures are read from regular files)"))
    yield data, forced


def forza_datagram_size(path: Path, file_size: int, *, required: bool) -> int | None:
    """The Forza datagram size a raw file is a recording of: the file is a whole number of datagrams of that size
    and its first and last datagrams carry Forza's signature. With `required` (`--game forza`) the signature is
    not asked for, and a file of no Forza size larger than one datagram is refused with the reason."""
    candidates = [n for n in FORZA_SIZES if file_size and file_size % n == 0]
    with open(path, "rb") as f:
        for n in candidates:
            first = f.read(n)
            f.seek(file_size - n)
            last = f.read(n)
            f.seek(0)
            if FORZA.matches(first) and FORZA.matches(last):
                return n
    if not required:
        return None
    if candidates:
        return candidates[0]
    if file_size > MAX_DATAGRAM:
        sizes = ", ".join(map(str, FORZA_SIZES))
        raise UnreadableInput(f"{file_size} bytes is not a whole number of Forza datagrams ({sizes} bytes each)")
    return None


def _chunks(path: Path, size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def _too_large(size: str, hint: str) -> str:
    return f"too large to be one datagram ({size}; a UDP payload is at most {MAX_DATAGRAM}) {hint}"


def decode_files(files: Iterable[str], out: TextIO, err: TextIO | None = None, game: str = "auto") -> int:
    """Print one JSON line per datagram as it is read; a file that cannot be read is reported on `err` in one
    line and the other files are still decoded. Returns 1 when anything failed, else 0."""
    err = sys.stderr if err is None else err
    failed = False
    for name in files:
        try:
            for data, forced in datagrams(Path(name), game):
                decoder = forced or identify(data) or F1
                result = decoder.decode(data)
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
