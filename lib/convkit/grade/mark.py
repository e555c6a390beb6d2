"""The line ``check()`` shows: ✓ passes, ✗ fails, ○ read but not judged, as text and as HTML.

In JupyterLab the line is a small coloured panel next to the cell, in the notebook's
own font, with the message wrapped between words (a plain-text output wraps inside
words and is easy to miss next to a red traceback). Every other front end (a terminal,
a doctest, nbconvert to text) gets the same line as plain text.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass

__all__ = ["Mark", "show", "PASS", "FAIL", "READ"]

PASS, FAIL, READ = "✓", "✗", "○"

# Okabe–Ito green and vermillion darkened, and a slate grey: each at least 4.5:1 on its tint.
_COLOURS = {
    PASS: ("#0b6e4f", "#e9f5ef", "passes"),
    FAIL: ("#a1341c", "#fbece8", "fails"),
    READ: ("#3f4a5a", "#eef1f5", "read, not judged"),
}


@dataclass(frozen=True)
class Mark:
    """One verdict of ``check()``: its symbol, what was checked, and the message.

    ``head`` is the question and name (``"02.q1 conv1d_by_hand"``), optionally with the
    check that failed; ``text`` is the message; ``notes`` are extra lines (a reminder to
    write the justification).
    """

    symbol: str
    head: str
    text: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.symbol not in _COLOURS:
            raise ValueError(f"symbol must be one of {', '.join(_COLOURS)}, got {self.symbol!r}")

    def __str__(self) -> str:
        lines = [f"{self.symbol} {self.head}: {self.text}"] + [f"  {note}" for note in self.notes]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": str(self), "text/html": self.html()}

    def html(self) -> str:
        """The mark as a self-contained HTML panel (inline styles only, text escaped)."""
        ink, tint, meaning = _COLOURS[self.symbol]
        notes = "".join(f'<div style="margin-top:2px">{html.escape(note)}</div>' for note in self.notes)
        return (
            f'<div role="status" aria-label="check {meaning}" style="border-left:4px solid {ink};'
            f"background:{tint};color:#1a1a1a;padding:6px 10px;margin:2px 0;font-family:inherit;"
            f'font-size:14px;line-height:1.45;white-space:normal;overflow-wrap:break-word;word-break:normal">'
            f'<span style="color:{ink};font-weight:bold" aria-hidden="true">{self.symbol}</span> '
            f"<strong>{html.escape(self.head)}</strong>: {html.escape(self.text)}{notes}</div>"
        )


def show(mark: Mark) -> None:
    """Display ``mark`` richly in IPython, or print it as text anywhere else."""
    shell = None
    if "IPython" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_pub"):
        print(mark)
        return
    from IPython.display import display

    display(mark)
