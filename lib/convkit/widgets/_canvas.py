"""The display plumbing every widget shares: one Agg figure, rendered to PNG bytes.

A widget keeps a single :class:`~matplotlib.figure.Figure` (not managed by
pyplot, so nothing accumulates over slider moves), redraws into it, and puts
:func:`png_bytes` into an ``ipywidgets.Image``.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

__all__ = ["new_figure", "png_bytes", "image_widget"]


def new_figure(width: float, height: float, dpi: float = 72) -> Figure:
    """A pyplot-free figure of ``width x height`` inches on an Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, *, draw: bool = True) -> bytes:
    """PNG bytes of ``fig`` at its own dpi, for an ``ipywidgets.Image``.

    ``draw=False`` encodes the canvas as it is, for callers that have just
    blitted into it themselves.
    """
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
        draw = True
    if draw:
        canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    buffer = io.BytesIO()
    # Light compression: the image is shown once and replaced at the next slider move.
    Image.fromarray(rgba[..., :3]).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def image_widget() -> "ipywidgets.Image":
    """An empty PNG ``ipywidgets.Image`` shown at its own pixel size.

    Inside a ``VBox`` a child is stretched to the box's width by default, which
    blurs a figure drawn at 72 dpi; aligning it to the start keeps it sharp.
    """
    import ipywidgets

    return ipywidgets.Image(format="png", layout=ipywidgets.Layout(align_self="flex-start"))
