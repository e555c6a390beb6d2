"""How `make test` spreads the suite over its workers: each group stays on one worker.

The browser tests share one JupyterLab and one Chromium, and a grading test on a second
worker would run student code beside the red team, which counts every sandbox process on
the machine (tests/conftest.py holds the groups and the scheduler that keeps them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# fast files of the grading group, and fast tests that belong to no group
GROUPED = ["tests/grading/test_codec.py", "tests/grading/test_call.py"]
FREE = ["tests/test_args.py"]


def test_the_grading_group_runs_on_one_worker_while_ungrouped_tests_use_both(tmp_path):
    command = [sys.executable, "-m", "pytest", *GROUPED, *FREE, "-n", "2", "--dist", "loadscope", "-v"]
    command += ["-p", "no:cacheprovider", "-o", f"cache_dir={tmp_path}"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    workers = defaultdict(set)  # file -> the workers that ran its tests
    for worker, nodeid in re.findall(r"^\[(gw\d+)\] \[\s*\d+%\] PASSED (\S+)", done.stdout, re.M):
        workers[nodeid.split("::")[0]].add(worker)
    assert set(workers) == set(GROUPED + FREE), done.stdout[-3000:]
    assert len(set().union(*(workers[f] for f in GROUPED))) == 1, dict(workers)
    assert len(set().union(*workers.values())) == 2, dict(workers)
