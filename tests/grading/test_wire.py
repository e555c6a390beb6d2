"""The wire between the grader and the jailed job (convkit.grade.wire), on bare pipes and sockets.

No sandbox runs here: each test writes by hand what a job, a student's code or the grader
could put on a channel, and checks what the other end makes of it. The bounds are passed
small so that a test writes kilobytes, not the real limits' megabytes.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from convkit.grade import wire
from convkit.grade.wire import Commands, Reader, loads_bounded


@pytest.fixture
def pipe():
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        try:
            os.close(fd)
        except OSError:
            pass


def _soon(seconds: float = 2.0) -> float:
    return time.monotonic() + seconds


# --------------------------------------------------------------------------- bounds


def test_the_results_channel_bounds_depth_and_line_length(pipe):
    read, write = pipe
    assert loads_bounded(b'[1, {"a": "[[[["}, [2]]') == [1, {"a": "[[[["}, [2]]
    with pytest.raises(ValueError, match="deeply"):
        loads_bounded(b"[" * 100_000 + b"]" * 100_000)
    os.write(write, b'{"event": "cell", "index": 0}\nnot json\n' + b"[" * 5000 + b'\n{"event": "x"}\n')
    reader = Reader(read)
    assert reader.next(_soon(1)) == {"event": "cell", "index": 0}
    assert reader.next(_soon(1)) == {"event": "x"}  # the garbage lines skipped
    assert reader.next(_soon(0.2)) == "timeout"


def test_loads_bounded_refuses_a_valid_line_one_byte_over_its_limit():
    line = b'{"value": "' + b"x" * 100 + b'"}'  # 113 bytes
    assert loads_bounded(line, limit=113) == {"value": "x" * 100}
    with pytest.raises(ValueError, match="too long"):
        loads_bounded(line, limit=112)


def test_a_line_without_newline_is_searched_once_then_refused(pipe):
    read, write = pipe
    os.set_blocking(write, False)
    reader = Reader(read)
    for _ in range(40):  # 40 writes with no newline: the searched prefix grows with the buffer
        os.write(write, b"x" * 4096)
        assert reader.next(_soon(0.01)) == "timeout"
        assert reader.scanned == len(reader.buffer) == reader.total


def test_an_unterminated_line_over_the_bound_is_refused_as_garbage(pipe):
    read, write = pipe
    reader = Reader(read, max_line=1000)
    os.write(write, b'{"event": "result", "value": "' + b"x" * 900)
    assert reader.next(_soon(0.2)) == "timeout"  # 930 bytes: within the bound, waiting for more
    os.write(write, b"x" * 100)
    assert reader.next(_soon(0.2)) == "garbage"  # 1030 bytes and still no line end


def test_a_complete_frame_over_the_line_bound_is_skipped_not_parsed(pipe):
    read, write = pipe
    long = b'{"event": "result", "index": 0, "nonce": "n", "value": "' + b"x" * 2000 + b'"}\n'
    os.write(write, long + b'{"event": "cells_done"}\n')
    assert Reader(read, max_line=1000).next(_soon()) == {"event": "cells_done"}


def test_a_job_that_writes_more_than_its_total_is_cut_off(pipe):
    read, write = pipe
    reader = Reader(read, max_total=100)
    os.write(write, b'{"event": "cell", "index": 0}\n' * 2)  # 60 bytes: within the total
    assert reader.next(_soon()) == {"event": "cell", "index": 0}
    assert reader.next(_soon()) == {"event": "cell", "index": 0}
    os.write(write, b'{"event": "cell", "index": 1}\n' * 2)  # 120 bytes in all
    assert reader.next(_soon()) == "garbage"


def test_a_command_line_over_its_bound_ends_the_jobs_command_reader(pipe):
    read, write = pipe
    commands, got = Commands(read, limit=100), []
    thread = threading.Thread(target=lambda: got.append(commands.next()), daemon=True)
    thread.start()
    os.write(write, b'{"check": 0, "name": "' + b"x" * 300)  # no line end, over the bound
    deadline = _soon(10)
    while thread.is_alive() and time.monotonic() < deadline:  # more bytes, still no line end
        os.write(write, b"x" * 10)
        thread.join(0.05)
    assert got == [None]


# --------------------------------------------------------------------------- frames


def test_a_truncated_last_frame_is_not_read_as_a_message(pipe):
    read, write = pipe
    # The job died mid-write: its last line is valid JSON but lacks the line end that ends a frame.
    os.write(write, b'{"event": "cell", "index": 0}\n{"event": "cells_done"}')
    os.close(write)
    reader = Reader(read)
    assert reader.next(_soon()) == {"event": "cell", "index": 0}
    assert reader.next(_soon()) == "eof"


def test_lines_that_are_not_json_objects_are_skipped(pipe):
    read, write = pipe
    junk = [b"not json", b"[1, 2]", b"42", b'"text"', b"null", b"\xff\xfe", b'{"unclosed": ', b""]
    os.write(write, b"\n".join(junk) + b'\n{"event": "ready"}\n')
    assert Reader(read).next(_soon()) == {"event": "ready"}


def test_a_command_that_is_not_json_raises_in_the_job(pipe):
    read, write = pipe
    os.write(write, b'{"check": 0}\nnot json\n')
    commands = Commands(read)
    assert commands.next() == {"check": 0}
    with pytest.raises(ValueError):
        commands.next()


def test_events_split_across_writes_and_mixed_with_garbage_come_out_in_order(pipe):
    read, write = pipe
    stream = (
        b'{"event": "ready"}\n'
        b'{"event": "cell", "index": 0}\n'
        b"print output that slipped into the pipe\n"
        b'{"event": "cell_done", "index": 0, "error": null}\n'
        b'{"event": "cells_done"}\n'
        b'{"event": "forbidden", "index": 3, "nonce": "ab", "name": "numpy.convolve"}\n'
        b"[0, 1]\n"
        b'{"event": "result", "index": 3, "nonce": "ab", "value": 2.5}\n'
    )

    def trickle():  # four frames in one write, then 7 bytes at a time: frames arrive in pieces
        first = stream.index(b'{"event": "cells_done"}') + 5
        os.write(write, stream[:first])
        for start in range(first, len(stream), 7):
            time.sleep(0.002)
            os.write(write, stream[start : start + 7])

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    reader = Reader(read)
    got = [reader.next(_soon(10)) for _ in range(6)]
    writer.join()
    assert got == [
        {"event": "ready"},
        {"event": "cell", "index": 0},
        {"event": "cell_done", "index": 0, "error": None},
        {"event": "cells_done"},
        {"event": "forbidden", "index": 3, "nonce": "ab", "name": "numpy.convolve"},
        {"event": "result", "index": 3, "nonce": "ab", "value": 2.5},
    ]


def test_commands_written_together_are_read_one_at_a_time_in_order(pipe):
    read, write = pipe
    os.write(write, b'{"check": 0, "nonce": "a"}\n{"check": 1, "nonce": "b"}\n{"end": true}\n')
    commands = Commands(read)
    assert [commands.next() for _ in range(3)] == [
        {"check": 0, "nonce": "a"},
        {"check": 1, "nonce": "b"},
        {"end": True},
    ]
    os.close(write)
    assert commands.next() is None


def test_a_frame_is_one_line_of_json_and_nan_can_be_refused():
    assert wire.frame({"event": "cell", "index": 0}) == b'{"event": "cell", "index": 0}\n'
    assert json.loads(wire.frame({"text": "a\nb"})) == {"text": "a\nb"}  # a newline inside stays escaped
    assert wire.frame({"x": 1}).count(b"\n") == 1
    with pytest.raises(ValueError):
        wire.frame({"value": float("nan")}, allow_nan=False)


def test_a_jobs_events_are_the_ones_the_grader_follows(pipe):
    """The job's side (convkit.grade.jail.run_job, in a plain fork: no namespaces) and the
    grader's (classgrader._run_cells, then one check) agree on every event name."""
    from convkit.grade import classgrader, jail
    from convkit.grade.codec import decode

    results_r, results_w = pipe
    commands_r, commands_w = os.pipe()
    job = {"cells": ["x = 6 * 7", "raise ValueError('no')"], "timeout": 5.0, "skip_cells": []}
    job["limits"] = jail.Limits().__dict__
    pid = os.fork()
    if pid == 0:
        os.close(results_r)
        os.close(commands_w)
        jail.run_job(job, results_w, commands_r)  # never returns
    os.close(results_w)
    os.close(commands_r)
    try:
        reader, cell_errors = Reader(results_r), {}
        assert classgrader._run_cells(reader, cell_errors, 5.0, 1.0, _soon(60)) == (None, None)
        assert cell_errors == {1: "ValueError: no"}
        command = {"check": 0, "nonce": "n1", "name": "x", "args": None, "torch": False, "forbid": []}
        os.write(commands_w, wire.frame(command))
        reply = reader.next(_soon(60))
        assert {k: reply.get(k) for k in ("event", "index", "nonce")} == {
            "event": "result",
            "index": 0,
            "nonce": "n1",
        }
        assert decode(reply["value"]) == 42
        os.write(commands_w, wire.frame({"end": True}))
        assert reader.next(_soon(60)) == "eof"
    finally:
        os.close(commands_w)
        os.waitpid(pid, 0)


