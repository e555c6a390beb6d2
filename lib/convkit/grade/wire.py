"""The wire between the grader, the forkserver and the jailed child: frames, bounds, event names.

Where it runs
-------------
On both sides of every channel: in the grader process (which sends jobs and commands
and reads results), in the forkserver (which receives jobs) and in the jailed child
(which reads commands and sends results). Nothing here trusts what it reads.

Channels
--------
job (grader → forkserver, a Unix socket)
    an 8-byte big-endian length, sent with three pipe ends (``SCM_RIGHTS``), then that
    many bytes of JSON (:func:`send_job`, :func:`receive_job`); the forkserver first
    writes :data:`FORKSERVER_READY` once, when it has imported everything.
control (jailed child's parent → grader, a pipe)
    the jailed init's outer PID, one line, written before any student code runs
    (:func:`pid_line`, :func:`read_pid`): the only trusted channel from the job.
commands (grader → jailed child, a pipe)
    one JSON object per line (:func:`frame`), read by :class:`Commands`.
results (jailed child → grader, a pipe)
    one JSON object per line, whose ``"event"`` is one of :data:`EVENTS`; student code
    can write here too, so :class:`Reader` bounds each line and the whole volume, skips
    what is not a JSON object, and never blocks past its deadline.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time

__all__ = [
    "SandboxBroken",
    "READY",
    "CELL",
    "CELL_DONE",
    "CELLS_DONE",
    "RESULT",
    "FORBIDDEN",
    "SANDBOX_ERROR",
    "EVENTS",
    "FORKSERVER_READY",
    "MAX_LINE_BYTES",
    "MAX_REPLY_BYTES",
    "MAX_COMMAND_BYTES",
    "MAX_JOB_BYTES",
    "frame",
    "loads_bounded",
    "Reader",
    "Commands",
    "send_job",
    "receive_job",
    "pid_line",
    "read_pid",
]

# The results channel's events, in the order a job sends them.
READY = "ready"  # the job runs: its limits are set and its output points at /dev/null
CELL = "cell"  # a code cell starts ({"index": i})
CELL_DONE = "cell_done"  # it ended ({"index": i, "error": text or None})
CELLS_DONE = "cells_done"  # every cell has run: the job now waits for commands
FORBIDDEN = "forbidden"  # a forbidden call, reported as it happens ({"index", "nonce", "name"})
RESULT = "result"  # the reply to a check ({"index", "nonce"} and "value" or "error")
SANDBOX_ERROR = "sandbox_error"  # the jail could not be built ({"error": text}); no student code ran
EVENTS = (READY, CELL, CELL_DONE, CELLS_DONE, FORBIDDEN, RESULT, SANDBOX_ERROR)

FORKSERVER_READY = b"R"  # the forkserver's one byte once warm: the grader's time limits start then
MAX_LINE_BYTES = 96 * 1024 * 1024  # one results line
MAX_REPLY_BYTES = 256 * 1024 * 1024  # everything one job may write on its results pipe
MAX_COMMAND_BYTES = 64 * 1024 * 1024  # one command line
MAX_JOB_BYTES = 256 * 1024 * 1024  # one job (the notebook's cells and the limits)
_HEADER_BYTES = 8


class SandboxBroken(RuntimeError):
    """The sandbox itself failed before any student code ran."""


def frame(message: dict, *, allow_nan: bool = True, _dumps=json.dumps) -> bytes:
    """One message as a line of JSON (the commands and results channels).

    ``json.dumps`` is bound when this module is imported, before student code runs in
    the jailed child, so that replacing ``json.dumps`` there cannot silence the job's reports.

    >>> frame({"event": "cell", "index": 0})
    b'{"event": "cell", "index": 0}\\n'
    """
    return (_dumps(message, allow_nan=allow_nan) + "\n").encode()


def loads_bounded(line: bytes, limit: int = MAX_LINE_BYTES) -> object:
    """``json.loads`` for untrusted lines: refuses lines too long or nested too deeply (ValueError).

    The C decoder guards its own recursion, so a line nested 100,000 deep ends in a
    ``RecursionError`` at once, turned here into a refusal. (A regular expression that
    skips strings to measure the nesting first would need memory in proportion to the
    longest string: gigabytes for an embedded array.)

    >>> loads_bounded(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    """
    if len(line) > limit:
        raise ValueError("line too long")
    try:
        return json.loads(line)
    except RecursionError as error:
        raise ValueError("nested too deeply") from error


class Reader:
    """JSON lines from a job's results pipe, each within a deadline; untrusted input throughout.

    Runs in the grader. ``max_line`` bounds one line and ``max_total`` everything read
    from ``fd``; a line end is searched for in new bytes only.
    """

    def __init__(self, fd: int, *, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_REPLY_BYTES) -> None:
        self.fd, self.buffer, self.scanned, self.total, self.closed = fd, bytearray(), 0, 0, False
        self.max_line, self.max_total = max_line, max_total

    def next(self, deadline: float) -> dict | str:
        """The next message, or "eof" / "timeout" / "garbage" (too much output); bad lines are skipped.

        ``deadline`` is a ``time.monotonic()`` value; a message already read is returned even after it.
        """
        while True:
            end = self.buffer.find(b"\n", self.scanned)
            while end < 0:
                self.scanned = len(self.buffer)  # never search the same bytes twice
                if self.scanned > self.max_line:
                    return "garbage"
                if self.closed:
                    return "eof"
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    return "timeout"
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    self.closed = True
                    continue
                self.total += len(chunk)
                if self.total > self.max_total:
                    return "garbage"
                self.buffer += chunk
                end = self.buffer.find(b"\n", self.scanned)
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            self.scanned = 0
            try:
                message = loads_bounded(line, self.max_line)
            except ValueError:  # not ours: student code wrote into the pipe
                continue
            if type(message) is dict:
                return message


class Commands:
    """The grader's commands, read one JSON line at a time in the jailed child (blocking).

    ``os.read`` is bound when the job starts, before student code runs.
    """

    def __init__(self, fd: int, limit: int = MAX_COMMAND_BYTES) -> None:
        self.fd, self.limit, self.buffer = fd, limit, b""
        self._read = os.read

    def next(self) -> object | None:
        """The next command, or None once the pipe is closed or a line outgrows ``limit``.

        Raises ValueError for a line that is not JSON (the grader never sends one).
        """
        while b"\n" not in self.buffer:
            chunk = self._read(self.fd, 1 << 20)
            if not chunk or len(self.buffer) > self.limit:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def send_job(connection: socket.socket, payload: bytes, fds: list[int]) -> None:
    """Send one job (its JSON text ``payload``) and the pipe ends ``fds`` to the forkserver."""
    socket.send_fds(connection, [len(payload).to_bytes(_HEADER_BYTES, "big")], list(fds))
    connection.sendall(payload)


def receive_job(connection: socket.socket) -> tuple[dict, list[int]] | None:
    """In the forkserver: the next job and its three pipe ends, or None once the grader has gone.

    Raises ValueError for a job over :data:`MAX_JOB_BYTES` or sent without three pipe
    ends (whatever ends came are closed).
    """
    header, fds, _, _ = socket.recv_fds(connection, _HEADER_BYTES, 3)
    if not header:
        return None
    size = int.from_bytes(header, "big")
    if size > MAX_JOB_BYTES or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("malformed job")
    chunks, remaining = [], size
    while remaining:
        chunk = connection.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return json.loads(b"".join(chunks)), fds


def pid_line(pid: int) -> bytes:
    """The control channel's one line: the jailed process's PID as the grader sees it."""
    return f"{pid}\n".encode()


def read_pid(fd: int, timeout: float) -> int | None:
    """In the grader: the PID on the control pipe ``fd``, or None if none comes within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    try:
        return int(data.split(b"\n", 1)[0])
    except ValueError:
        return None
