"""Run a student's notebook in a process that cannot touch the grader.

Process model
-------------
``python -m convkit.grade.zygote`` is the *zygote*: a fresh interpreter, started by
the grader with a scrubbed environment and a temporary working directory, that
imports NumPy, torch, matplotlib (Agg) and convkit once, and then only forks. It never
loads a check or an expected value, so neither can its children. For every notebook
of every student the grader sends it one job (the code cells, the names to probe and
the arguments to probe them with) together with the write end of a fresh pipe
(``socket.send_fds``); the zygote forks a *child* that

1. becomes its own process group, so the grader can kill it and whatever it started;
2. sets its limits: ``RLIMIT_AS`` (the address space it inherited plus the memory
   budget), ``RLIMIT_CPU`` (the notebook's time budget), ``RLIMIT_FSIZE``, ``RLIMIT_CORE`` 0;
3. moves into a new empty temporary directory and points stdin/stdout/stderr at
   ``/dev/null`` (printed text is never read by anyone);
4. runs the code cells top to bottom in one namespace, each under a ``SIGALRM``
   timer; an exception, ``sys.exit`` or a timeout ends that cell only;
5. calls each probed name with its arguments (again under a timer), turns the result
   into plain data (:func:`convkit.grade.codec.to_plain`) and writes one JSON line
   per event to the pipe.

Each job forks from the same pristine zygote, so nothing one student does is seen by
the next; the fork costs milliseconds instead of the seconds of a new kernel that
imports torch. The zygote is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a
process a student detaches (``setsid``, double fork) is re-parented to it instead of
to init, and the zygote kills every child that is not a running job.

Everything the child writes is untrusted: the grader (``convkit.grade.runner``)
parses it strictly, enforces the wall-clock limits and kills the group.
"""
from __future__ import annotations

import builtins
import ctypes
import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import time
import traceback

__all__ = ["serve", "run_job"]

_PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "matplotlib",
            "convkit.reference", "convkit.shapes", "convkit.grade.check")
_PR_SET_CHILD_SUBREAPER = 36
_MAX_JOB_BYTES = 256 * 1024 * 1024


class CellTimeout(BaseException):
    """Raised in student code when its time is up (a BaseException, so `except Exception` misses it)."""


def _on_alarm(signum, frame):
    raise CellTimeout()


def _preload() -> None:
    import importlib

    import matplotlib
    matplotlib.use("Agg")
    for name in _PRELOAD:
        importlib.import_module(name)
    import matplotlib.pyplot  # noqa: F401
    import torch
    torch.set_num_threads(1)
    try:
        from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401
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


def _send(fd: int, message: dict) -> None:
    from convkit.grade.codec import encode
    if "value" in message:
        message = dict(message, value=encode(message["value"]))
    data = (json.dumps(message, allow_nan=False) + "\n").encode()
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _error_text(error: BaseException) -> str:
    if isinstance(error, CellTimeout):
        return "timed out"
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[-500:]


def _set_limits(memory_mb: int, cpu_seconds: int) -> None:
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    address_space = vm_kb * 1024 + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _timed(seconds: float, function, *args):
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run_job(job: dict, fd: int) -> None:
    """In the forked child: run the cells, probe the answers, report on ``fd``; never returns."""
    try:
        os.setpgid(0, 0)
        _send(fd, {"event": "start", "pid": os.getpid()})
        _set_limits(int(job["memory_mb"]), int(job["cpu_seconds"]))
        workdir = tempfile.mkdtemp(prefix="convkit-student-")
        os.chdir(workdir)
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        signal.signal(signal.SIGALRM, _on_alarm)
        _run(job, fd)
    except BaseException:  # the reporting itself failed: the grader sees the pipe close
        pass
    finally:
        os._exit(0)


def _run(job: dict, fd: int) -> None:
    from convkit.grade.codec import decode, to_plain

    timeout = float(job["timeout"])
    namespace = {"__name__": "__main__", "__builtins__": builtins,
                 "get_ipython": lambda: _Shell(), "display": lambda *a, **k: None}
    skip_cells = set(job["skip_cells"])
    for index, source in enumerate(job["cells"]):
        if index in skip_cells:
            continue
        _send(fd, {"event": "cell", "index": index})
        error = None
        try:
            code = compile(_to_python(source), f"<cell {index}>", "exec")
            _timed(timeout, exec, code, namespace)
        except BaseException as caught:  # a failing cell never stops the next ones
            error = _error_text(caught)
        _send(fd, {"event": "cell_done", "index": index, "error": error})

    skip_checks = set(job["skip_checks"])
    for index, probe in enumerate(job["checks"]):
        if index in skip_checks:
            continue
        _send(fd, {"event": "check", "index": index})
        try:
            message = {"event": "result", "index": index,
                       "value": _probe(probe, namespace, timeout, decode, to_plain)}
        except BaseException as caught:
            message = {"event": "result", "index": index, "error": _error_text(caught)}
        try:
            _send(fd, message)
        except (TypeError, ValueError) as caught:
            _send(fd, {"event": "result", "index": index, "error": f"result not sendable: {caught}"})
    _send(fd, {"event": "end"})


def _probe(probe: dict, namespace: dict, timeout: float, decode, to_plain):
    name = probe["name"]
    if name not in namespace:
        raise NameError(f"{name} is not defined (did the cell defining it run without error?)")
    answer = namespace[name]
    if probe["args"] is not None:
        args = decode(probe["args"])
        if probe["torch"]:
            import numpy as np
            import torch
            args = tuple(torch.from_numpy(a) if type(a) is np.ndarray else a for a in args)
        if not callable(answer):
            raise TypeError(f"{name} is not a function")
        answer = _timed(timeout, answer, *args)
    return _timed(timeout, to_plain, answer)


def _living_children() -> set[int]:
    children: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                children.update(int(pid) for pid in handle.read().split())
        except OSError:
            pass
    return children


def _reap(jobs: set[int]) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        jobs.discard(pid)


def _kill_strays(jobs: set[int]) -> None:
    """Kill every child that is not a running job: detached processes re-parented here."""
    for pid in _living_children() - jobs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _receive(connection: socket.socket) -> tuple[dict, int] | None:
    header, fds, _, _ = socket.recv_fds(connection, 8, 1)
    if not header:
        return None
    size = int.from_bytes(header, "big")
    if size > _MAX_JOB_BYTES or not fds:
        raise ValueError("malformed job")
    chunks, remaining = [], size
    while remaining:
        chunk = connection.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return json.loads(b"".join(chunks)), fds[0]


def serve(fd: int) -> None:
    """The zygote's loop: receive a job and a pipe on socket ``fd``, fork a child for it."""
    _preload()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - Linux only; strays then go to init
        pass
    connection = socket.socket(fileno=fd)
    connection.sendall(b"R")  # warmed up: the grader's time limits can start now
    jobs: set[int] = set()
    while True:
        ready, _, _ = select.select([connection], [], [], 0.2)
        _reap(jobs)
        _kill_strays(jobs)
        if not ready:
            continue
        received = _receive(connection)
        if received is None:  # the grader has gone: end with it
            break
        job, pipe = received
        pid = os.fork()
        if pid == 0:
            connection.close()
            run_job(job, pipe)
        os.close(pipe)
        jobs.add(pid)
    # The grader has gone. Kill the jobs' groups, then for a moment keep killing whatever
    # is re-parented here as those die (a detached process would otherwise go to init).
    for pid in jobs:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for _ in range(10):
        _reap(jobs)
        _kill_strays(set())
        time.sleep(0.05)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
