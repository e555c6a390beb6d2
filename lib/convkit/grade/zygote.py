"""The warm helper that runs student notebooks: import once, then fork one sandbox per notebook.

Process model
-------------
The grader (:mod:`convkit.grade.runner`) starts this module once per run, with
``python -I`` and a scrubbed environment, through :class:`convkit.grade.sandbox.Sandbox`.
It imports NumPy, torch, matplotlib (Agg) and convkit, and then only forks. It never
loads a check or an expected value, so neither can its children.

For each notebook the grader sends a job (the code cells and the limits) with three
pipe ends (``socket.send_fds``): *results* (job → grader), *commands* (grader → job)
and *control* (the trusted channel on which the job's outer PID is reported before
any student code runs). The helper forks a child that enters the sandbox
(:func:`convkit.grade.sandbox.enter`: new namespaces, a read-only root, an
unprivileged UID, limits); inside it the notebook's PID 1

1. points stdin/stdout/stderr at ``/dev/null`` (printed text is never read by anyone);
2. runs the code cells top to bottom in one namespace, each under a ``SIGALRM``
   timer; an exception, ``sys.exit`` or a timeout ends that cell only;
3. then answers the grader's commands one at a time: ``{"check": i, "nonce": n, ...}``
   calls (or reads) the named answer, under :func:`convkit.grade.forbid.watching`
   for the question's forbidden calls, turns the result into plain data
   (:func:`convkit.grade.codec.to_plain`) and writes one JSON line that repeats the
   check's index and nonce. The grader accepts only the reply to the check it asked.

Everything the job writes is untrusted: the grader parses it strictly, enforces the
wall-clock limits and kills the job's PID namespace.
"""

from __future__ import annotations

import builtins
import json
import os
import select
import signal
import socket
import sys
import time
import traceback

__all__ = ["serve", "run_job"]

_PRELOAD = (
    "numpy",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "matplotlib",
    "scipy.signal",
    "convkit.reference",
    "convkit.shapes",
    "convkit.plot",
    "convkit.data",
    "convkit.grade.call",
    "convkit.grade.check",
    "convkit.grade.codec",
    "convkit.grade.forbid",
    "convkit.grade.sandbox",
)
_MAX_JOB_BYTES = 256 * 1024 * 1024
_MAX_COMMAND_BYTES = 64 * 1024 * 1024


class CellTimeout(BaseException):
    """Raised in student code when its time is up (a BaseException, so `except Exception` misses it)."""


def _on_alarm(signum, frame):
    raise CellTimeout()


def _preload() -> None:
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # scipy is optional
            pass
    import matplotlib.pyplot  # noqa: F401
    import torch

    torch.set_num_threads(1)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        TransformerManager().transform_cell("%matplotlib inline\nx = 1\n")
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        pass


def _to_python(source: str) -> str:
    """Cell source as plain Python: IPython magics become calls on a stub shell."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover
        return source
    return TransformerManager().transform_cell(source)


class _Shell:
    """Stands in for ``get_ipython()``: magics and shell escapes do nothing when graded."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class _Channel:
    """The job's two pipes, with the functions captured before any student code runs."""

    def __init__(self, results: int, commands: int) -> None:
        self.results, self.commands, self.buffer = results, commands, b""
        self._write, self._read, self._dumps = os.write, os.read, json.dumps

    def send(self, message: dict) -> None:
        from convkit.grade.codec import encode

        if "value" in message:
            message = dict(message, value=encode(message["value"]))
        data = memoryview((self._dumps(message, allow_nan=False) + "\n").encode())
        while data:
            data = data[self._write(self.results, data) :]

    def command(self) -> dict | None:
        while b"\n" not in self.buffer:
            chunk = self._read(self.commands, 1 << 20)
            if not chunk or len(self.buffer) > _MAX_COMMAND_BYTES:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def _error_text(error: BaseException) -> str:
    if isinstance(error, CellTimeout):
        return "timed out"
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[-500:]


def _timed(seconds: float, function, *args):
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run_job(job: dict, results: int, commands: int) -> None:
    """In the sandboxed process: run the cells, answer the grader's probes; never returns."""
    from convkit.grade.sandbox import Limits, set_limits

    try:
        channel = _Channel(results, commands)
        set_limits(Limits(**job["limits"]))
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        os.close(null)
        os.environ.update(HOME=os.getcwd(), MPLCONFIGDIR=os.getcwd())
        signal.signal(signal.SIGALRM, _on_alarm)
        _run(job, channel)
    except BaseException:  # the reporting itself failed: the grader sees the pipe close
        pass
    finally:
        os._exit(0)


