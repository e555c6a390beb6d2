"""Lint-like checks on the course notebooks (they are run in test_notebook_runs.py).

Every notebook under notebooks/ must: open with a numbered title; import
convkit and not redefine its public functions; hold no absolute path, no
TODO/FIXME and no error output; be saved from a clean top-to-bottom run
(execution counts 1..n); have links that resolve, titles that match the
notebooks they point to, and a recap, a "Try it yourself" section and a footer
linking the previous and next notebooks and the student's copy of the matching
exercise notebook; have some outputs compared when it runs (nbval's tag); and carry
the kernelspec metadata JupyterLab writes, so that opening it does not dirty
the file. README's table of notebooks, when present, lists them in order.

Each check is a function returning a list of problems (empty when the
notebook is fine), so the tests at the bottom can prove that it notices a
broken notebook.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CHECK_TAG = "nbval-check-output"
# What JupyterLab writes when it opens a notebook; any other value is rewritten, dirtying the file.
LAB_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Students work on a copy of exercises/ (README: cp -r exercises my-exercises, ignored by git).
STUDENT_COPY = "my-exercises"

_TITLE = re.compile(r"^# (\d\d) · \S")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/work|/home|/tmp|/Users)/|\b[A-Za-z]:\\")
_TODO = re.compile(r"\b(?:TODO|FIXME)\b")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.IGNORECASE)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _markdown(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "markdown"]


def _output_texts(cell) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            texts.append(str(output.get("data", {}).get("text/plain", "")))
        elif output.output_type == "error":
            texts.append("\n".join(output.get("traceback", [])))
    return texts


def _links(markdown: str) -> list[tuple[str, str]]:
    """(text, target) of the markdown links and HTML href/src, math and code spans removed."""
    prose = _CODE_SPAN.sub("code", _MATH.sub("math", markdown))
    return _LINK.findall(prose) + [("", target) for target in _HREF.findall(prose)]


def title_of(path: Path) -> str:
    """A notebook's title: the first line of its first cell without the leading '# '."""
    first = _read(path).cells[0].source.splitlines()
    return first[0][2:].strip() if first and first[0].startswith("# ") else ""


def convkit_public_names() -> set[str]:
    """Names exported by convkit's public modules: reference, shapes, data, plot and the widgets."""
    names: set[str] = set()
    modules = ["convkit.reference", "convkit.shapes", "convkit.data", "convkit.plot"]
    widgets = importlib.import_module("convkit.widgets")
    modules += [
        f"convkit.widgets.{m.name}"
        for m in pkgutil.iter_modules(widgets.__path__)
        if not m.name.startswith("_")
    ]
    for name in modules:
        names.update(getattr(importlib.import_module(name), "__all__", ()))
    return names


# ------------------------------------------------------------------------- checks


def title_problems(path: Path, nb) -> list[str]:
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        return ["the first cell is not a markdown title cell"]
    first = nb.cells[0].source.splitlines()[0] if nb.cells[0].source else ""
    match = _TITLE.match(first)
    if match is None:
        return [f"the first line {first!r} is not a title '# NN · Title'"]
    if match.group(1) != path.name[:2]:
        return [f"the title says {match.group(1)} but the file is numbered {path.name[:2]}"]
    return []


def import_problems(nb) -> list[str]:
    imports = re.compile(r"^\s*(?:import convkit\b|from convkit(?:\.\w+)* import )", re.MULTILINE)
    if any(imports.search(cell.source) for cell in _code_cells(nb)):
        return []
    return ["no code cell imports convkit"]


def redefinition_problems(nb, public: set[str]) -> list[str]:
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        # IPython magics and shell escapes are not Python.
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()
        )
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            problems.append(f"cell {index} is not valid Python: {error}")
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name in public
            ):
                problems.append(f"cell {index} redefines convkit's {node.name!r}; import it instead")
    return problems


