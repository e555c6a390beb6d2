"""The forkserver: a warm process that imports torch once, then forks one jail per notebook.

Where it runs
-------------
In its own process, started once per run by :class:`convkit.grade.sandbox.Sandbox`
(``python -I``, a scrubbed environment, a new session) and killed with the grader.
It imports NumPy, torch, matplotlib (Agg) and convkit, and then only receives jobs
and forks: a notebook costs a fork and a few mounts, not a new interpreter. It never
loads a check or an expected value, so neither can its children.

For each notebook the grader sends a job (the code cells and the limits) with three
pipe ends (:func:`convkit.grade.wire.receive_job`): *results* (job → grader),
*commands* (grader → job) and *control* (the trusted channel on which the job's outer
PID is reported before any student code runs). The forkserver forks, closes its own
copies of them, and the child goes on in :func:`convkit.grade.jail.start`. Jobs do
not depend on the forkserver once forked: the grader may replace it while they run.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time

from convkit.grade import jail, wire

# How long the forkserver waits, after the grader has gone, for its last jails to be torn down.
LAST_JAILS_SECONDS = 30

__all__ = ["serve"]

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
    "convkit.grade.jail",
    "convkit.grade.wire",
)


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


def _reap() -> bool:
    """Collect the jails that have ended; True while some are still running."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def serve(fd: int) -> None:
    """The forkserver's loop: receive a job and its pipes on socket ``fd``, fork a jail for it."""
    jail.die_with_parent()  # the grader gone, this goes too (its jobs end when their pipes close)
    _preload()
    connection = socket.socket(fileno=fd)
    connection.sendall(wire.FORKSERVER_READY)  # warmed up: the grader's time limits can start now
    while True:
        ready, _, _ = select.select([connection], [], [], 0.5)
        _reap()
        if not ready:
            continue
        try:
            received = wire.receive_job(connection)
        except (ValueError, OSError):
            continue
        if received is None:  # the grader has gone: end with it
            break
        job, fds = received
        pid = os.fork()
        if pid == 0:  # the child must not hold the forkserver's socket: student code could send it jobs
            try:
                connection.close()
            finally:
                jail.start(job, fds)  # never returns
        for handed in fds:
            os.close(handed)
    # The grader closed the last jobs' pipes, so their watchers are killing them. A watcher ends
    # only once its jail's PID namespace is empty, so waiting for the watchers means the grader,
    # which waits for this process, returns with no student process left on the machine.
    deadline = time.monotonic() + LAST_JAILS_SECONDS
    while _reap() and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
