"""The still picture of a widget's state: one drawing, written as SVG and as PNG.

A notebook saved with its outputs keeps, beside each widget's view, a picture of
the state it showed, for front ends that cannot run the widget. GitHub's and VS
Code's notebook viewers show the SVG; JupyterLab shows no SVG from a notebook it
does not trust (every freshly cloned one), but it does show a PNG, so a student
sees the picture before running anything. Both formats are written from the same
list of shapes by :class:`Picture`, the PNG with Pillow and the DejaVu Sans font
that matplotlib ships (nothing to install, nothing to download).

The grid of cells a footprint is drawn on has one home here
(:meth:`Picture.grid`), used by every widget's picture; the browser's has one in
``static/_common.js`` (``ckGrid``).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["CELL_STROKE", "Picture", "index_span"]

#: The colour of a cell's border, in every grid.
CELL_STROKE = "#8a8a8a"
_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


@functools.cache
def _font(size: int, weight: str) -> Any:
    from matplotlib import font_manager
    from PIL import ImageFont

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight=weight))
    return ImageFont.truetype(path, size)


def _png_bytes(image: Any, label: str | None = None) -> bytes:
    """PNG bytes; ``label`` goes in as the picture's "Title" and "Description" text (the PNG keywords)."""
    from PIL.PngImagePlugin import PngInfo

    info = None
    if label is not None:
        info = PngInfo()
        info.add_itxt("Title", label.split(":")[0])
        info.add_itxt("Description", label)
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True, pnginfo=info)
    return buffer.getvalue()


def index_span(indices: Iterable[int]) -> str:
    """Indices as a text alternative says them: ``"0 to 2"`` when consecutive, else listed.

    The browser's twin is ``ckSpan`` in ``static/_common.js``.

    >>> index_span([-1, 0, 1]), index_span([0, 2, 4]), index_span([3])
    ('-1 to 1', '0, 2, 4', '3')
    """
    found = sorted(set(indices))
    if len(found) > 1 and found[-1] - found[0] == len(found) - 1:
        return f"{found[0]} to {found[-1]}"
    return ", ".join(map(str, found))