def absolute_path_problems(nb) -> list[str]:
    problems = []
    for index, cell in enumerate(nb.cells):
        for text in [cell.source] + _output_texts(cell):
            match = _ABSOLUTE_PATH.search(text)
            if match:
                problems.append(f"cell {index} holds an absolute path ({match.group(0)!r}...)")
                break
    return problems


def todo_problems(nb) -> list[str]:
    return [
        f"cell {index} has a leftover {match.group(0)}"
        for index, cell in enumerate(nb.cells)
        if (match := _TODO.search(cell.source))
    ]


def error_output_problems(nb) -> list[str]:
    problems = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index} has an error output: {output.get('ename')}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index} wrote to stderr: {output.text.strip()[:80]!r}")
    return problems


def execution_count_problems(nb) -> list[str]:
    counts = [cell.execution_count for cell in _code_cells(nb)]
    expected = list(range(1, len(counts) + 1))
    if counts != expected:
        return [f"execution counts {counts} are not {expected}: re-run the notebook top to bottom"]
    problems = []
    for cell in _code_cells(nb):
        for output in cell.outputs:
            if output.output_type == "execute_result" and output.execution_count != cell.execution_count:
                problems.append(
                    f"cell [{cell.execution_count}] holds a result from run [{output.execution_count}]"
                )
    return problems


def link_problems(path: Path, nb) -> list[str]:
    problems = []
    for markdown in _markdown(nb):
        for _, target in _links(markdown):
            if _EXTERNAL.match(target):
                continue
            file = target.split("#", 1)[0].split("?", 1)[0]
            # The student's copy is made from exercises/, so a link into it resolves there.
            file = re.sub(rf"^\.\./{STUDENT_COPY}/", "../exercises/", file)
            if not (path.parent / file).exists():
                problems.append(f"link {target!r} does not resolve from {path.parent.name}/")
    return problems


def link_title_problems(path: Path, nb) -> list[str]:
    """Links to another course notebook must carry that notebook's title as their text."""
    problems = []
    for markdown in _markdown(nb):
        for text, target in _links(markdown):
            if _EXTERNAL.match(target) or "/" in target or not target.endswith(".ipynb"):
                continue
            other = path.parent / target
            if other.exists() and text != title_of(other):
                problems.append(
                    f"link to {target} reads {text!r}, but that notebook is titled {title_of(other)!r}"
                )
    return problems


def structure_problems(path: Path, nb, order: list[str]) -> list[str]:
    """Recap, then 'Try it yourself', then a footer linking previous, next and the exercise."""
    problems = []
    headings = [md.splitlines()[0] for md in _markdown(nb) if md]
    recap = next((i for i, h in enumerate(headings) if h.strip() == "## Recap"), None)
    try_it = next((i for i, h in enumerate(headings) if h.strip() == "## Try it yourself"), None)
    if recap is None or try_it is None or try_it < recap:
        problems.append("no '## Recap' followed by '## Try it yourself'")
    last = nb.cells[-1]
    targets = [target for _, target in _links(last.source)] if last.cell_type == "markdown" else []
    position = order.index(path.stem) if path.stem in order else None
    expected = [f"../{STUDENT_COPY}/{path.name}"]
    if position is not None and position > 0:
        expected.append(f"{order[position - 1]}.ipynb")
    if position is not None and position < len(order) - 1:
        expected.append(f"{order[position + 1]}.ipynb")
    problems += [f"the last cell does not link to {target}" for target in expected if target not in targets]
    return problems


def checked_output_problems(nb) -> list[str]:
    """At least one cell's output is compared when the notebook runs, and only text outputs are."""
    checked = [cell for cell in _code_cells(nb) if CHECK_TAG in cell.metadata.get("tags", [])]
    if not checked:
        return [f"no cell is tagged {CHECK_TAG}: running the notebook would compare nothing"]
    problems = []
    for cell in checked:
        if not cell.outputs:
            problems.append(f"cell [{cell.execution_count}] is tagged {CHECK_TAG} but prints nothing")
        for output in cell.outputs:
            data = output.get("data", {})
            if any(key.startswith("image/") or "widget" in key for key in data):
                problems.append(
                    f"cell [{cell.execution_count}] is tagged {CHECK_TAG} but shows a "
                    "figure or widget, whose text repr varies"
                )
    return problems