# --------------------------------------------------------------------------- deadlines


def test_the_reader_waits_until_its_deadline_and_no_longer(pipe):
    read, write = pipe
    os.write(write, b'{"event": "cell", "ind')  # a frame begun, never finished
    began = time.monotonic()
    assert Reader(read).next(began + 0.5) == "timeout"
    waited = time.monotonic() - began
    assert waited >= 0.5
    assert waited < 3.0  # generous: the machine may be loaded


def test_a_deadline_already_passed_times_out_at_once(pipe):
    read, _ = pipe
    began = time.monotonic()
    assert Reader(read).next(began - 1.0) == "timeout"
    assert time.monotonic() - began < 0.5


def test_a_message_before_the_deadline_is_returned_when_it_arrives(pipe):
    read, write = pipe
    timer = threading.Timer(0.3, lambda: os.write(write, b'{"event": "ready"}\n'))
    began = time.monotonic()  # before the timer starts: the message cannot come sooner than 0.3 s after
    timer.start()
    try:
        assert Reader(read).next(began + 20) == {"event": "ready"}
    finally:
        timer.join()
    assert 0.3 <= time.monotonic() - began < 10


def test_the_control_pipe_gives_the_pid_or_none_in_time(pipe):
    read, write = pipe
    os.write(write, wire.pid_line(4321))
    assert wire.pid_line(4321) == b"4321\n"
    assert wire.read_pid(read, 2.0) == 4321
    began = time.monotonic()
    assert wire.read_pid(read, 0.3) is None  # nothing more comes
    assert 0.3 <= time.monotonic() - began < 3.0
    os.write(write, b"not a pid\n")
    assert wire.read_pid(read, 2.0) is None


