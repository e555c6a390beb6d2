"""Test set-up: figures closed after each test, hypothesis profiles, parallel groups (see also ../conftest.py)."""

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# The profile decides how many examples every property runs; no test hard-codes it (a test
# whose examples are costly takes a fixed fraction of the profile's number).
# "ci", the default, is what `make test` and CI (.ci/run) run: 300 examples per property,
# derandomized so that every run, on every machine, tries the same examples.
# "fast" (`make test-fast`) runs 30 random ones, a new draw each time.
settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fast", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One worker per core: one BLAS and one torch thread each, or the threads of the two
    # workers fight over the cores. Tests of convkit's own threads set them explicitly.
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)

# With `pytest -n 2` (make test) each group below runs on one worker, one test after another:
# the browser tests share one JupyterLab and one Chromium; every grading test (the red team
# counts the sandbox's processes on the whole machine, the cluster test runs its own Slurm)
# runs alone with respect to the others that grade. Every other test is a unit of its own.
# The groups are given to xdist as its scheduler's scopes: its `xdist_group` marks are lost
# under pytest 9.2, whose test ids xdist 3.8 can no longer rename.
GROUPS = {"tests/browser/": "browser", "tests/grading/": "grading"}


def group_of(nodeid: str) -> str | None:
    """The group a test (its id relative to the repository root) must share a worker with."""
    return next((group for folder, group in GROUPS.items() if nodeid.startswith(folder)), None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling, whose scopes are the groups above and single tests."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

    return GroupScheduling(config, log)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
