"""The README's Slurm recipe on a real Slurm: ``tools/grade_on_slurm.sbatch`` grades a small
class as a 3-task array, a dependent job merges the shards, and the merge must equal one run
of the grader byte for byte (the CSV and every feedback file).

The test starts its own one-node cluster as root on 127.0.0.1: munged, slurmctld and slurmd in
the foreground, with their own key, configuration, free ports, state and logs in a temporary
folder, so a Slurm or munge already running on the machine is never used. The daemons are
stopped by PID, and the folder removed, whatever the test did.

Without Slurm the test is skipped with one line, except when ``CONVKIT_REQUIRE_CLUSTER=1``
(set by ``.ci/run``): then it fails, so CI can never pass it silently.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import ROOT

# The question list and the class helpers of the grader's own tests, wherever they import them from.
from .test_grader import FULL, NOTEBOOKS, QUESTIONS, _all, _class, _read

SCRIPT = ROOT / "tools" / "grade_on_slurm.sbatch"
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("munge", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
INSTALL_HINT = "apt-get install slurmctld slurmd slurm-client munge (as root)"
# Debian puts the daemons in /usr/sbin, which a CI user's PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
RECIPE_TIMEOUT = 300.0

SLURM_CONF = """\
ClusterName=convkit
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={state}/munge.socket
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Without these the controller waits between scheduling passes: arrays start far slower.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
ReturnToService=2
{node}
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _unavailable(reason: str) -> None:
    """Skip the cluster test with one line, or fail when CI requires it."""
    if os.environ.get("CONVKIT_REQUIRE_CLUSTER") == "1":
        pytest.fail(f"cluster test required (CONVKIT_REQUIRE_CLUSTER=1) but {reason}", pytrace=False)
    pytest.skip(f"{reason}; to run the cluster test: {INSTALL_HINT}")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path.name} ---\n" + "\n".join(text)


