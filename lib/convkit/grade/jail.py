"""The jail: one notebook's process tree, from the forkserver's fork to the end of the notebook.

Where it runs
-------------
In the child the forkserver forks for each notebook (:func:`start`), never in the
grader, which imports this module only for :class:`Limits` and for the probes
:func:`convkit.grade.sandbox.capabilities` runs in throwaway children. For the
``"namespaces"`` level that child

1. joins the job's cgroups, enters new user (when not root), mount, PID, network, IPC
   and UTS namespaces (``unshare(2)``) and forks the jailed init (:func:`enter`);
2. writes the init's outer PID on the trusted control pipe, and then only watches over
   it, killing it as soon as the grader closes that pipe;

while the jailed init, PID 1 of the new PID namespace,

3. builds a read-only root on a private tmpfs (system directories, the interpreter, the
   virtual environment and ``convkit``; a small tmpfs for ``$HOME``, ``/tmp`` and
   ``/dev/shm``) and drops its privileges (an unprivileged UID when the grader is root,
   no capabilities, ``no_new_privs``, not dumpable);
4. runs the notebook (:func:`run_job`) under its rlimits (:func:`set_limits`), with
   stdin/stdout/stderr on ``/dev/null`` (printed text is never read by anyone): the
   code cells run top to bottom in one namespace, each under a ``SIGALRM`` timer, and
   an exception, ``sys.exit`` or a timeout ends that cell only; then it answers the
   grader's commands one at a time: ``{"check": i, "nonce": n, ...}`` calls (or reads)
   the named answer through :func:`convkit.grade.call.call_answer`, watching for the
   question's forbidden calls, and writes one result that repeats the check's index
   and nonce.

For the ``"process"`` level the forked child itself runs the notebook, in its own
process group and an empty working folder, under the same rlimits.

Everything the job writes is untrusted: the grader parses it strictly
(:class:`convkit.grade.wire.Reader`), enforces the wall-clock limits and kills the
job's PID namespace.
"""

from __future__ import annotations

import builtins
import ctypes
import ctypes.util
import errno
import os
import platform
import resource
import select
import signal
import socket
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from convkit.grade import wire

__all__ = [
    "Limits",
    "CellTimeout",
    "start",
    "enter",
    "set_limits",
    "run_job",
    "die_with_parent",
    "probe_user_namespace",
    "probe_namespaces",
]

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


# --------------------------------------------------------------------------- entering the jail


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
    """Called in a fresh child of the forkserver: returns 0 in the process that runs the notebook.

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


# --------------------------------------------------------------------------- probes


def probe_user_namespace() -> None:
    """Enter a new user namespace, and nothing else (run it in a child that then exits)."""
    _unshare(CLONE_NEWUSER)


def probe_namespaces() -> None:
    """Enter every namespace of a job and fork a jailed init that builds the root and exits.

    Run it in a child that then exits: it changes the namespaces of the calling process.
    Raises OSError when the init could not build the read-only root.
    """
    pid = _enter_and_build(Limits(), slot=0, probe=True)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"the jail's root could not be built (its init exited with {status})")


# --------------------------------------------------------------------------- the notebook, inside


class CellTimeout(BaseException):
    """Raised in student code when its time is up (a BaseException, so `except Exception` misses it)."""


def _on_alarm(signum, frame):
    raise CellTimeout()


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
        self.results, self.commands = results, wire.Commands(commands)
        self._write, self._frame = os.write, wire.frame

    def send(self, message: dict) -> None:
        from convkit.grade.codec import encode

        if "value" in message:
            message = dict(message, value=encode(message["value"]))
        data = memoryview(self._frame(message, allow_nan=False))
        while data:
            data = data[self._write(self.results, data) :]

    def command(self) -> dict | None:
        return self.commands.next()


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
    """In the jailed init: run the cells, answer the grader's checks; never returns."""
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
    channel.send({"event": wire.READY})
    for index, source in enumerate(job["cells"]):
        if index in skip_cells:
            continue
        channel.send({"event": wire.CELL, "index": index})
        error = None
        try:
            code = compile(_to_python(source), f"<cell {index}>", "exec")
            _timed(timeout, exec, code, namespace)
        except BaseException as caught:  # a failing cell never stops the next ones
            error = _error_text(caught)
        channel.send({"event": wire.CELL_DONE, "index": index, "error": error})
    channel.send({"event": wire.CELLS_DONE})
    while True:
        command = channel.command()
        if type(command) is not dict or "check" not in command:
            return
        index, nonce = command["check"], command["nonce"]
        reply = {"event": wire.RESULT, "index": index, "nonce": nonce}
        try:
            reply["value"] = _call_check(command, namespace, timeout, channel)
        except BaseException as caught:
            reply = dict(reply, error=_error_text(caught))
        try:
            channel.send(reply)
        except (TypeError, ValueError) as caught:
            channel.send(
                {
                    "event": wire.RESULT,
                    "index": index,
                    "nonce": nonce,
                    "error": f"result not sendable: {caught}",
                }
            )


def _call_check(command: dict, namespace: dict, timeout: float, channel: _Channel):
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
                "event": wire.FORBIDDEN,
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


# --------------------------------------------------------------------------- the forkserver's child


def start(job: dict, fds: list[int]) -> None:
    """In a fresh child of the forkserver: enter the jail and run the job; never returns.

    ``fds`` are the job's results, commands and control pipe ends; the child holds no
    other descriptor of the forkserver's.
    """
    results, commands, control = fds
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        inner = enter(job["level"], Limits(**job["limits"]), int(job["slot"]), job["cgroup_procs"])
        if inner:  # the outer child: report the jailed init's PID, then watch over it
            os.write(control, wire.pid_line(inner))
            for fd in (results, commands):
                os.close(fd)
            _watch(inner, control)
            os._exit(0)
        if job["level"] == "process":
            os.write(control, wire.pid_line(os.getpid()))
        os.close(control)
    except BaseException as error:  # say why on the results channel: the grader shows it
        try:
            text = f"the sandbox could not be set up ({type(error).__name__}: {error})"[:300]
            os.write(results, wire.frame({"event": wire.SANDBOX_ERROR, "error": text}))
        finally:
            os._exit(71)
    run_job(job, results, commands)


def _watch(inner: int, control: int) -> None:
    """Wait for the jailed init; kill it as soon as the grader closes (or loses) the control pipe.

    The forkserver may be replaced while jobs run, so a job's life hangs on the grader, not on the
    forkserver.
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
