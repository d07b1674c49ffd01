"""Capture files: truncated replay, append repair, the documented layout."""

from __future__ import annotations

import io
import os
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from bridge.ingest.capture import FILE_HEADER, MAGIC, CaptureReader, CaptureWriter, check_capture_file, read_capture
from bridge.ingest.record import replay_main
from tests.ingest.helpers import Collector, frame_datagrams


def _write_capture(path: Path, count: int, step_ns: int = 1_000_000) -> list[bytes]:
    payloads = [d for frame in range(count // 5 + 1) for d in frame_datagrams(frame)][:count]
    with CaptureWriter(path) as writer:
        for i, data in enumerate(payloads):
            writer.write(data, i * step_ns)
    return payloads


def test_truncated_capture_replays_complete_records_and_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "cut.rbcap"
    payloads = _write_capture(path, 10)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size - len(payloads[-1]) // 2)  # cut inside the last record's data

    reader = CaptureReader(path)
    assert [r.data for r in reader] == payloads[:9]
    assert reader.truncated and reader.records == 9

    err = io.StringIO()
    with Collector() as target:
        code = replay_main(str(path), to=target.target, speed=1.0, err=err)
        got = target.wait_for(9, timeout=3)
    assert code == 0
    assert [d for d, _ in got] == payloads[:9]
    assert "capture truncated after 9 records" in err.getvalue()


def test_truncated_inside_a_record_header_too(tmp_path: Path) -> None:
    path = tmp_path / "cut.rbcap"
    payloads = _write_capture(path, 4)
    data = path.read_bytes()
    path.write_bytes(data[: -(len(payloads[-1]) + 8)])  # the last record's header is cut short
    reader = CaptureReader(path)
    assert [r.data for r in reader] == payloads[:3]
    assert reader.truncated


def test_writer_appending_to_a_truncated_capture_repairs_it(tmp_path: Path) -> None:
    path = tmp_path / "cut.rbcap"
    payloads = _write_capture(path, 6)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 3)
    ticks = iter([1_000_000_000, 1_000_000_000])  # the writer's clock: origin, then the append
    with CaptureWriter(path, clock_ns=lambda: next(ticks)) as writer:
        writer.write(b"appended")
    reader = CaptureReader(path)
    records = list(reader)
    assert not reader.truncated and reader.corrupt == 0
    assert [r.data for r in records] == [*payloads[:5], b"appended"]
    # the timeline continues after the last surviving record: timestamps never go backwards
    assert records[-1].t_ns == records[-2].t_ns == 4_000_000


def test_writer_origin_matches_given_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "o.rbcap"
    clock = iter([5_000, 7_500])
    with CaptureWriter(path, clock_ns=lambda: next(clock)) as writer:
        assert writer.origin_ns == 5_000
        writer.write(b"a", 12_345 - writer.origin_ns)
        writer.write(b"b")  # default: the writer's own clock
    assert [(r.t_ns, r.data) for r in read_capture(path)] == [(7_345, b"a"), (2_500, b"b")]


def _documented_reader() -> Callable[[Path], Iterator[tuple[int, bytes]]]:
    """The struct-only reader printed in docs/capture-format.md, executed as written."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "capture-format.md").read_text()
    match = re.search(r"## Reading a capture in Python with only `struct`.*?```python\n(.*?)```", doc, re.S)
    assert match, "the struct-only example is missing from docs/capture-format.md"
    namespace: dict[str, object] = {}
    exec(match.group(1), namespace)
    reader = namespace["read_capture"]
    assert callable(reader)
    return reader  # type: ignore[return-value]


def test_documented_struct_reader_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    path = tmp_path / "doc.rbcap"
    payloads = _write_capture(path, 7, step_ns=16_666_667)
    read = _documented_reader()
    expected = [(i * 16_666_667, d) for i, d in enumerate(payloads)]
    assert list(read(path)) == expected
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 2)
    assert list(read(path)) == expected[:-1]  # stops quietly at the truncated record


def test_layout_as_documented(tmp_path: Path) -> None:
    path = tmp_path / "layout.rbcap"
    before = time.time_ns()
    payloads = _write_capture(path, 3, step_ns=16_666_667)
    raw = path.read_bytes()
    magic, version, header_size, start_ns, reserved = struct.unpack_from("<8sHHQI", raw, 0)
    assert (magic, version, header_size, reserved) == (b"RBCAPTUR", 1, 24, 0)
    assert before <= start_ns <= time.time_ns()  # wall clock, Unix ns
    pos, out = header_size, []
    while pos < len(raw):
        t_ns, n, crc = struct.unpack_from("<QHI", raw, pos)
        data = raw[pos + 14 : pos + 14 + n]
        assert zlib.crc32(data) == crc
        out.append((t_ns, data))
        pos += 14 + n
    assert pos == len(raw)
    assert out == [(i * 16_666_667, d) for i, d in enumerate(payloads)]


def test_corrupt_record_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "bad.rbcap"
    payloads = _write_capture(path, 3)
    raw = bytearray(path.read_bytes())
    raw[24 + 14] ^= 0xFF  # first byte of the first datagram
    path.write_bytes(bytes(raw))
    reader = CaptureReader(path)
    assert [r.data for r in reader] == payloads[1:]
    assert reader.corrupt == 1 and not reader.truncated


def test_check_capture_file_accepts_what_recording_may_append_to(tmp_path: Path) -> None:
    assert check_capture_file(tmp_path / "new.rbcap") is None  # absent: recording creates it
    (tmp_path / "empty.rbcap").write_bytes(b"")
    assert check_capture_file(tmp_path / "empty.rbcap") is None
    _write_capture(tmp_path / "race.rbcap", 3)
    assert check_capture_file(tmp_path / "race.rbcap") is None
    with CaptureWriter(tmp_path / "no-records.rbcap"):
        pass
    assert check_capture_file(tmp_path / "no-records.rbcap") is None


def test_check_capture_file_names_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "rigbridge.yaml"
    config.write_text("udp: {port: 20777}\n")
    version_9 = tmp_path / "v9.rbcap"
    version_9.write_bytes(FILE_HEADER.pack(MAGIC, 9, FILE_HEADER.size, 0, 0))
    cut = tmp_path / "cut.rbcap"
    cut.write_bytes(MAGIC + b"\x01")
    small_header = tmp_path / "small.rbcap"
    small_header.write_bytes(FILE_HEADER.pack(MAGIC, 1, 8, 0, 0))
    expected = {
        config: "not a rigbridge capture file (bad magic)",
        version_9: "capture version 9 is not supported (this build reads 1)",
        cut: "not a rigbridge capture file (only 9 bytes, shorter than its 24-byte header)",
        small_header: "not a rigbridge capture file (header size 8 is below 24)",
        tmp_path: "is a directory, not a capture file",
        Path("/dev/null"): "is not a regular file",
        config / "below-a-file.rbcap": "Not a directory",
    }
    for path, reason in expected.items():
        assert check_capture_file(path) == reason, path
    assert config.read_text() == "udp: {port: 20777}\n"  # only read


def test_check_capture_file_never_opens_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert check_capture_file(fifo) == "is not a regular file"  # opening it would wait for a writer forever