@dataclass
class Cluster:
    """A one-node Slurm started by :func:`slurm`: its folder, environment and daemons."""

    state: Path
    env: dict[str, str]
    daemons: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *args: str, cwd: Path | None = None, env: dict | None = None) -> str:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=cwd, env=env or self.env)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {done.returncode}: {done.stderr}{self.logs()}")
        return done.stdout

    def logs(self) -> str:
        found = [self.state / f"{name}.{kind}" for name in DAEMONS for kind in ("log", "stdout")]
        return "\n" + "\n".join(_tail(path) for path in found if path.is_file() and path.stat().st_size)

    def start(self, name: str, args: list[str], ready, what: str) -> None:
        """Start daemon ``name`` in the foreground and wait until ``ready()`` is true."""
        with open(self.state / f"{name}.stdout", "wb") as out:
            self.daemons[name] = subprocess.Popen(
                [shutil.which(name, path=SEARCH_PATH), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        end = time.monotonic() + START_TIMEOUT
        while not ready():
            if self.daemons[name].poll() is not None:
                raise AssertionError(f"{name} exited {self.daemons[name].returncode}{self.logs()}")
            if time.monotonic() > end:
                raise AssertionError(f"{what} not after {START_TIMEOUT:.0f} s{self.logs()}")
            time.sleep(0.2)

    def queue(self) -> list[str]:
        """One ``JOBID STATE REASON`` line per job that has not finished."""
        return self.run("squeue", "-h", "-o", "%i %T %r").split("\n")[:-1]

    def stop(self) -> list[str]:
        """Cancel every job, then stop the daemons by PID, newest first; names those that had to be killed."""
        try:
            jobs = [line.split()[0] for line in self.queue()]
            if jobs:
                subprocess.run(["scancel", *jobs], env=self.env, timeout=30)
                end = time.monotonic() + STOP_TIMEOUT
                while self.queue() and time.monotonic() < end:
                    time.sleep(0.5)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass  # no controller to ask: stopping slurmd below ends the jobs' parent
        killed = []
        for name, daemon in reversed(self.daemons.items()):
            if daemon.poll() is None:
                os.kill(daemon.pid, signal.SIGTERM)
                try:
                    daemon.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.kill(daemon.pid, signal.SIGKILL)
                    daemon.wait()
                    killed.append(name)
        return killed


def _answer(cluster: Cluster, *args: str) -> str:
    """What a Slurm client prints, or nothing while the daemon it asks is not up yet."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=cluster.env, timeout=10)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


def _ping(cluster: Cluster) -> bool:
    return "UP" in _answer(cluster, "scontrol", "ping")


def _node_idle(cluster: Cluster) -> bool:
    return _answer(cluster, "sinfo", "-h", "-n", "localhost", "-o", "%t").strip() == "idle"


def _this_machine() -> str:
    """The node line of slurm.conf for this machine's CPUs and memory, as slurmd detects them."""
    detected = subprocess.run(
        [shutil.which("slurmd", path=SEARCH_PATH), "-C"], capture_output=True, text=True, timeout=30
    ).stdout.splitlines()[0]
    return re.sub(r"^NodeName=\S+", "NodeName=localhost NodeAddr=127.0.0.1 State=UNKNOWN", detected)


@pytest.fixture
def slurm() -> Iterator[Cluster]:
    missing = [name for name in DAEMONS + CLIENTS if shutil.which(name, path=SEARCH_PATH) is None]
    if missing:
        _unavailable(f"Slurm is not installed ({', '.join(missing)} not found)")
    if os.geteuid() != 0:
        _unavailable("the test cluster's daemons run as root")
    # munged wants its socket's folder and every parent searchable by all users.
    state = Path(tempfile.mkdtemp(prefix="convkit-slurm-"))
    state.chmod(0o755)
    ctld_port, slurmd_port = _free_ports(2)
    conf = state / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(state=state, ctld_port=ctld_port, slurmd_port=slurmd_port, node=_this_machine())
    )
    key = state / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": SEARCH_PATH}
    cluster = Cluster(state, env)
    try:
        cluster.start(
            "munged",
            [
                "--foreground",
                f"--key-file={key}",
                f"--socket={state}/munge.socket",
                f"--pid-file={state}/munged.pid",
                f"--log-file={state}/munged.log",
                f"--seed-file={state}/munged.seed",
            ],
            (state / "munge.socket").exists,
            "munged's socket",
        )
        cluster.start("slurmctld", ["-D"], lambda: _ping(cluster), "slurmctld answering ping")
        cluster.start("slurmd", ["-D", "-N", "localhost"], lambda: _node_idle(cluster), "node idle")
        yield cluster
    finally:
        killed = cluster.stop()
        shutil.rmtree(state, ignore_errors=True)
    assert not killed, f"{killed} ignored SIGTERM for {STOP_TIMEOUT:.0f} s and were killed"


def _states(cluster: Cluster, job: str) -> list[str]:
    """``JobState`` of each task of ``job`` (completed jobs stay known for MinJobAge, 300 s)."""
    return re.findall(r"JobState=(\S+)", cluster.run("scontrol", "-o", "show", "job", job))


def _grader_files(python: str) -> dict[str, str]:
    """A digest of every file the grader reads (``lib/``, the hidden checks of ``tests/grading/``)
    in the repository ``python -I`` grades from.

    ``-I`` ignores ``PYTHONPATH``: the grader is the copy the environment has installed, which
    need not be this one, and a checkout that changes while the test runs changes the grades.
    """
    where = subprocess.run(
        [python, "-I", "-c", "import convkit; print(convkit.__path__[0])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    repository = Path(where.stdout.strip()).parents[1]
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in (repository / "lib", repository / "tests" / "grading")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and not path.name.startswith("test_")
        and path.name != "conftest.py"
    }


def _differences(merged: Path, whole: Path) -> str:
    """A unified diff of every file of the outputs that the merge and the one run do not share."""
    names = ["grades.csv"] + [f"feedback/{path.name}" for path in (merged / "feedback").iterdir()]
    names += [f"feedback/{path.name}" for path in (whole / "feedback").iterdir()]
    diffs = []
    for name in sorted(set(names)):
        mine, theirs = merged / name, whole / name
        if not (mine.is_file() and theirs.is_file()):
            diffs.append(f"{name}: only in {'the one run' if theirs.is_file() else 'the merge'}")
        elif mine.read_bytes() != theirs.read_bytes():
            lines = [path.read_text(errors="replace").splitlines(keepends=True) for path in (mine, theirs)]
            diffs.append("".join(difflib.unified_diff(*lines, f"merged/{name}", f"one run/{name}")))
    return "\n".join(diffs)


# Three students per kind of submission would make the test slower, not stronger. The names
# fall two to a shard of 3 (erin, judy | dave, heidi | alice, bob); the test checks it.
SOLVED = ("01", "02", "03")


def _small_class(root: Path) -> Path:
    solutions, exercises = _all("solutions"), _all("exercises")
    half = {n: (solutions if n[:2] in SOLVED else exercises)[n] for n in NOTEBOOKS}
    two = {n: (solutions if n.startswith("02") else exercises)[n] for n in NOTEBOOKS if n[:2] in ("02", "05")}
    return _class(
        root,
        {
            "alice": solutions,
            "heidi": solutions,
            "bob": exercises,
            "erin": exercises,
            "dave": half,
            "judy": two,
        },
    )


@pytest.mark.cluster
def test_the_slurm_array_recipe_merged_equals_one_run(slurm, tmp_path):
    submissions = _small_class(tmp_path)
    merged = tmp_path / "merged" / "grades.csv"
    env = {
        **slurm.env,
        "PYTHON": sys.executable,
        "SUBMISSIONS": str(submissions),
        "OUT": str(tmp_path / "out"),
        "MERGED": str(merged),
    }

    def sbatch(*args: str) -> str:
        return slurm.run("sbatch", "--parsable", *args, cwd=tmp_path, env=env).strip()

    grader = _grader_files(sys.executable)
    array = sbatch("--array=1-3", "--cpus-per-task=1", str(SCRIPT))
    merge = sbatch(f"--dependency=afterok:{array}", "--wrap", f"{SCRIPT} merge")
    end = time.monotonic() + RECIPE_TIMEOUT
    while queue := slurm.queue():
        stuck = [line for line in queue if "DependencyNeverSatisfied" in line]
        if stuck or time.monotonic() > end:
            logs = "\n".join(_tail(path, 30) for path in sorted(tmp_path.glob("slurm-*.out")))
            raise AssertionError(f"jobs left: {queue}\n{logs}{slurm.logs()}")
        time.sleep(1)
    logs = "\n".join(_tail(path, 30) for path in sorted(tmp_path.glob("slurm-*.out")))
    assert _states(slurm, array) == ["COMPLETED"] * 3, logs
    assert _states(slurm, merge) == ["COMPLETED"], logs
    shards = [_read(tmp_path / "out" / str(k) / "grades.csv") for k in (1, 2, 3)]
    assert [sorted(shard) for shard in shards] == [["erin", "judy"], ["dave", "heidi"], ["alice", "bob"]]

    whole = tmp_path / "whole" / "grades.csv"
    one_run = subprocess.run(
        [sys.executable, "-I", "-m", "convkit.grade", str(submissions), "--out", str(whole), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=RECIPE_TIMEOUT,
    )
    assert one_run.returncode == 0, one_run.stderr
    changed = sorted(set(grader.items()) ^ set(_grader_files(sys.executable).items()))
    if changed:
        pytest.fail(f"the grader's files changed while the test ran: {sorted({p for p, _ in changed})}")
    differences = _differences(merged.parent, whole.parent)
    assert not differences, f"the merge is not one run's:\n{differences}"

    # Both runs grading nothing would also agree: the totals must be the question list's.
    def points(notebooks: tuple[str, ...]) -> str:
        return str(sum(q.points for q in QUESTIONS if q.notebook[:2] in notebooks))

    full, everything = str(sum(FULL.values())), tuple(n[:2] for n in NOTEBOOKS)
    expected = {
        "alice": everything,
        "heidi": everything,
        "bob": (),
        "erin": (),
        "dave": SOLVED,
        "judy": ("02",),
    }
    assert {s: (r["total"], r["max"]) for s, r in _read(merged).items()} == {
        s: (points(notebooks), full) for s, notebooks in expected.items()
    }


def test_the_readme_shows_the_slurm_script_verbatim():
    assert f"```bash\n{SCRIPT.read_text()}```" in (ROOT / "README.md").read_text()
