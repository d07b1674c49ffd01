"""Every subcommand given hostile or careless input, as a real process: one line naming the problem, a non-zero
exit, never a traceback."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.games.f1.codec import build, encode
from bridge.ingest.capture import FILE_HEADER, MAGIC, CaptureWriter
from tests.ingest.helpers import LOCAL, Collector, frame_datagrams

ROOT = Path(__file__).resolve().parents[1]


def rigbridge(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("hostile")
    version_9 = base / "v9.rbcap"
    version_9.write_bytes(FILE_HEADER.pack(MAGIC, 9, FILE_HEADER.size, 0, 0))
    cut_header = base / "cut.rbcap"
    cut_header.write_bytes(MAGIC + b"\x01\x00")
    huge = base / "huge.bin"
    with huge.open("wb") as f:
        f.truncate(200_000_000)  # sparse: costs no disk, and must never be read
    text = base / "notes.txt"
    text.write_text("not a capture\n")
    capture = base / "one.rbcap"
    with CaptureWriter(capture) as writer:
        writer.write(frame_datagrams(0)[0], 0)
    return {
        "v9": str(version_9),
        "cut": str(cut_header),
        "huge": str(huge),
        "text": str(text),
        "capture": str(capture),
        "dir": str(base),
        "missing": str(base / "missing.rbcap"),
    }


# (command line with {file} placeholders, exit code, what the last line of the message must say)
CASES = {
    "decode-capture-version": ("decode {v9}", 1, "capture version 9 is not supported"),
    "decode-cut-header": ("decode {cut}", 1, "shorter than its 24-byte header"),
    "decode-dev-zero": ("decode /dev/zero", 1, "/dev/zero: too large to be one datagram"),
    "decode-huge-raw-file": ("decode {huge}", 1, "too large to be one datagram (200000000 bytes"),
    "decode-directory": ("decode {dir}", 1, "is a directory"),
    "decode-missing": ("decode {missing}", 1, "missing.rbcap: No such file or directory"),
    "replay-speed-tiny": ("replay {capture} --speed 1e-300", 2, "argument --speed: must be a number from 0.001"),
    "replay-speed-nan": ("replay {capture} --speed nan", 2, "argument --speed: must be a number from 0.001"),
    "replay-speed-inf": ("replay {capture} --speed inf", 2, "argument --speed: must be a number from 0.001"),
    "replay-speed-text": ("replay {capture} --speed fast", 2, "argument --speed: expected a number, got 'fast'"),
    "replay-host-unresolvable": ("replay {capture} --to no-such-host.invalid:5", 2, "cannot resolve no-such-host"),
    "replay-target-malformed": ("replay {capture} --to nowhere", 2, "--to 'nowhere'"),
    "replay-capture-version": ("replay {v9}", 2, "capture version 9 is not supported"),
    "replay-not-a-capture": ("replay {text}", 2, "not a rigbridge capture file"),
    "replay-directory": ("replay {dir}", 2, "Is a directory"),
    "replay-missing": ("replay {missing}", 2, "No such file or directory"),
    "synth-host-unresolvable": ("synth --to no-such-host.invalid:5 --duration 1", 2, "cannot resolve no-such-host"),
    "synth-speed-inf": ("synth --speed inf --duration 1", 2, "argument --speed: must be a number from 0.001"),
    "synth-speed-zero": ("synth --speed 0 --duration 1", 2, "argument --speed: must be a number from 0.001"),
    "synth-duration-nan": ("synth --duration nan", 2, "argument --duration: must be a number above 0"),
    "synth-duration-overflow": ("synth --duration 1e400", 2, "argument --duration: must be a number above 0"),
    "synth-cars": ("synth --cars 999 --duration 1", 2, "argument --cars: must be an integer from 2 to 24"),
    "record-duration-inf": ("record {missing} --duration inf", 2, "argument --duration: must be a number above 0"),
    "record-port": ("record {missing} --port 70000", 2, "argument --port: must be an integer from 0 to 65535"),
    "record-bind-not-an-address": ("record {missing} --bind here", 2, "--bind must be an IP address"),
    "record-bind-not-local": (
        "record {missing} --port 0 --bind 198.51.100.77", 1, "cannot listen on UDP 198.51.100.77:0: Cannot assign"
    ),
    "record-directory": ("record {dir} --port 0 --bind 127.0.0.1", 1, "cannot open for writing: Is a directory"),
    "record-not-a-capture": ("record {text} --port 0 --bind 127.0.0.1", 2, "not a rigbridge capture file (bad magic)"),
    "demo-duration-nan": ("demo --duration nan", 2, "argument --duration: must be a number above 0"),
    "demo-config-missing": ("demo -c {missing} --duration 1", 2, "cannot read file: No such file or directory"),
    "run-config-directory": ("run -c {dir}", 2, "cannot read file: Is a directory"),
    "check-config-missing": ("check-config {missing}", 2, "cannot read file: No such file or directory"),
    "check-config-directory": ("check-config {dir}", 2, "cannot read file: Is a directory"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_ends_with_one_line_and_a_non_zero_exit(case: str, files: dict[str, str]) -> None:
    command, code, message = CASES[case]
    result = rigbridge(*command.format(**files).split())
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    # check-config prints the problems it finds as its output; every other message goes to stderr
    stream = output if command.startswith(("run", "check-config")) else result.stderr
    last = stream.strip().splitlines()[-1]
    assert message in last, output


def test_decode_reports_a_bad_file_and_still_decodes_the_others(files: dict[str, str], tmp_path: Path) -> None:
    raw = tmp_path / "telemetry.bin"
    raw.write_bytes(frame_datagrams(0)[0])
    result = rigbridge("decode", files["v9"], "/dev/zero", str(raw), files["capture"])
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 2  # the raw datagram and the capture's one record
    assert result.stderr.splitlines() == [
        f"rigbridge decode: {files['v9']}: capture version 9 is not supported (this build reads 1)",
        "rigbridge decode: /dev/zero: too large to be one datagram (more than 65535 bytes; "
        "a UDP payload is at most 65535) (captures are read from regular files)",
    ]


def closed_pipe_run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe nobody reads any more (`rigbridge ... | head -1` after head has exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "bridge", *args], cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE,
            text=True, timeout=20,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", ["topics --markdown", "decode {capture}"])
def test_reader_going_away_ends_quietly_with_exit_0(command: str, files: dict[str, str]) -> None:
    """The rest of the output has nowhere to go: the reader chose to stop, which is no error."""
    result = closed_pipe_run(*command.format(**files).split())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_ctrl_c_while_waiting_for_input_is_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "datagram"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "decode", str(fifo)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    # Opening the FIFO for writing succeeds once decode has it open for reading: then it waits for data.
    deadline = time.monotonic() + 15
    while True:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            assert exc.errno == errno.ENXIO and time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    try:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=15)
    finally:
        os.close(writer)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip() == "rigbridge decode: interrupted"


def test_replay_of_a_damaged_timestamp_plays_on_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "damaged.rbcap"
    data = frame_datagrams(0)
    with CaptureWriter(path) as writer:
        writer.write(data[0], 0)
        writer.write(data[1], 2**64 - 1)  # 584 years after the first: would overflow a sleep
        writer.write(data[2], 20_000_000)
        writer.write(data[3], 40_000_000)
    with Collector() as target:
        started = time.monotonic()
        result = rigbridge("replay", str(path), "--to", target.target)
        assert result.returncode == 0, result.stderr
        target.wait_for(4, timeout=5)
        assert target.data() == data[:4]
    assert time.monotonic() - started < 10
    assert "Traceback" not in result.stderr
    assert (
        "warning: 2 records (the first is record 1) are stamped earlier than the one before or more than 3600 s "
        "after it (damaged timestamps); they are sent without that pause" in result.stderr
    )


def test_synth_duration_bounds_wall_time_at_any_speed() -> None:
    started = time.monotonic()
    result = rigbridge("synth", "--to", f"{LOCAL}:9", "--speed", "1000", "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 8  # 1 s of sending, plus start-up on a busy machine
    assert "sent" in result.stderr and "Traceback" not in result.stderr


def test_an_unexpected_error_is_one_line_with_a_pointer_to_debug(tmp_path: Path) -> None:
    """The last resort, shown with a terminal that cannot print a driver's name: one line, and --debug shows more."""
    names = tmp_path / "participants.bin"
    names.write_bytes(encode(build(2025, 4, {"numActiveCars": 1, "participants": [{"name": "Pérez"}]})))
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    command = [sys.executable, "-m", "bridge", "decode", str(names)]
    plain = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=20)
    assert plain.returncode == 1
    [line] = plain.stderr.splitlines()
    assert line.startswith("rigbridge decode: unexpected error: UnicodeEncodeError: 'ascii' codec can't encode")
    assert line.endswith("(run `rigbridge --debug decode ...` to see where)")
    debug = subprocess.run([*command[:3], "--debug", *command[3:]], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=20)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "UnicodeEncodeError" in debug.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
@pytest.mark.parametrize("command", ["decode {path}", "replay {path}", "record {path} --port 0 --bind 127.0.0.1"])
def test_permission_denied_is_one_line(command: str, tmp_path: Path) -> None:
    path = tmp_path / "locked.rbcap"
    with CaptureWriter(path) as writer:
        writer.write(b"x", 0)
    path.chmod(0)
    result = rigbridge(*command.format(path=path).split())
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Permission denied" in result.stderr.strip().splitlines()[-1]
