"""No hidden state: re-running a cell after the whole notebook shows the same thing.

Students go back and re-run an earlier cell. If a later cell rebound a name that
cell uses, or if its randomness was seeded in another cell, the second run
shows other numbers, another figure or a traceback. This test runs each course
notebook top to bottom in a fresh kernel (nbclient), then runs again, one by
one, every cell that showed something, and compares what it shows: text
(streams, results, errors) exactly, figures by a hash of their PNG bytes.
Widgets are compared by their text form only (their model ids change).

It costs about one more run of each notebook; `make test` runs it with the
library tests.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_TIMEOUT = 300  # seconds per cell


def shown(outputs) -> list[tuple[str, str]]:
    """What a cell's outputs show: (kind, text or PNG hash), streams joined per name."""
    items: list[tuple[str, str]] = []
    streams: dict[str, str] = {}
    for output in outputs:
        if output.output_type == "stream":
            streams[output.name] = streams.get(output.name, "") + output.text
        elif output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "image/png" in data:
                items.append(("image/png", hashlib.sha256(data["image/png"].encode()).hexdigest()[:16]))
            elif "text/plain" in data:
                items.append(("text/plain", data["text/plain"]))
        elif output.output_type == "error":
            items.append(("error", f"{output.ename}: {output.evalue}"))
    return sorted(streams.items()) + items


def rerun_problems(path: Path, timeout: int = _TIMEOUT) -> list[str]:
    """Cells of the notebook at ``path`` that show something else when re-run after the whole notebook."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    problems = []
    with client.setup_kernel(env=dict(os.environ, CONVKIT_OFFLINE="1")):
        first = {}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
                first[index] = shown(cell.outputs)
        # Last cell first: a re-run earlier cell would restore the names later cells rebind,
        # while re-running a later cell leaves them as the whole run left them.
        for index, before in reversed(first.items()):
            if not before:
                continue
            again = new_code_cell(nb.cells[index].source)
            client.execute_cell(again, index)
            after = shown(again.outputs)
            if after != before:
                number = nb.cells[index].execution_count
                problems.append(
                    f"cell {index} ([{number}]) shows {after!r:.300} on a re-run, not {before!r:.300}"
                )
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_rerunning_any_cell_after_the_whole_notebook_shows_the_same(path):
    assert rerun_problems(path) == []


def _notebook(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "01_example.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(source) for source in sources]), path)
    return path


def test_rerun_check_passes_a_notebook_without_hidden_state(tmp_path):
    path = _notebook(
        tmp_path,
        "n = 3",
        "print(n * 2)",
        "import random\nrandom.seed(0)\nprint(round(random.random(), 6))",
        "m = n + 1\nm",
    )
    assert rerun_problems(path, timeout=60) == []


def test_rerun_check_notices_a_name_rebound_by_a_later_cell(tmp_path):
    path = _notebook(tmp_path, "n = 3", "print(n * 2)", "n = 4")
    problems = rerun_problems(path, timeout=60)
    assert len(problems) == 1 and problems[0].startswith("cell 1 ")


def test_rerun_check_notices_randomness_seeded_in_another_cell(tmp_path):
    path = _notebook(tmp_path, "import random\nrandom.seed(0)", "print(random.random())")
    assert len(rerun_problems(path, timeout=60)) == 1


def test_rerun_check_notices_a_cell_that_updates_its_own_input(tmp_path):
    path = _notebook(tmp_path, "total = [0]", "total[0] += 1\ntotal")
    assert len(rerun_problems(path, timeout=60)) == 1


def test_rerun_check_notices_a_figure_that_changes(tmp_path):
    path = _notebook(
        tmp_path,
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nheights = [1, 2]",
        "fig = plt.figure(figsize=(2, 2))\n_ = plt.plot(heights)",
        "heights = [2, 1]",
    )
    assert len(rerun_problems(path, timeout=60)) == 1