class Picture:
    """Shapes on a white ``width × height`` canvas (CSS pixels, ``y`` down), with a text alternative.

    ``label`` is that text alternative: it states, in numbers, what the picture shows
    (shapes, sizes, the position drawn). The SVG carries it as ``<title>`` and
    ``aria-label``, the PNG as its "Title" and "Description" text.

    Add shapes with :meth:`rect`, :meth:`text`, :meth:`circle`, :meth:`image`
    and :meth:`grid`, set ``width`` and ``height`` (they may grow while
    drawing), then write the picture with :meth:`svg` or :meth:`png`.

    Examples
    --------
    >>> p = Picture(40, 20, "one cell")
    >>> p.rect(0, 0, 20, 20, fill="#56B4E9")
    >>> p.svg().count("<rect"), p.png()[:4]
    (2, b'\\x89PNG')
    """

    def __init__(self, width: float, height: float, label: str):
        self.width, self.height, self.label = width, height, label
        self._shapes: list[tuple[str, dict[str, Any]]] = []

    # -- shapes -------------------------------------------------------------------------------
    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        *,
        fill: str = "#ffffff",
        stroke: str = CELL_STROKE,
        stroke_width: float = 1,
    ) -> None:
        """A rectangle; ``fill="none"`` draws only its border."""
        self._shapes.append(
            (
                "rect",
                dict(
                    x=x, y=y, width=width, height=height, fill=fill, stroke=stroke, stroke_width=stroke_width
                ),
            )
        )

    def text(
        self,
        x: float,
        y: float,
        text: Any,
        size: int = 13,
        *,
        anchor: str = "start",
        weight: str = "normal",
        fill: str = "#222",
    ) -> None:
        """One line of text whose baseline starts (``anchor``: or is centred, or ends) at ``(x, y)``."""
        self._shapes.append(
            ("text", dict(x=x, y=y, text=str(text), size=size, anchor=anchor, weight=weight, fill=fill))
        )

    def circle(self, cx: float, cy: float, r: float, *, stroke: str, stroke_width: float = 2) -> None:
        """The outline of a circle."""
        self._shapes.append(("circle", dict(cx=cx, cy=cy, r=r, stroke=stroke, stroke_width=stroke_width)))

    def image(self, x: float, y: float, rgb: Any, scale: int) -> None:
        """An ``(h, w, 3)`` uint8 picture, each pixel a ``scale × scale`` block (no smoothing)."""
        self._shapes.append(("image", dict(x=x, y=y, rgb=np.asarray(rgb, dtype=np.uint8), scale=scale)))

    def grid(
        self,
        left: float,
        top: float,
        rows: Iterable[int],
        cols: Iterable[int],
        cell: float,
        fill: Callable[[int, int], str],
        label: Callable[[int, int], Any] | None = None,
    ) -> None:
        """Cells of ``cell`` pixels for the indices ``rows × cols`` (padding indices included).

        The first index of each range is drawn at ``(left, top)``. ``fill(r, c)``
        colours a cell and ``label(r, c)`` writes its number (``None``: nothing).
        """
        rows, cols = list(rows), list(cols)
        for a, r in enumerate(rows):
            for b, c in enumerate(cols):
                x, y = left + b * cell, top + a * cell
                self.rect(x, y, cell, cell, fill=fill(r, c))
                value = None if label is None else label(r, c)
                if value is not None:
                    self.text(x + cell / 2, y + cell / 2 + 5, f"{value:g}", 12, anchor="middle")

    # -- writers -------------------------------------------------------------------------------
    def svg(self) -> str:
        """The picture as a standalone SVG document, with ``role="img"``, its label and ``<title>``."""
        body = []
        for kind, s in self._shapes:
            if kind == "rect":
                body.append(
                    f"<rect x='{s['x']:g}' y='{s['y']:g}' width='{s['width']:g}' height='{s['height']:g}' "
                    f"fill='{s['fill']}' stroke='{s['stroke']}' stroke-width='{s['stroke_width']:g}'/>"
                )
            elif kind == "text":
                body.append(
                    f"<text x='{s['x']:.1f}' y='{s['y']:.1f}' font-size='{s['size']}' "
                    f"text-anchor='{s['anchor']}' font-weight='{s['weight']}' fill='{s['fill']}' "
                    f"font-family='DejaVu Sans, sans-serif'>{html.escape(s['text'])}</text>"
                )
            elif kind == "circle":
                body.append(
                    f"<circle cx='{s['cx']:g}' cy='{s['cy']:g}' r='{s['r']:g}' fill='none' "
                    f"stroke='{s['stroke']}' stroke-width='{s['stroke_width']:g}'/>"
                )
            else:
                from PIL import Image

                h, w = s["rgb"].shape[:2]
                uri = (
                    "data:image/png;base64,"
                    + base64.b64encode(_png_bytes(Image.fromarray(s["rgb"]))).decode()
                )
                body.append(
                    f"<image x='{s['x']:g}' y='{s['y']:g}' width='{w * s['scale']}' height='{h * s['scale']}' "
                    f"style='image-rendering:pixelated' href='{uri}'/>"
                )
        width, height = math.ceil(self.width), math.ceil(self.height)
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' aria-label='{html.escape(self.label)}'>"
            f"<title>{html.escape(self.label)}</title>"
            f"<rect width='100%' height='100%' fill='white'/>{''.join(body)}</svg>"
        )

    def png(self) -> bytes:
        """The same picture as PNG bytes, one pixel per CSS pixel."""
        from PIL import Image, ImageDraw

        canvas = Image.new("RGB", (math.ceil(self.width), math.ceil(self.height)), "white")
        draw = ImageDraw.Draw(canvas)
        for kind, s in self._shapes:
            if kind == "rect":
                box = [s["x"], s["y"], s["x"] + s["width"], s["y"] + s["height"]]
                fill = None if s["fill"] == "none" else s["fill"]
                draw.rectangle(box, fill=fill, outline=s["stroke"], width=round(s["stroke_width"]))
            elif kind == "text":
                font = _font(s["size"], s["weight"])
                draw.text(
                    (s["x"], s["y"]), s["text"], fill=s["fill"], font=font, anchor=_ANCHORS[s["anchor"]]
                )
            elif kind == "circle":
                box = [s["cx"] - s["r"], s["cy"] - s["r"], s["cx"] + s["r"], s["cy"] + s["r"]]
                draw.ellipse(box, outline=s["stroke"], width=round(s["stroke_width"]))
            else:
                h, w = s["rgb"].shape[:2]
                block = Image.fromarray(s["rgb"]).resize((w * s["scale"], h * s["scale"]), Image.NEAREST)
                canvas.paste(block, (round(s["x"]), round(s["y"])))
        return _png_bytes(canvas, self.label)