def _run(job: dict, channel: _Channel) -> None:
    timeout = float(job["timeout"])
    namespace = {
        "__name__": "__main__",
        "__builtins__": builtins,
        "get_ipython": lambda: _Shell(),
        "display": lambda *a, **k: None,
    }
    skip_cells = set(job["skip_cells"])
    channel.send({"event": "ready"})
    for index, source in enumerate(job["cells"]):
        if index in skip_cells:
            continue
        channel.send({"event": "cell", "index": index})
        error = None
        try:
            code = compile(_to_python(source), f"<cell {index}>", "exec")
            _timed(timeout, exec, code, namespace)
        except BaseException as caught:  # a failing cell never stops the next ones
            error = _error_text(caught)
        channel.send({"event": "cell_done", "index": index, "error": error})
    channel.send({"event": "cells_done"})
    while True:
        command = channel.command()
        if type(command) is not dict or "check" not in command:
            return
        index, nonce = command["check"], command["nonce"]
        reply = {"event": "result", "index": index, "nonce": nonce}
        try:
            reply["value"] = _probe(command, namespace, timeout, channel)
        except BaseException as caught:
            reply = dict(reply, error=_error_text(caught))
        try:
            channel.send(reply)
        except (TypeError, ValueError) as caught:
            channel.send(
                {"event": "result", "index": index, "nonce": nonce, "error": f"result not sendable: {caught}"}
            )


def _probe(command: dict, namespace: dict, timeout: float, channel: _Channel):
    """One check on the grader's command: the answer called under the timer (:func:`call_answer`)."""
    from convkit.grade.call import NotAllowed, call_answer
    from convkit.grade.codec import decode

    name = command["name"]
    if name not in namespace:
        raise NameError(f"{name} is not defined (did the cell defining it run without error?)")
    args = None if command["args"] is None else decode(command["args"])

    def report(forbidden: str) -> None:  # at once, before student code can catch anything
        channel.send(
            {
                "event": "forbidden",
                "index": command["check"],
                "nonce": command["nonce"],
                "name": forbidden,
            }
        )

    try:
        return call_answer(
            name,
            args,
            namespace[name],
            command.get("forbid") or (),
            as_tensor=bool(command["torch"]),
            run=lambda function, *values: _timed(timeout, function, *values),
            on_hit=report,
        )
    except NotAllowed as caught:
        raise RuntimeError(str(caught)) from None


# --------------------------------------------------------------------------- the helper's loop


def _receive(connection: socket.socket) -> tuple[dict, list[int]] | None:
    header, fds, _, _ = socket.recv_fds(connection, 8, 3)
    if not header:
        return None
    size = int.from_bytes(header, "big")
    if size > _MAX_JOB_BYTES or len(fds) != 3:
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


def _start(job: dict, fds: list[int], connection: socket.socket) -> None:
    """In a fresh child of the helper: enter the sandbox and run the job; never returns."""
    from convkit.grade.sandbox import Limits, enter

    results, commands, control = fds
    try:
        connection.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        inner = enter(job["level"], Limits(**job["limits"]), int(job["slot"]), job["cgroup_procs"])
        if inner:  # the outer child: report the jailed init's PID, then watch over it
            os.write(control, f"{inner}\n".encode())
            for fd in (results, commands):
                os.close(fd)
            _watch(inner, control)
            os._exit(0)
        if job["level"] == "process":
            os.write(control, f"{os.getpid()}\n".encode())
        os.close(control)
    except BaseException as error:  # say why on the results channel: the grader shows it
        try:
            text = f"the sandbox could not be set up ({type(error).__name__}: {error})"[:300]
            os.write(results, (json.dumps({"event": "sandbox_error", "error": text}) + "\n").encode())
        finally:
            os._exit(71)
    run_job(job, results, commands)


def _watch(inner: int, control: int) -> None:
    """Wait for the jailed init; kill it as soon as the grader closes (or loses) the control pipe.

    The helper may be replaced while jobs run, so a job's life hangs on the grader, not on the helper.
    """
    poller = select.poll()
    poller.register(control, select.POLLERR | select.POLLHUP)
    while True:
        try:
            pid, _ = os.waitpid(inner, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            return
        if poller.poll(200):
            os.kill(inner, signal.SIGKILL)
            os.waitpid(inner, 0)
            return


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(fd: int) -> None:
    """The helper's loop: receive a job and its pipes on socket ``fd``, fork a sandbox for it."""
    from convkit.grade.sandbox import die_with_parent

    die_with_parent()  # the grader gone, the helper goes (jobs end when the grader closes their pipes)
    _preload()
    connection = socket.socket(fileno=fd)
    connection.sendall(b"R")  # warmed up: the grader's time limits can start now
    while True:
        ready, _, _ = select.select([connection], [], [], 0.5)
        _reap()
        if not ready:
            continue
        try:
            received = _receive(connection)
        except (ValueError, OSError):
            continue
        if received is None:  # the grader has gone: end with it
            break
        job, fds = received
        pid = os.fork()
        if pid == 0:
            _start(job, fds, connection)
        for handed in fds:
            os.close(handed)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
