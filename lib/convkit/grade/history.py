"""What the student's kernel last ran for a name: the cell that defines it, and whether that cell failed.

``check()`` looks an answer up by name in the notebook's variables. If the student has
since broken the cell that defines it (a SyntaxError, a NameError such as
``shift_choice = B``), the variable still holds what an *earlier* run made, and checking
it would pass an answer the grader then scores 0: the grader runs the notebook as it
is now. So before checking, :func:`stale_reason` reads IPython's input history for the
latest cell that binds the name, and the outcome of that cell's last run (recorded by
:func:`watch`, which ``convkit.grade`` calls on import), and, for a function, whether its
own source is in that cell.

Outside IPython (a script, a doctest) there is no history and nothing is ever stale.
"""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

__all__ = ["watch", "defines", "stale_reason"]

_OUTCOMES = "_convkit_cell_outcomes"  # on the shell: execution count -> whether that cell ran without error


def _shell(shell: Any = None) -> Any:
    if shell is not None:
        return shell
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with jupyterlab
        return None
    return get_ipython()


def watch(shell: Any = None) -> None:
    """Record, from now on, whether each cell the shell runs succeeds (once per shell)."""
    shell = _shell(shell)
    if shell is None or hasattr(shell, _OUTCOMES):
        return
    outcomes: dict[int, bool] = {}
    setattr(shell, _OUTCOMES, outcomes)

    def record(result) -> None:
        if result.execution_count is not None:
            outcomes[result.execution_count] = bool(result.success)

    shell.events.register("post_run_cell", record)


class _Binder(ast.NodeVisitor):
    """The names a cell binds at its top level (not those local to a function it defines)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def _defines(self, node) -> None:
        self.names.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _defines

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_Import(self, node) -> None:
        for alias in node.names:
            self.names.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import


def defines(source: str, name: str) -> bool:
    """Whether the cell ``source`` binds ``name`` (def, class, assignment, import), even if it does not parse.

    >>> defines("def f(x):\\n    y = 2\\n    return x", "f"), defines("def f(x):\\n    y = 2", "y")
    (True, False)
    >>> defines("shift_choice = B", "shift_choice"), defines("def g(:\\n    pass", "g")
    (True, True)
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # a broken cell: read it as text
        pattern = rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b|^\s*{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)"
        return re.search(pattern, source, re.MULTILINE) is not None
    binder = _Binder()
    binder.visit(tree)
    return name in binder.names


def _own_source(value: Any) -> str | None:
    if not inspect.isfunction(value):
        return None
    try:
        return inspect.getsource(value).strip()
    except (OSError, TypeError):
        return None


def stale_reason(name: str, value: Any, shell: Any = None) -> str | None:
    """Why ``value``, bound to ``name``, is not what the notebook's latest code for it makes; else ``None``.

    The latest cell run before the current one that binds ``name`` decides: if its
    last run raised, ``value`` is left over from an earlier run (unless ``value`` is a
    function whose own source is in that cell, so its definition did run). A function
    whose source is in no such cell was defined some other way and is not judged stale.
    """
    shell = _shell(shell)
    if shell is None:
        return None
    cells = list(getattr(shell, "user_ns", {}).get("In") or [])
    outcomes = getattr(shell, _OUTCOMES, {})
    for number in range(len(cells) - 2, 0, -1):  # the last entry is the cell calling check() now
        source = cells[number]
        if not isinstance(source, str) or not defines(source, name):
            continue
        if outcomes.get(number, True):
            return None
        own = _own_source(value)
        if own is not None and own in source:
            return None  # the definition ran; something after it in the cell failed
        return (
            f"the cell that sets `{name}` raised an error the last time it ran (cell [{number}]), so "
            f"`{name}` still holds what an earlier run made. Fix that cell and run it again: the grader "
            f"runs your notebook as it is now"
        )
    return None