def kernelspec_problems(nb) -> list[str]:
    kernelspec = dict(nb.metadata.get("kernelspec", {}))
    if kernelspec != LAB_KERNELSPEC:
        return [f"kernelspec {kernelspec} is not JupyterLab's {LAB_KERNELSPEC}"]
    return []


def readme_order(readme: str) -> list[str] | None:
    """Notebook names in README's table under 'The notebooks, in order', or None without one."""
    section = re.search(r"^## The notebooks, in order\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if section is None:
        return None
    names = re.findall(r"^\|\s*`?(\d\d_\w+?)(?:\.ipynb)?`?\s*\|", section.group(1), re.M)
    return names or None


# -------------------------------------------------------------------------- tests

ORDER = [path.stem for path in NOTEBOOKS]
ids = [path.stem for path in NOTEBOOKS]


@pytest.fixture(scope="module")
def public_names() -> set[str]:
    return convkit_public_names()


def test_there_are_notebooks_numbered_from_01_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)), [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_opens_with_its_numbered_title(path):
    assert title_problems(path, _read(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_imports_convkit_and_redefines_none_of_its_functions(path, public_names):
    nb = _read(path)
    assert import_problems(nb) + redefinition_problems(nb, public_names) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_has_no_absolute_path_todo_or_error_output(path):
    nb = _read(path)
    assert absolute_path_problems(nb) + todo_problems(nb) + error_output_problems(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_was_saved_from_a_clean_top_to_bottom_run(path):
    assert execution_count_problems(_read(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_links_resolve_and_carry_the_titles_they_point_to(path):
    nb = _read(path)
    assert link_problems(path, nb) + link_title_problems(path, nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_ends_with_recap_exercises_and_neighbour_links(path):
    assert structure_problems(path, _read(path), ORDER) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_has_outputs_that_nbval_compares(path):
    assert checked_output_problems(_read(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_carries_the_kernelspec_jupyterlab_writes(path):
    assert kernelspec_problems(_read(path)) == []


def test_readme_table_lists_the_notebooks_in_order():
    order = readme_order((ROOT / "README.md").read_text(encoding="utf-8"))
    if order is None:
        pytest.skip("README.md has no table of notebooks")
    assert order == ORDER


# ------------------------------------------- each check notices a broken notebook


def _good_notebook(folder: Path, name: str = "01_first.ipynb") -> Path:
    """A small notebook that passes every check, saved with a neighbour and its exercise."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    (folder / "notebooks").mkdir(exist_ok=True)
    (folder / "exercises").mkdir(exist_ok=True)
    path = folder / "notebooks" / name
    (folder / "exercises" / name).write_text("{}")
    neighbour = new_notebook(cells=[new_markdown_cell("# 02 · Second")])
    nbformat.write(neighbour, folder / "notebooks" / "02_second.ipynb")
    imports = new_code_cell("from convkit import shapes", execution_count=1)
    fact = new_code_cell(
        "print(shapes.conv_output_size(4, 2))",
        execution_count=2,
        outputs=[new_output("stream", name="stdout", text="3\n")],
    )
    fact.metadata["tags"] = [CHECK_TAG]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# 01 · First\n\n**Read first:** nothing; see $[0, 1](x)$ and `a[0](1)`."),
            imports,
            fact,
            new_markdown_cell("## Recap\n\n- a fact"),
            new_markdown_cell("## Try it yourself\n\n1. a prompt"),
            new_markdown_cell(
                f"---\nNext: [02 · Second](02_second.ipynb)\n\n"
                f"Exercises: [`{STUDENT_COPY}/{name}`](../{STUDENT_COPY}/{name}), "
                f"your copy of [`exercises/{name}`](../exercises/{name})"
            ),
        ]
    )
    nb.metadata["kernelspec"] = dict(LAB_KERNELSPEC)
    nbformat.write(nb, path)
    return path


def _all_problems(path: Path, public: set[str], order: list[str]) -> list[str]:
    nb = _read(path)
    return (
        title_problems(path, nb)
        + import_problems(nb)
        + redefinition_problems(nb, public)
        + absolute_path_problems(nb)
        + todo_problems(nb)
        + error_output_problems(nb)
        + execution_count_problems(nb)
        + link_problems(path, nb)
        + link_title_problems(path, nb)
        + structure_problems(path, nb, order)
        + checked_output_problems(nb)
        + kernelspec_problems(nb)
    )


def _broken(path: Path, edit) -> Path:
    nb = _read(path)
    edit(nb)
    nbformat.write(nb, path)
    return path


def test_the_good_example_passes_every_check(tmp_path, public_names):
    path = _good_notebook(tmp_path)
    assert _all_problems(path, public_names, ["01_first", "02_second"]) == []


def test_title_check_notices_a_missing_or_misnumbered_title(tmp_path):
    path = _good_notebook(tmp_path)

    def no_title(nb):
        nb.cells[0].source = "Some words first\n\n# 01 · First"

    assert title_problems(path, _read(_broken(path, no_title)))

    def wrong_number(nb):
        nb.cells[0].source = "# 03 · First"

    assert "numbered 01" in title_problems(path, _read(_broken(path, wrong_number)))[0]


def test_import_check_notices_a_notebook_without_convkit(tmp_path):
    path = _good_notebook(tmp_path)

    def no_import(nb):
        nb.cells[1].source = "import numpy as np"

    assert import_problems(_read(_broken(path, no_import))) == ["no code cell imports convkit"]


def test_redefinition_check_notices_a_copy_of_a_convkit_function(tmp_path, public_names):
    path = _good_notebook(tmp_path)

    def redefine(nb):
        nb.cells[
            1
        ].source = "%matplotlib inline\ndef conv2d(x, w):\n    return x\n\nclass show_map:\n    pass"

    problems = redefinition_problems(_read(_broken(path, redefine)), public_names)
    assert len(problems) == 2 and "'conv2d'" in problems[0] and "'show_map'" in problems[1]


def test_absolute_path_check_notices_paths_in_sources_and_outputs(tmp_path):
    for where, text in [
        ("source", "open('/home/me/data.csv')"),
        ("output", "saved to /tmp/x.png\n"),
        ("source", r"open('C:\\data\\x.csv')"),
        ("source", "path = '/work/main'"),
    ]:
        path = _good_notebook(tmp_path)

        def add_path(nb, where=where, text=text):
            if where == "source":
                nb.cells[2].source += f"\n# {text}"
            else:
                nb.cells[2].outputs[0].text = text

        assert absolute_path_problems(_read(_broken(path, add_path))), text


def test_todo_check_notices_leftover_markers(tmp_path):
    path = _good_notebook(tmp_path)

    def add_todo(nb):
        nb.cells[3].source += "\n- FIXME: finish this"

    assert todo_problems(_read(_broken(path, add_todo))) == ["cell 3 has a leftover FIXME"]


def test_error_check_notices_tracebacks_and_stderr(tmp_path):
    from nbformat.v4 import new_output

    path = _good_notebook(tmp_path)

    def add_errors(nb):
        nb.cells[1].outputs = [new_output("error", ename="ValueError", evalue="bad", traceback=[])]
        nb.cells[2].outputs.append(new_output("stream", name="stderr", text="UserWarning: careful\n"))

    problems = error_output_problems(_read(_broken(path, add_errors)))
    assert len(problems) == 2 and "ValueError" in problems[0] and "stderr" in problems[1]


def test_execution_count_check_notices_out_of_order_or_missing_runs(tmp_path):
    for counts in [(2, 1), (1, 3), (1, None)]:
        path = _good_notebook(tmp_path)

        def renumber(nb, counts=counts):
            for cell, count in zip((nb.cells[1], nb.cells[2]), counts):
                cell.execution_count = count

        assert execution_count_problems(_read(_broken(path, renumber))), counts


def test_link_check_notices_a_link_to_a_missing_file(tmp_path):
    path = _good_notebook(tmp_path)
    (tmp_path / "exercises" / path.name).unlink()
    assert link_problems(path, _read(path)) == [
        f"link '../{STUDENT_COPY}/{path.name}' does not resolve from notebooks/",
        f"link '../exercises/{path.name}' does not resolve from notebooks/",
    ]


def test_link_title_check_notices_a_stale_notebook_title(tmp_path):
    path = _good_notebook(tmp_path)

    def stale(nb):
        nb.cells[-1].source = nb.cells[-1].source.replace("02 · Second", "02 · Old name")

    problems = link_title_problems(path, _read(_broken(path, stale)))
    assert problems == [
        "link to 02_second.ipynb reads '02 · Old name', but that notebook is titled '02 · Second'"
    ]


def test_structure_check_notices_missing_recap_and_footer_links(tmp_path):
    path = _good_notebook(tmp_path)

    def no_recap_no_exercise(nb):
        nb.cells[3].source = "## Summary"
        # a plain-text path, or a link to exercises/ itself, is not a link to the student's copy
        nb.cells[-1].source = (
            f"---\nNext: [02 · Second](02_second.ipynb)\n\nExercises: `{STUDENT_COPY}/{path.name}`, "
            f"[`exercises/{path.name}`](../exercises/{path.name})"
        )

    problems = structure_problems(path, _read(_broken(path, no_recap_no_exercise)), ["01_first", "02_second"])
    assert problems == [
        "no '## Recap' followed by '## Try it yourself'",
        f"the last cell does not link to ../{STUDENT_COPY}/{path.name}",
    ]
    # The second of three notebooks must also link back to the first.
    assert structure_problems(path, _read(path), ["00_zero", "01_first", "02_second"])[1:] == [
        f"the last cell does not link to ../{STUDENT_COPY}/{path.name}",
        "the last cell does not link to 00_zero.ipynb",
    ]


def test_checked_output_check_notices_untagged_notebooks_and_tagged_figures(tmp_path):
    from nbformat.v4 import new_output

    path = _good_notebook(tmp_path)

    def untag(nb):
        nb.cells[2].metadata["tags"] = []

    assert checked_output_problems(_read(_broken(path, untag)))

    def tag_a_figure(nb):
        nb.cells[2].metadata["tags"] = [CHECK_TAG]
        nb.cells[2].outputs = [new_output("display_data", data={"image/png": "", "text/plain": "<Figure>"})]

    assert "figure or widget" in checked_output_problems(_read(_broken(path, tag_a_figure)))[0]


def test_kernelspec_check_notices_the_display_name_jupyterlab_would_rewrite(tmp_path):
    path = _good_notebook(tmp_path)

    def classic(nb):
        nb.metadata["kernelspec"]["display_name"] = "Python 3"

    assert kernelspec_problems(_read(_broken(path, classic)))

    def missing(nb):
        del nb.metadata["kernelspec"]

    assert kernelspec_problems(_read(_broken(path, missing)))


def test_readme_order_reads_the_table_and_notices_a_wrong_order():
    readme = (
        "# Course\n\n## The notebooks, in order\n\n| notebook | what |\n|---|---|\n"
        "| `01_why` | a |\n| `03_third` | c |\n| `02_second` | b |\n\n## Next section\n"
    )
    assert readme_order(readme) == ["01_why", "03_third", "02_second"]
    assert readme_order(readme) != ["01_why", "02_second", "03_third"]
    assert readme_order("# Course\n\nNo table here.\n") is None
