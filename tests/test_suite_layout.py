"""How `make test` spreads the suite over its two workers: each group stays on one worker.

The browser tests share one JupyterLab and one Chromium, and a grading test on a second
worker would run student code beside the red team, which counts every sandbox process on
the machine. tests/conftest.py gives xdist the scheduler that keeps each group together;
these tests ask pytest's own hook for it, as xdist does, and drive it with two stand-in
workers through a whole run.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

BROWSER = [f"tests/browser/test_b{i % 3}.py::test_{i}" for i in range(12)]
GRADING = [f"tests/grading/test_g{i % 4}.py::test_{i}" for i in range(20)]
FREE = [f"tests/test_f{i % 5}.py::test_{i}" for i in range(40)] + ["lib/convkit/shapes.py::convkit.shapes"]


class _Worker:
    """What xdist's scheduler needs of a worker: a name, test indices sent, a stop."""

    def __init__(self, name: str) -> None:
        self.name, self.pending, self.shutting_down = name, [], False
        self.gateway = SimpleNamespace(id=name)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.pending += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def _run(request, collection: list[str]) -> dict[str, str]:
    """Each test id of ``collection`` with the worker that ran it, as xdist would schedule it."""
    values = {"tx": ["2*popen"], "dist": "loadscope"}  # what make test's `-n 2 --dist loadscope` gives
    config = SimpleNamespace(getvalue=values.get, option=SimpleNamespace(loadscopereorder=True))
    scheduler = request.config.hook.pytest_xdist_make_scheduler(config=config, log=None)
    workers = [_Worker("gw0"), _Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    ran = {}
    while any(worker.pending for worker in workers):
        for worker in workers:  # the two workers take turns finishing a test
            if worker.pending:
                index = worker.pending.pop(0)
                ran[collection[index]] = worker.name
                scheduler.mark_test_complete(worker, index)
    return ran


def test_each_group_runs_on_one_worker_and_every_other_test_goes_where_there_is_room(request):
    collection = BROWSER + GRADING + FREE
    ran = _run(request, collection)
    assert sorted(ran) == sorted(collection)  # every test ran, once
    by_worker = defaultdict(set)
    for nodeid, worker in ran.items():
        by_worker[nodeid.split("/")[1] if nodeid.startswith("tests/") else "lib"].add(worker)
    assert len(by_worker["browser"]) == 1 and len(by_worker["grading"]) == 1
    assert by_worker["browser"] != by_worker["grading"]  # the two big groups run side by side
    free = {worker for nodeid, worker in ran.items() if nodeid in FREE}
    assert free == {"gw0", "gw1"}
