"""check() in a real IPython shell: a broken cell's left-over answer is named stale, never checked."""

from __future__ import annotations

import pytest

from convkit.grade.history import stale_reason, watch


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("from convkit.grade.history import watch\nwatch()", store_history=True)
    yield shell
    shell.reset(new_session=True)
    InteractiveShell.clear_instance()


def run(shell, source: str):
    return shell.run_cell(source, store_history=True, silent=False)


def reason(shell, name: str):
    run(shell, "pass  # the cell calling check()")
    return stale_reason(name, shell.user_ns[name], shell)


def test_a_function_whose_cell_now_has_a_syntax_error_is_stale(shell):
    run(shell, "def conv1d_by_hand(x, u):\n    return x")
    assert reason(shell, "conv1d_by_hand") is None
    run(shell, "def conv1d_by_hand(x, u:\n    return x")  # the student breaks it
    message = reason(shell, "conv1d_by_hand")
    assert message and "raised an error the last time it ran" in message and "`conv1d_by_hand`" in message


def test_a_value_whose_cell_now_raises_is_stale(shell):
    run(shell, 'shift_choice = "B"')
    run(shell, "shift_choice = B")  # NameError: the old "B" is left
    assert "raised an error" in reason(shell, "shift_choice")


def test_fixing_and_running_the_cell_again_clears_it(shell):
    run(shell, "shift_choice = B")
    run(shell, 'shift_choice = "B"')
    assert reason(shell, "shift_choice") is None


def test_a_function_defined_before_an_error_in_its_own_cell_is_its_latest_code(shell):
    run(shell, "def f(x):\n    return 2 * x\nf(None)")  # the def ran, the call after it raised
    assert reason(shell, "f") is None


def test_a_later_unrelated_failing_cell_does_not_make_an_answer_stale(shell):
    run(shell, "answer = 3")
    run(shell, "1 / 0")
    assert reason(shell, "answer") is None


def test_watch_registers_its_recorder_once(shell):
    before = len(shell.events.callbacks["post_run_cell"])
    watch(shell)
    watch(shell)
    assert len(shell.events.callbacks["post_run_cell"]) == before


def test_outside_ipython_nothing_is_stale():
    from IPython import get_ipython

    assert get_ipython() is None  # a plain pytest process: no shell, no history
    assert stale_reason("x", 1) is None


def test_in_a_jupyter_kernel_check_names_the_broken_cell_instead_of_passing_the_old_function():
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "from convkit.grade import check\nimport numpy as np",
        "def conv1d_by_hand(x, u):\n    return np.array([x[i:i + len(u)] @ u for i in range(len(x) - len(u) + 1)])",
        'check("02.q1")',
        "def conv1d_by_hand(x, u:\n    return x",  # the student breaks the cell and runs it
        'check("02.q1")',
        'shift_choice = "B"',
        "shift_choice = B",
        'check("02.q4")',
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True).execute()

    def shown(index):
        outputs = notebook.cells[index].outputs
        return " ".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in outputs)

    assert shown(2).startswith("✓ 02.q1")
    assert "text/html" in notebook.cells[2].outputs[0]["data"]  # the coloured panel, beside the text
    assert shown(4).startswith("✗ 02.q1") and "raised an error the last time it ran (cell [4])" in shown(4)
    assert shown(7).startswith("✗ 02.q4") and "`shift_choice` still holds" in shown(7)
