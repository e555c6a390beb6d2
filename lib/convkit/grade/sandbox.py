"""The grading sandbox as the grader sees it: start notebooks in jails, one cgroup per job.

Where it runs
-------------
In the grader process only. :class:`Sandbox` starts the forkserver
(:mod:`convkit.grade.forkserver`) and sends it one job per notebook; :class:`Job` is
that notebook seen from here (its pipes and its PID); the cgroups that limit each job
are made and removed here. What runs in the job's own processes is in
:mod:`convkit.grade.jail`, and the frames on the pipes are in :mod:`convkit.grade.wire`.

Isolation levels
----------------
``"namespaces"`` (the default, and the only one used unless asked otherwise)
    Every notebook runs in fresh user (when not root), mount, PID, network, IPC and
    UTS namespaces, entered with ``unshare(2)`` by a child forked from the forkserver,
    a warm process that has already imported NumPy, torch and convkit (so a notebook
    costs a fork and a few mounts, not a new interpreter). Inside:

    - the file system is a private tmpfs holding read-only bind mounts of the system
      directories, the interpreter, the virtual environment and ``convkit`` only; the
      working folder, ``$HOME`` and ``/tmp`` are size- and inode-limited tmpfs. The
      hidden checks, ``solutions/``, ``tests/``, other submissions, the output folder
      and the instructor's home are not there at all;
    - the notebook is PID 1 of its own PID namespace: it sees no other process, and
      when it ends the kernel kills everything it started;
    - the network namespace is empty (not even the host's loopback);
    - when the grader runs as root, the notebook runs as an unprivileged UID of its
      own (``100000 + slot``), with no capabilities, ``no_new_privs`` and
      ``PR_SET_DUMPABLE`` off; otherwise as the grader's UID mapped in a user
      namespace, with every capability dropped;
    - limits: a memory, a pids and a cpu (one core) cgroup per notebook where cgroups
      are writable (v1 or v2), ``RLIMIT_NPROC``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``,
      ``RLIMIT_CORE`` 0, and the grader's caps on wall time and output volume.

``"process"`` (``--unsafe-process-sandbox``)
    Where namespaces are not available (macOS, a container without user namespaces):
    a forked process with rlimits and an empty working folder. Student code can then
    read anything the grader's user can read; the CSV and every feedback file say so.

:func:`capabilities` reports what this machine supports (``python -m convkit.grade
--check-sandbox``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from convkit.grade import jail, wire
from convkit.grade.forkserver import LAST_JAILS_SECONDS
from convkit.grade.jail import Limits

__all__ = ["Sandbox", "Job", "SandboxError", "Limits", "capabilities", "choose_level", "LEVELS"]

LEVELS = ("namespaces", "process")
_DEFAULT_LIMITS = Limits()


class SandboxError(RuntimeError):
    """The sandbox could not be set up (the message says what is missing)."""


# --------------------------------------------------------------------------- cgroups


class _Cgroups:
    """A memory, a pids and a cpu cgroup per job slot, under a folder of this run (v1 or v2)."""

    def __init__(self, name: str) -> None:
        self.parents: dict[str, Path] = {}
        for controller in ("memory", "pids", "cpu"):
            base = _cgroup_base(controller)
            if base is None:
                continue
            parent = base / name
            try:
                parent.mkdir(exist_ok=True)
                if controller == "memory" and (base / "cgroup.subtree_control").exists():  # v2
                    (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
                self.parents[controller] = parent
            except OSError:
                continue

    def create(self, slot: int, limits: Limits) -> list[str]:
        """The cgroup.procs files a job's first process writes its PID to (one cgroup per slot, reused)."""
        procs = []
        for controller, parent in self.parents.items():
            folder = parent / f"slot-{slot}"
            try:
                folder.mkdir(exist_ok=True)
                if controller == "memory":
                    amount = str(limits.memory_mb * 1024 * 1024)
                    for name in (
                        "memory.limit_in_bytes",
                        "memory.memsw.limit_in_bytes",
                        "memory.max",
                        "memory.swap.max",
                    ):
                        if (folder / name).exists():
                            (folder / name).write_text(amount if "swap" not in name else "0")
                elif controller == "pids":
                    (folder / "pids.max").write_text(str(limits.processes))
                else:  # one core at most, however many processes: a spinning job cannot starve the others
                    if (folder / "cpu.cfs_quota_us").exists():
                        (folder / "cpu.cfs_period_us").write_text("100000")
                        (folder / "cpu.cfs_quota_us").write_text(str(int(100000 * limits.cores)))
                    elif (folder / "cpu.max").exists():
                        (folder / "cpu.max").write_text(f"{int(100000 * limits.cores)} 100000")
                procs.append(str(folder / "cgroup.procs"))
            except OSError:
                continue
        return procs

    def close(self) -> None:
        for parent in self.parents.values():
            for child in list(parent.glob("slot-*")):
                for _ in range(100):  # the last jobs' processes may still be dying
                    try:
                        child.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.01)
            try:
                parent.rmdir()
            except OSError:
                pass

    @property
    def controllers(self) -> list[str]:
        return sorted(self.parents)


