"""The grading sandbox: each notebook in its own Linux namespaces, under limits.

Isolation levels
----------------
``"namespaces"`` (the default, and the only one used unless asked otherwise)
    Every notebook runs in fresh user (when not root), mount, PID, network, IPC and
    UTS namespaces, entered with ``unshare(2)`` by a child forked from a warm helper
    process that has already imported NumPy, torch and convkit (so a notebook costs a
    fork and a few mounts, not a new interpreter). Inside:

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

import ctypes
import ctypes.util
import errno
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sandbox", "SandboxError", "Limits", "capabilities", "choose_level", "LEVELS"]

LEVELS = ("namespaces", "process")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
PR_SET_CHILD_SUBREAPER = 36
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41}
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_FIRST_UID = 100000


class SandboxError(RuntimeError):
    """The sandbox could not be set up (the message says what is missing)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one notebook's sandbox."""

    memory_mb: int = 2048
    cpu_seconds: int = 60
    processes: int = 64
    file_mb: int = 64
    tmpfs_mb: int = 64
    files: int = 4096
    open_files: int = 256
    cores: float = 1.0


# --------------------------------------------------------------------------- syscalls

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(
        _libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
        f"mount {target}",
    )


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def _pivot_root(new_root: str, put_old: str) -> None:
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, "pivot_root: unknown architecture")
    _check(_libc.syscall(ctypes.c_long(number), new_root.encode(), put_old.encode()), "pivot_root")


def _drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable capability sets (capset(2))."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


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
    result["user_namespaces"] = _probe(lambda: _unshare(CLONE_NEWUSER))
    result["namespaces"] = _probe(lambda: _enter_and_build(Limits(), slot=0, probe=True))
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


# --------------------------------------------------------------------------- inside a job


def _mount_points() -> list[tuple[str, bool]]:
    """(path, is_symlink) of what the jail shows read-only: system dirs, interpreter, venv, convkit."""
    import convkit

    paths = [p for p in _SYSTEM_DIRS if os.path.lexists(p)]
    extra = {
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.prefix),
        os.path.realpath(os.path.dirname(convkit.__file__)),
    }
    for path in sys.path:  # site-packages outside the prefixes (user site is off with -I)
        if path and os.path.isdir(path) and "site-packages" in path:
            extra.add(os.path.realpath(path))
    for path in sorted(extra):
        if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths):
            paths.append(path)
    return [(p, os.path.islink(p)) for p in paths]


def _bind_read_only(source: str, target: str) -> None:
    try:  # not recursive: mounts below the source (say /etc/hosts) are not shown, let alone writable
        _mount(source, target, None, MS_BIND)
    except OSError:  # a user namespace may only bind a tree together with its locked submounts
        _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    try:
        _mount(None, target, None, flags)
    except OSError:  # locked flags in a user namespace: keep the ones the source has
        vfs = os.statvfs(target).f_flag
        keep = MS_NOEXEC if vfs & os.ST_NOEXEC else 0
        _mount(None, target, None, flags | keep)


def _enter_and_build(limits: Limits, slot: int, probe: bool = False, cgroup_procs: tuple = ()) -> int:
    """In the job's first process: join the cgroups, enter the namespaces, fork the jailed init.

    Returns 0 in the jailed process (PID 1 of the new PID namespace, its root built and
    its privileges dropped) and the init's outer PID in the caller.
    """
    root = os.geteuid() == 0
    for procs in cgroup_procs:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if not root:
        flags |= CLONE_NEWUSER
    _unshare(flags)
    if not root:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    pid = os.fork()
    if pid:
        return pid
    if probe:
        try:
            _build_jail(limits, slot, root)
        except BaseException:
            os._exit(70)
        os._exit(0)
    _build_jail(limits, slot, root)  # in the jailed init: a failure is reported by the caller
    return 0


