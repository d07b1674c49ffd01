"""rigbridge capture files: datagrams with nanosecond timestamps, streamable and append-safe.

Layout (little-endian; see docs/capture-format.md):

    file header, 24 bytes:  magic b"RBCAPTUR" | u16 version (1) | u16 header size (24) | u64 start, Unix ns | u32 0
    record, 14 + n bytes:   u64 ns since start | u16 n | u32 CRC-32 of the data | n bytes of datagram

No index: a reader streams records until the end. A crash can only leave a partial last record, which readers
report and skip; `CaptureWriter` truncates it before appending, so a file is always a valid prefix.
"""

from __future__ import annotations

import os
import stat
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

MAGIC = b"RBCAPTUR"
VERSION = 1
FILE_HEADER = struct.Struct("<8sHHQI")
RECORD_HEADER = struct.Struct("<QHI")
MAX_DATAGRAM = 0xFFFF


class CaptureError(Exception):
    """The file is not a rigbridge capture, or is of a version this build cannot read."""


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    t_ns: int  # nanoseconds since the start of the recording
    data: bytes


def is_capture(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


class CaptureReader:
    """Iterates a capture's records; afterwards `truncated` tells whether the last record was cut short."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.start_ns = 0
        self.truncated = False
        self.records = 0  # complete records with a good CRC, yielded so far
        self.corrupt = 0  # records whose CRC did not match (skipped)
        self.valid_bytes = 0  # length of the valid prefix of the file

    def __iter__(self) -> Iterator[CaptureRecord]:
        with open(self.path, "rb") as f:
            self.start_ns = _read_file_header(f, self.path)
            self.valid_bytes = FILE_HEADER.size
            while True:
                head = f.read(RECORD_HEADER.size)
                if not head:
                    return
                if len(head) < RECORD_HEADER.size:
                    self.truncated = True
                    return
                t_ns, size, crc = RECORD_HEADER.unpack(head)
                data = f.read(size)
                if len(data) < size:
                    self.truncated = True
                    return
                self.valid_bytes += RECORD_HEADER.size + size
                if zlib.crc32(data) != crc:
                    self.corrupt += 1
                    continue
                self.records += 1
                yield CaptureRecord(t_ns, data)


def read_capture(path: str | os.PathLike[str]) -> Iterator[CaptureRecord]:
    return iter(CaptureReader(path))


def check_capture_file(path: str | os.PathLike[str]) -> str | None:
    """Why recording may not append to `path`, in one line; None when it may (absent, empty, or a capture).

    Reads only the header, and never opens what is not a regular file (a FIFO would block, a device never ends).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a capture file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_size == 0:
        return None
    try:
        with open(path, "rb") as f:
            raw = f.read(FILE_HEADER.size)
    except OSError as exc:
        return exc.strerror or str(exc)
    return header_problem(raw)


def header_problem(raw: bytes) -> str | None:
    """Why `raw`, the first bytes of a file, is not a capture header this build reads; None when it is."""
    if not raw:
        return "not a rigbridge capture file (empty)"
    if raw[: len(MAGIC)] != MAGIC[: len(raw)]:
        return "not a rigbridge capture file (bad magic)"
    if len(raw) < FILE_HEADER.size:
        return f"not a rigbridge capture file (only {len(raw)} bytes, shorter than its {FILE_HEADER.size}-byte header)"
    _, version, header_size, _, _ = FILE_HEADER.unpack_from(raw)
    if version != VERSION:
        return f"capture version {version} is not supported (this build reads {VERSION})"
    if header_size < FILE_HEADER.size:
        return f"not a rigbridge capture file (header size {header_size} is below {FILE_HEADER.size})"
    return None


def _read_file_header(f: BinaryIO, path: Path) -> int:
    raw = f.read(FILE_HEADER.size)
    problem = header_problem(raw)
    if problem is not None:
        raise CaptureError(f"{path}: {problem}")
    _, _, header_size, start_ns, _ = FILE_HEADER.unpack(raw)
    f.seek(header_size)
    return cast(int, start_ns)


class CaptureWriter:
    """Appends datagrams to a capture; a new file gets a header, an existing one is repaired and continued."""

    def __init__(self, path: str | os.PathLike[str], *, clock_ns: Callable[[], int] = time.monotonic_ns,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.path = Path(path)
        self._clock_ns = clock_ns
        self.records = 0
        self.bytes = 0
        if self.path.exists() and self.path.stat().st_size > 0:
            reader = CaptureReader(self.path)
            last_t = 0
            for record in reader:
                last_t = record.t_ns
            self._file: BinaryIO = open(self.path, "r+b")  # noqa: SIM115 - open for the writer's lifetime
            self._file.truncate(reader.valid_bytes)
            self._file.seek(reader.valid_bytes)
            # Continue the timeline after the last record so replay timing stays monotonic.
            self._origin = clock_ns() - last_t
        else:
            self._file = open(self.path, "wb")  # noqa: SIM115 - open for the writer's lifetime
            self._file.write(FILE_HEADER.pack(MAGIC, VERSION, FILE_HEADER.size, wall_ns(), 0))
            self._origin = clock_ns()

    @property
    def origin_ns(self) -> int:
        """The clock reading (`clock_ns`, monotonic by default) that is t_ns 0 in this file's timeline.

        A receiver that timestamps with `time.monotonic_ns()` writes `write(data, t - writer.origin_ns)`.
        """
        return self._origin

    def write(self, data: bytes, t_ns: int | None = None) -> None:
        """Append one record; `t_ns` is nanoseconds since `origin_ns` (default: now by `clock_ns`)."""
        if len(data) > MAX_DATAGRAM:
            raise ValueError(f"datagram of {len(data)} bytes does not fit a capture record")
        if t_ns is None:
            t_ns = self._clock_ns() - self._origin
        self._file.write(RECORD_HEADER.pack(t_ns, len(data), zlib.crc32(data)) + data)
        self.records += 1
        self.bytes += len(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