def _cgroup_base(controller: str) -> Path | None:
    """Where this process may create a ``controller`` cgroup (its own cgroup's folder), if writable."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            base = Path("/sys/fs/cgroup") / controller / path.lstrip("/")
            break
    else:
        unified = [line for line in lines if line.startswith("0::")]
        if not unified or not Path("/sys/fs/cgroup/cgroup.controllers").exists():
            return None
        base = Path("/sys/fs/cgroup") / unified[0][3:].lstrip("/")
        controllers = (Path("/sys/fs/cgroup") / "cgroup.controllers").read_text().split()
        if controller not in controllers:
            return None
    return base if base.is_dir() and os.access(base, os.W_OK) else None


# --------------------------------------------------------------------------- capabilities


def capabilities() -> dict:
    """What this machine offers the sandbox (a fresh probe in a short-lived child).

    Keys: ``root``, ``user_namespaces``, ``namespaces`` (mount, PID, network, IPC, UTS
    entered and a read-only root built), ``memory_cgroup``, ``pids_cgroup``, ``cpu_cgroup``, and
    ``level``: the isolation level grading will use.
    """
    result = {"platform": sys.platform, "root": os.geteuid() == 0}
    if sys.platform != "linux":
        result.update(
            user_namespaces=False, namespaces=False, memory_cgroup=False, pids_cgroup=False, cpu_cgroup=False
        )
        result["level"] = "process"
        return result
    result["user_namespaces"] = _probe(jail.probe_user_namespace)
    result["namespaces"] = _probe(jail.probe_namespaces)
    result["memory_cgroup"] = _cgroup_base("memory") is not None
    result["pids_cgroup"] = _cgroup_base("pids") is not None
    result["cpu_cgroup"] = _cgroup_base("cpu") is not None
    result["level"] = "namespaces" if result["namespaces"] else "process"
    return result


def _probe(action) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            action()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def choose_level(unsafe_process_sandbox: bool) -> str:
    """The isolation level to grade with; raises SandboxError if namespaces are missing and not overridden."""
    found = capabilities()
    if found["level"] == "namespaces":
        return "namespaces"
    if unsafe_process_sandbox:
        return "process"
    raise SandboxError(
        "this machine cannot isolate notebooks in Linux namespaces "
        f"(user namespaces: {found.get('user_namespaces')}, root: {found['root']}); grading refuses "
        "to start. Run it on Linux with unprivileged user namespaces (or as root), or pass "
        "--unsafe-process-sandbox to grade with process limits only (the results will say so). "
        "`python -m convkit.grade --check-sandbox` shows what is available."
    )


# --------------------------------------------------------------------------- jobs


def _scrubbed_environment(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CONVKIT_OFFLINE": "1",
        "CONVKIT_GRADING": "1",
    }


class Job:
    """One running notebook, seen from the grader: its result and command pipes, and its PID."""

    def __init__(self, results: int, commands: int, control: int, name: str, sandbox: Sandbox) -> None:
        self.results, self.commands, self.control, self.name = results, commands, control, name
        self.pid: int | None = None
        self.pidfd: int | None = None
        self._sandbox = sandbox

    def wait_started(self, timeout: float) -> bool:
        """Read the jailed process's outer PID from the trusted control pipe."""
        self.pid = wire.read_pid(self.control, timeout)
        if self.pid is None:
            return False
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (OSError, AttributeError):
            self.pidfd = None
        return True

    def send(self, message: dict, timeout: float = 5.0) -> bool:
        """Write one command line; False if the job does not take it in time."""
        import select

        data = memoryview(wire.frame(message))
        deadline = time.monotonic() + timeout
        while data:
            _, ready, _ = select.select([], [self.commands], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return False
            try:
                written = os.write(self.commands, data)
            except (BrokenPipeError, OSError):
                return False
            data = data[written:]
        return True

    def kill(self) -> None:
        """Kill the notebook and everything it started (its PID namespace or process group)."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
        if self._sandbox.level == "process" and self.pid is not None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def close(self) -> None:
        self.kill()
        for fd in (self.results, self.commands, self.control, self.pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._sandbox._finished(self.name)


class Sandbox:
    """The forkserver, and a way to start one notebook in a fresh jail forked from it.

    Use as a context manager. :meth:`start` returns a :class:`Job`. A forkserver that
    died or stopped answering is replaced by a fresh one (:attr:`forkserver` is its process).
    """

    def __init__(self, level: str = "namespaces", limits: Limits = _DEFAULT_LIMITS) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.level, self.limits = level, limits
        self._lock = threading.Lock()
        self._home = tempfile.mkdtemp(prefix="convkit-grade-")
        os.chmod(self._home, 0o700)
        self._cgroups = _Cgroups(f"convkit-{os.getpid()}-{id(self):x}")
        self._counter = 0
        self._slots: set[int] = set()
        self._jobs: dict[str, int] = {}
        self.forkserver: subprocess.Popen | None = None
        self._start_forkserver()

    @property
    def cgroups(self) -> list[str]:
        """The cgroup controllers that limit each job (``memory``, ``pids``), empty if none."""
        return self._cgroups.controllers

    def _start_forkserver(self) -> None:
        ours, theirs = socket.socketpair()
        library = str(Path(__file__).resolve().parents[2])
        bootstrap = (
            f"import sys; sys.path.insert(0, {library!r}); "
            "from convkit.grade.forkserver import serve; serve(int(sys.argv[1]))"
        )
        self.forkserver = subprocess.Popen(
            [sys.executable, "-I", "-c", bootstrap, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=_scrubbed_environment(self._home),
            cwd=self._home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        ours.settimeout(300)
        try:
            ready = ours.recv(1)
        except OSError:
            ready = b""
        if ready != wire.FORKSERVER_READY:
            self.forkserver.kill()
            self.forkserver.wait()
            raise SandboxError(
                "the grading forkserver did not start (try: python -m convkit.grade --check-sandbox)"
            )
        ours.settimeout(10)
        self._socket = ours

    def _alive(self) -> bool:
        if self.forkserver is None or self.forkserver.poll() is not None:
            return False
        try:
            state = Path(f"/proc/{self.forkserver.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state not in ("T", "t", "Z", "X")

    def _restart_forkserver(self) -> None:
        try:
            self._socket.close()
        except OSError:
            pass
        if self.forkserver is not None:  # the forkserver only: running jobs live on (see jail._watch)
            try:
                self.forkserver.kill()
            except OSError:
                pass
            self.forkserver.wait()
        self._start_forkserver()

    def replace_forkserver(self) -> None:
        """Kill the forkserver (stopped, dead or wedged) and start a fresh one."""
        with self._lock:
            self._restart_forkserver()

    def start(self, job: dict, limits: Limits | None = None) -> Job:
        """Start one notebook; the job dict is sent as JSON (cells, timeout, ...)."""
        limits = limits or self.limits
        with self._lock:
            self._counter += 1
            name = f"job-{self._counter}"
            slot = next(s for s in range(len(self._slots) + 1) if s not in self._slots)
            self._slots.add(slot)
            self._jobs[name] = slot
            procs = self._cgroups.create(slot, limits)
        job = dict(job, level=self.level, slot=slot, cgroup_procs=procs, limits=limits.__dict__)
        payload = json.dumps(job).encode()
        results_r, results_w = os.pipe()
        commands_r, commands_w = os.pipe()
        control_r, control_w = os.pipe()
        handed = (results_w, commands_r, control_w)
        try:
            for attempt in range(2):
                with self._lock:
                    if not self._alive():
                        self._restart_forkserver()
                    try:
                        wire.send_job(self._socket, payload, handed)
                        break
                    except OSError as error:
                        if attempt:
                            raise SandboxError("the grading forkserver does not take jobs") from error
                        self.forkserver.kill()
        finally:
            for fd in handed:
                os.close(fd)
        return Job(results_r, commands_w, control_r, name, self)

    def _finished(self, name: str) -> None:
        with self._lock:
            slot = self._jobs.pop(name, None)
            if slot is not None:
                self._slots.discard(slot)

    def kill_forkserver(self) -> None:
        """Kill the forkserver at once instead of letting it finish (the run is stopping, its jobs killed)."""
        if self.forkserver is not None and self.forkserver.poll() is None:
            self.forkserver.kill()

    def close(self) -> None:
        try:
            self._socket.close()
        except OSError:
            pass
        if self.forkserver is not None:
            try:
                self.forkserver.wait(timeout=LAST_JAILS_SECONDS + 5)  # it waits for its last jails
            except subprocess.TimeoutExpired:
                self.forkserver.kill()
                self.forkserver.wait()
        self._cgroups.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