# --------------------------------------------------------------------------- jobs on the socket


@pytest.fixture
def sockets():
    grader, forkserver = socket.socketpair()
    forkserver.settimeout(10)  # a receiver that waits for bytes never sent fails instead of hanging
    yield grader, forkserver
    grader.close()
    forkserver.close()


def _three_pipes():
    pipes = [os.pipe() for _ in range(3)]
    return [r for r, _ in pipes], [w for _, w in pipes]


def test_a_job_and_its_three_pipe_ends_cross_the_socket_intact(sockets):
    grader, forkserver = sockets
    reads, writes = _three_pipes()
    job = {"cells": ["x = 1"] * 1000, "timeout": 5.0, "limits": {"memory_mb": 64}}
    sender = threading.Thread(target=wire.send_job, args=(grader, json.dumps(job).encode(), writes))
    sender.start()  # the payload is larger than a socket buffer: send and receive at once
    received, fds = wire.receive_job(forkserver)
    sender.join()
    assert received == job and len(fds) == 3
    for index, fd in enumerate(fds):  # each received end writes into the pipe it was sent for
        os.write(fd, f"pipe {index}".encode())
        os.close(fd)
    assert [os.read(r, 100) for r in reads] == [b"pipe 0", b"pipe 1", b"pipe 2"]
    for fd in reads + writes:
        os.close(fd)


def test_a_job_over_the_bound_is_refused_and_its_pipe_ends_closed(sockets):
    grader, forkserver = sockets
    reads, writes = _three_pipes()
    header = (wire.MAX_JOB_BYTES + 1).to_bytes(8, "big")
    socket.send_fds(grader, [header], writes)
    for fd in writes:  # now only the forkserver's received copies hold the write ends
        os.close(fd)
    with pytest.raises(ValueError, match="malformed job"):
        wire.receive_job(forkserver)
    for fd in reads:
        os.set_blocking(fd, False)
        assert os.read(fd, 1) == b""  # end of file: the refused job's ends were closed
        os.close(fd)


def test_a_job_without_three_pipe_ends_is_refused(sockets):
    grader, forkserver = sockets
    read, write = os.pipe()
    payload = b'{"cells": []}'
    socket.send_fds(grader, [len(payload).to_bytes(8, "big")], [write])
    grader.sendall(payload)
    os.close(write)
    with pytest.raises(ValueError, match="malformed job"):
        wire.receive_job(forkserver)
    os.set_blocking(read, False)
    assert os.read(read, 1) == b""
    os.close(read)


def test_a_truncated_job_is_dropped_when_the_grader_goes(sockets):
    grader, forkserver = sockets
    reads, writes = _three_pipes()
    socket.send_fds(grader, [(100).to_bytes(8, "big")], writes)
    grader.sendall(b'{"cells": ')  # 10 of the 100 bytes announced, then the grader is gone
    grader.shutdown(socket.SHUT_WR)
    assert wire.receive_job(forkserver) is None
    for fd in reads + writes:
        os.close(fd)


def test_the_forkserver_socket_closed_means_no_more_jobs(sockets):
    grader, forkserver = sockets
    grader.shutdown(socket.SHUT_WR)
    assert wire.receive_job(forkserver) is None
