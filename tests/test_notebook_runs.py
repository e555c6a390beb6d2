"""Each course notebook runs once, in a fresh kernel, and that one run proves three things.

1. **It runs**: no cell raises (a cell tagged ``raises-exception`` may).
2. **Its saved facts are what it prints**: every cell tagged ``nbval-check-output``
   shows the outputs it was saved with, compared as ``nbval --nbval-lax`` compares
   them (streams joined per name; every output field and MIME type except pictures,
   widget model ids, metadata and execution counts). Untagged cells only have to run.
3. **No hidden state**: students go back and re-run an earlier cell. If a later cell
   rebound a name that cell uses, or if its randomness was seeded in another cell,
   the second run shows other numbers, another figure or a traceback. So after the
   whole notebook, every cell that showed something runs again, in the same kernel,
   and must show the same thing: text (streams, results, errors) exactly, figures by
   a hash of their PNG bytes, widgets by their text form (their model ids change).

JupyterLab runs the notebooks once more (``tests/browser/test_notebooks_in_lab.py``),
for what only a browser shows: widgets rendered with their controls and pictures, and
no request leaving the machine.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from nbval.plugin import coalesce_streams, transform_streams_for_comparison

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_TAG = "nbval-check-output"
RAISES_TAGS = {"raises-exception", "nbval-raises-exception"}
_TIMEOUT = 300  # seconds per cell
# What nbval leaves out of a comparison (its IPyNbFile.skip_compare, without nbdime).
_NOT_COMPARED = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
}


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


def compared(outputs) -> dict[str, list]:
    """What nbval compares in a cell's outputs: per output field or MIME type, its values in order."""
    fields: dict[str, list] = {}
    for output in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
        for key, value in output.items():
            if key == "data":
                for mime, item in value.items():
                    if mime not in _NOT_COMPARED:
                        fields.setdefault(mime, []).append(item)
            elif key not in _NOT_COMPARED:
                fields.setdefault(key, []).append(value)
    return fields


def run_problems(path: Path, timeout: int = _TIMEOUT) -> list[str]:
    """Run the notebook at ``path`` once; what it does wrong (see the module docstring), in order."""
    nb = nbformat.read(path, as_version=4)
    saved = {i: copy.deepcopy(cell.outputs) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    problems = []
    with client.setup_kernel(env=dict(os.environ, CONVKIT_OFFLINE="1")):
        first, where = {}, {}
        for index in saved:
            cell = nb.cells[index]
            where[index] = f"cell {index} ([{cell.execution_count}])"  # as saved
            tags = set(cell.metadata.get("tags", []))
            client.execute_cell(cell, index)
            first[index] = shown(cell.outputs)
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if errors and not tags & RAISES_TAGS:
                problems.append(f"{where[index]} raised {errors[0].ename}: {errors[0].evalue:.300}")
            if CHECK_TAG in tags and compared(cell.outputs) != compared(saved[index]):
                problems.append(
                    f"{where[index]} prints {compared(cell.outputs)!r:.300}, "
                    f"not the saved {compared(saved[index])!r:.300} (run `make notebooks`?)"
                )
        # Last cell first: a re-run earlier cell would restore the names later cells rebind,
        # while re-running a later cell leaves them as the whole run left them.
        for index, before in reversed(first.items()):
            if not before:
                continue
            again = new_code_cell(nb.cells[index].source)
            client.execute_cell(again, index)
            after = shown(again.outputs)
            if after != before:
                problems.append(f"{where[index]} shows {after!r:.300} on a re-run, not {before!r:.300}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_prints_its_saved_facts_and_shows_the_same_when_a_cell_is_rerun(path):
    assert run_problems(path) == []


def _notebook(tmp_path: Path, *cells) -> Path:
    """A notebook of code cells: a source, or (source, saved outputs, tags)."""
    made = []
    for cell in cells:
        source, outputs, tags = (cell, [], []) if isinstance(cell, str) else cell
        made.append(new_code_cell(source, outputs=outputs, metadata={"tags": tags}, execution_count=1))
    path = tmp_path / "01_example.ipynb"
    nbformat.write(new_notebook(cells=made), path)
    return path


def _printed(text: str) -> list:
    return [nbformat.v4.new_output("stream", name="stdout", text=text)]


def test_run_check_passes_a_good_notebook_and_compares_only_tagged_cells(tmp_path):
    path = _notebook(
        tmp_path,
        "n = 3",
        ("print(n * 2)", _printed("6\n"), [CHECK_TAG]),
        ("print(n * 3)", _printed("saved before n changed\n"), []),  # not tagged: only runs
        "import random\nrandom.seed(0)\nprint(round(random.random(), 6))",
        ("raise KeyError('shown on purpose')", [], ["raises-exception"]),
        "m = n + 1\nm",
    )
    assert run_problems(path, timeout=60) == []


def test_run_check_notices_a_cell_that_raises(tmp_path):
    path = _notebook(tmp_path, "x = 1", "print(undefined_name)")
    assert run_problems(path, timeout=60) == [
        "cell 1 ([1]) raised NameError: name 'undefined_name' is not defined"
    ]


def test_run_check_notices_a_tagged_cell_that_prints_other_than_its_saved_output(tmp_path):
    saved = _printed("6\n") + [
        nbformat.v4.new_output("execute_result", data={"text/plain": "7"}, execution_count=1)
    ]
    path = _notebook(tmp_path, "n = 3", ("print(n * 2)\nn + 3", saved, [CHECK_TAG]))
    problems = run_problems(path, timeout=60)
    assert len(problems) == 1 and problems[0].startswith("cell 1 ([1]) prints") and "'6'" in problems[0]


def test_rerun_check_notices_a_name_rebound_by_a_later_cell(tmp_path):
    path = _notebook(tmp_path, "n = 3", "print(n * 2)", "n = 4")
    problems = run_problems(path, timeout=60)
    assert len(problems) == 1 and problems[0].startswith("cell 1 ") and "re-run" in problems[0]


def test_rerun_check_notices_randomness_seeded_in_another_cell(tmp_path):
    path = _notebook(tmp_path, "import random\nrandom.seed(0)", "print(random.random())")
    assert len(run_problems(path, timeout=60)) == 1


def test_rerun_check_notices_a_cell_that_updates_its_own_input(tmp_path):
    path = _notebook(tmp_path, "total = [0]", "total[0] += 1\ntotal")
    assert len(run_problems(path, timeout=60)) == 1


def test_rerun_check_notices_a_figure_that_changes(tmp_path):
    path = _notebook(
        tmp_path,
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nheights = [1, 2]",
        "fig = plt.figure(figsize=(2, 2))\n_ = plt.plot(heights)",
        "heights = [2, 1]",
    )
    assert len(run_problems(path, timeout=60)) == 1