def _build_jail(limits: Limits, slot: int, root: bool) -> None:
    """PID 1 of the new namespaces: a read-only root on a private tmpfs, then drop privileges."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    points = _mount_points()
    # Hold every source open before the tmpfs below may cover it (a venv under /tmp, say).
    sources = {
        path: (os.readlink(path) if is_link else os.open(path, os.O_PATH | os.O_DIRECTORY))
        for path, is_link in points
    }
    new = "/tmp"  # a tmpfs over /tmp of this mount namespace only; the host's /tmp is untouched
    _mount("convkit-jail", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    for path, is_link in points:
        target = new + path
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if is_link:
            os.symlink(sources[path], target)
        else:
            os.makedirs(target, exist_ok=True)
            _bind_read_only(f"/proc/self/fd/{sources[path]}", target)
            os.close(sources[path])
    for folder in ("proc", "dev", "tmp", "home/student", ".old"):
        os.makedirs(f"{new}/{folder}", exist_ok=True)
    scratch = f"size={limits.tmpfs_mb}m,nr_inodes={limits.files},mode=1777"
    _mount("convkit-tmp", f"{new}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, scratch)
    _mount("convkit-home", f"{new}/home/student", "tmpfs", MS_NOSUID | MS_NODEV, scratch)
    _mount("convkit-dev", f"{new}/dev", "tmpfs", MS_NOSUID, "size=64k,nr_inodes=64,mode=0755")
    for device in _DEVICES:
        target = f"{new}/dev/{device}"
        open(target, "w").close()
        _mount(f"/dev/{device}", target, None, MS_BIND)
    os.makedirs(f"{new}/dev/shm", exist_ok=True)
    _mount("convkit-shm", f"{new}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    _mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(new)
    try:
        _pivot_root(".", ".old")
        os.chdir("/")
        _check(_libc.umount2(b"/.old", MNT_DETACH), "umount /.old")
        os.rmdir("/.old")
    except OSError:
        os.chroot(".")
        os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    try:
        socket.sethostname("sandbox")
    except OSError:
        pass
    if root:
        uid = _FIRST_UID + slot
        os.chown("/home/student", uid, uid)
        os.chown("/tmp", uid, uid)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:
        os.chown("/home/student", 0, 0)
    _drop_capabilities()
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    die_with_parent()  # changing credentials cleared it
    os.chdir("/home/student")


def die_with_parent() -> None:
    """Be killed (SIGKILL) when the parent process ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def set_limits(limits: Limits) -> None:
    """rlimits of a job's process (after the namespaces): CPU, processes, files, core dumps."""
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    address_space = vm_kb * 1024 + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    if os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


def enter(level: str, limits: Limits, slot: int, cgroup_procs: tuple = ()) -> int:
    """Called in a fresh child of the helper: returns 0 in the process that runs the notebook.

    For ``"namespaces"`` the caller gets the jailed init's outer PID back instead (and
    should report it, then wait for it); for ``"process"`` the child itself runs the
    notebook in its own process group.
    """
    if level == "namespaces":
        return _enter_and_build(limits, slot, cgroup_procs=tuple(cgroup_procs))
    os.setpgid(0, 0)
    for procs in cgroup_procs:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))
    os.chdir(tempfile.mkdtemp(prefix="convkit-student-"))
    return 0


# --------------------------------------------------------------------------- the grader's side


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
        import select

        deadline = time.monotonic() + timeout
        data = b""
        while b"\n" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([self.control], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(self.control, 64)
            if not chunk:
                break
            data += chunk
        try:
            self.pid = int(data.split(b"\n", 1)[0])
        except ValueError:
            return False
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (OSError, AttributeError):
            self.pidfd = None
        return True

    def send(self, message: dict, timeout: float = 5.0) -> bool:
        """Write one command line; False if the job does not take it in time."""
        import select

        data = memoryview((json.dumps(message) + "\n").encode())
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
    """The warm helper process, and a way to start one notebook in a fresh sandbox of it.

    Use as a context manager. :meth:`start` returns a :class:`Job`. A helper that died
    or stopped answering is replaced by a fresh one.
    """

    def __init__(self, level: str = "namespaces", limits: Limits = Limits()) -> None:
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
        self.process: subprocess.Popen | None = None
        self._start_helper()

    @property
    def cgroups(self) -> list[str]:
        """The cgroup controllers that limit each job (``memory``, ``pids``), empty if none."""
        return self._cgroups.controllers

    def _start_helper(self) -> None:
        ours, theirs = socket.socketpair()
        library = str(Path(__file__).resolve().parents[2])
        bootstrap = (
            f"import sys; sys.path.insert(0, {library!r}); "
            "from convkit.grade.zygote import serve; serve(int(sys.argv[1]))"
        )
        self.process = subprocess.Popen(
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
        if ready != b"R":
            self.process.kill()
            self.process.wait()
            raise SandboxError(
                "the grading helper did not start (try: python -m convkit.grade --check-sandbox)"
            )
        ours.settimeout(10)
        self._socket = ours

    def _alive(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            state = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state not in ("T", "t", "Z", "X")

    def _restart_helper(self) -> None:
        try:
            self._socket.close()
        except OSError:
            pass
        if self.process is not None:  # the helper only: running jobs live on (see zygote._watch)
            try:
                self.process.kill()
            except OSError:
                pass
            self.process.wait()
        self._start_helper()

    def replace_helper(self) -> None:
        """Kill the helper (stopped, dead or wedged) and start a fresh one."""
        with self._lock:
            self._restart_helper()

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
                        self._restart_helper()
                    try:
                        socket.send_fds(self._socket, [len(payload).to_bytes(8, "big")], list(handed))
                        self._socket.sendall(payload)
                        break
                    except OSError as error:
                        if attempt:
                            raise SandboxError("the grading helper does not take jobs") from error
                        self.process.kill()
        finally:
            for fd in handed:
                os.close(fd)
        return Job(results_r, commands_w, control_r, name, self)

    def _finished(self, name: str) -> None:
        with self._lock:
            slot = self._jobs.pop(name, None)
            if slot is not None:
                self._slots.discard(slot)

    def kill_helper(self) -> None:
        """Kill the helper at once instead of letting it finish (the run is stopping, its jobs killed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def close(self) -> None:
        try:
            self._socket.close()
        except OSError:
            pass
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._cgroups.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
