"""The scaffold every course widget shares: Python state in, a drawing in the browser out.

A widget of the course is three things:

* a pure ``*_state(...)`` function (numbers in, facts out), tested against torch;
* one ES module in ``static/`` that draws those facts (SVG, or a canvas for
  images), with hover, animation and highlighting done in the browser;
* a short subclass of :class:`ConvWidget` that turns its controls' values
  (``settings``) into the state and the state into JSON (``data``).

The browser sends only control changes (``settings``) to the kernel; Python
answers with ``data``. So that a key press on a slider need not wait for that
round trip, the browser also asks for *lookahead*: the states one step away on
each control, computed by the same ``compute`` and sent ahead
(:meth:`ConvWidget.neighbours`); a change that lands on one is drawn at once,
and Python's answer confirms it. One error policy for all: a setting the state function
refuses (``ValueError``/``TypeError``) leaves ``data`` -- and so the picture --
as it was and puts the message in ``error``, which the widget shows above it.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from convkit._args import per_axis
from convkit.widgets.picture import Picture

__all__ = [
    "SNAPSHOT_MIME",
    "STATIC",
    "Control",
    "ConvWidget",
    "Preset",
    "axis_argument",
    "axis_settings",
    "axis_sliders",
    "choice",
    "floats",
    "number",
    "preset",
    "slider",
]

#: Folder of the ES modules and the style sheet, shipped inside the package.
STATIC = Path(__file__).with_name("static")
#: The output type of a widget's snapshot: what a page without a kernel (``make html``)
#: needs to draw the widget, hover and all.
SNAPSHOT_MIME = "application/vnd.convkit.widget-snapshot+json"


def _module(name: str) -> str:
    """``static/_common.js`` followed by ``static/<name>``: one plain ES module, no build step.

    anywidget loads a single module per widget; the shared helpers (controls,
    error banner, palette, canvas) are prepended so that each widget file can
    use them as if imported.
    """
    return (
        (STATIC / "_common.js").read_text(encoding="utf-8")
        + "\n"
        + (STATIC / name).read_text(encoding="utf-8")
    )


def axis_sliders(
    name: str, label: str, low: int, high: int, settings: dict[str, Any], *, one: bool, **extra: Any
) -> list[dict[str, Any]]:
    """The two sliders of a per-axis setting: ``{name}_h`` (rows) and ``{name}_w`` (columns).

    In 1d (``one``) the rows slider is hidden and the other is the length. A
    range reaches at least the current value (an example may start beyond ``high``).
    """
    return [
        slider(
            f"{name}_{axis}",
            f"{label} ({text})",
            low,
            max(high, settings[f"{name}_{axis}"]),
            settings[f"{name}_{axis}"],
            **{**extra, "hidden": extra.get("hidden", False) or (one and axis == "h")},
        )
        for axis, text in (("h", "rows"), ("w", "length" if one else "columns"))
    ]


def axis_settings(name: str, value: Any, ndim: int, neutral: int) -> dict[str, int]:
    """The sliders' settings for an argument given as in ``nn.Conv2d`` (an int or one per axis).

    In 1d the rows slider holds ``neutral`` (no padding, a stride or dilation of 1).

    >>> axis_settings("padding", (2, 1), 2, 0), axis_settings("stride", 3, 1, 1)
    ({'padding_h': 2, 'padding_w': 1}, {'stride_h': 1, 'stride_w': 3})
    """
    pair = per_axis(value, name, ndim)
    return {f"{name}_h": pair[0] if ndim == 2 else neutral, f"{name}_w": pair[-1]}


def axis_argument(settings: dict[str, Any], name: str, ndim: int) -> Any:
    """The argument the sliders of ``name`` give: ``(rows, columns)`` in 2d, the length alone in 1d."""
    pair = (settings[f"{name}_h"], settings[f"{name}_w"])
    return pair if ndim == 2 else pair[1]


def slider(
    name: str, label: str, low: int, high: int, value: int, step: int = 1, **extra: Any
) -> dict[str, Any]:
    """Spec of an integer slider (an ``<input type=range>`` with a visible label)."""
    return dict(kind="range", name=name, label=label, min=low, max=high, step=step, value=value, **extra)


def number(name: str, label: str, low: int, high: int, value: int, **extra: Any) -> dict[str, Any]:
    """Spec of a box to type an integer in (``<input type=number>``)."""
    return dict(kind="number", name=name, label=label, min=low, max=high, step=1, value=value, **extra)


def choice(name: str, label: str, options: list[tuple[str, Any]], value: Any, **extra: Any) -> dict[str, Any]:
    """Spec of a menu: ``options`` are ``(label, value)`` pairs."""
    return dict(
        kind="select",
        name=name,
        label=label,
        options=[[str(text), v] for text, v in options],
        value=value,
        **extra,
    )


def preset(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Spec of a button that sets several controls at once."""
    return dict(kind="button", name=name, label=name, values=values)


class Control:
    """One control of a widget, seen from Python: ``.value`` reads and sets its setting.

    Setting ``.value`` recomputes the widget's state at once, as moving the
    control in the browser does.
    """

    def __init__(self, widget: ConvWidget, name: str):
        self._widget, self.name = widget, name

    def _spec(self) -> dict[str, Any]:
        return next(s for s in self._widget.spec if s.get("name") == self.name)

    @property
    def value(self) -> Any:
        # A copy: editing a returned kernel in place must not change the setting unseen.
        return copy.deepcopy(self._widget.settings[self.name])

    @value.setter
    def value(self, value: Any) -> None:
        self._widget.settings = {**self._widget.settings, self.name: copy.deepcopy(value)}

    @property
    def min(self) -> Any:
        return self._spec().get("min")

    @property
    def max(self) -> Any:
        return self._spec().get("max")

    @property
    def options(self) -> list[Any]:
        return [v for _, v in self._spec().get("options", [])]

    @property
    def description(self) -> str:
        return self._spec()["label"]

    def __repr__(self) -> str:
        return f"Control({self.name!r}, value={self.value!r})"


class Preset:
    """A preset button, seen from Python: ``.click()`` loads its settings."""

    def __init__(self, widget: ConvWidget, name: str, values: dict[str, Any]):
        self._widget, self.name, self.values = widget, name, values

    def click(self) -> None:
        self._widget.settings = {**self._widget.settings, **self.values}


def _data_to_json(value: dict[str, Any], widget: Any) -> dict[str, Any]:
    """``data`` as sent to the browser: one JSON string, and the binary arrays beside it.

    ipywidgets would otherwise walk every nested list of the state looking for
    binary buffers, which costs more than computing the state; the browser
    parses the string once (``ckData`` in ``_common.js``).
    """
    buffers: dict[str, memoryview] = {}

    def strip(item: Any, path: str) -> Any:
        if isinstance(item, (bytes, memoryview)):
            buffers[path] = item if isinstance(item, memoryview) else memoryview(item)
            return None
        if isinstance(item, dict):
            return {key: strip(v, f"{path}.{key}" if path else key) for key, v in item.items()}
        return item

    plain = strip(value, "")
    return {"json": json.dumps(plain, separators=(",", ":")), "buffers": buffers}


def _key(settings: dict[str, Any]) -> str:
    """Settings as one string, whatever the order of their keys: how lookahead files states."""
    return json.dumps(settings, sort_keys=True)


class ConvWidget(anywidget.AnyWidget):
    """Base of the course widgets: ``settings`` -> ``state`` (Python) -> ``data`` (JSON) -> drawing.

    Subclasses name their ES module in ``module_file`` (``_esm`` follows from it), list
    their controls in :meth:`controls_spec` and compute in :meth:`compute`.

    Attributes
    ----------
    state
        The last state the state function returned (``None`` before the first).
    controls : dict of str to Control
        The controls by name; ``w.controls["stride_h"].value = 2`` acts like
        moving that slider.
    presets : dict of str to Preset
        Preset buttons by name; ``.click()`` loads one.
    error : str
        Why the current settings give no picture ("" when they do).
    """

    _css = (STATIC / "widgets.css").read_text(encoding="utf-8")
    #: The widget's module in ``static/``; its ``_esm`` is ``_module(module_file)``.
    module_file = ""
    #: Control specs (list of dicts made by slider/choice/preset), kept in step by Python.
    spec = traitlets.List().tag(sync=True)
    #: The values of the controls, by name. The browser writes it; Python answers with data.
    settings = traitlets.Dict().tag(sync=True)
    #: The last good state as JSON: what the browser draws.
    data = traitlets.Dict().tag(sync=True, to_json=_data_to_json)
    #: The message shown when the settings are refused ("" when they are fine).
    error = traitlets.Unicode("").tag(sync=True)
    #: A short title shown at the top of the widget (also its accessible name).
    title = traitlets.Unicode("").tag(sync=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "module_file" in cls.__dict__:
            cls._esm = _module(cls.module_file)
        super().__init_subclass__(**kwargs)

    def __init__(self, settings: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.state: Any = None
        self._loaded: dict[Any, Any] = {}
        self.spec = self.controls_spec(settings)
        self.controls = {s["name"]: Control(self, s["name"]) for s in self.spec if s["kind"] != "button"}
        self.presets = {
            s["name"]: Preset(self, s["name"], s["values"]) for s in self.spec if s["kind"] == "button"
        }
        self._settling: dict[str, Any] | None = None
        self.observe(self._on_settings, "settings")
        self.on_msg(self._on_message)
        # Keys of the states sent ahead lately, which the browser still holds: not sent again.
        self._sent_ahead: dict[str, None] = {}
        # The states computed for lookahead, by the same key, until a change asks for one.
        self._computed_ahead: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.settings = dict(settings)

    # -- to be written by each widget -------------------------------------------------------
    def controls_spec(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        """The controls for ``settings`` (ranges and options may depend on them)."""
        raise NotImplementedError

    def compute(self, settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``(state, data)`` for ``settings``; raise ValueError/TypeError to refuse them.

        Pure: lookahead calls it for every neighbouring setting, so it must not
        change any trait (what the widget shows stays as it is).
        """
        raise NotImplementedError

    def settle(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """The settings a change from ``old`` to ``new`` ends at (``new`` itself by default).

        A widget whose controls move together (a new image brings its own patch,
        a preset fills the kernel) says so here, without side effects: the same
        rule then serves a change and the states sent ahead. Raise
        ValueError/TypeError to refuse the change.
        """
        return new

    def loaded(self, key: Any, load: Callable[[], Any], what: str) -> Any:
        """``load()`` once per ``key`` for this widget (a course image, say), then kept.

        A file that cannot be read refuses the setting: ``ValueError`` naming ``what``,
        so the widget shows the message and keeps its last picture.
        """
        if key not in self._loaded:
            try:
                self._loaded[key] = load()
            except (IndexError, KeyError, OSError, RuntimeError) as error:
                raise ValueError(f"cannot load the {what}: {error}") from None
        return self._loaded[key]

    def changing(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Called once per change of the settings, from ``old`` to the settled ``new``, before the
        new state is computed (nothing by default).

        The one place where a widget updates what it holds beside its settings (the
        stepper's output position); :meth:`compute` and :meth:`settle` never write.
        """

    def picture(self) -> Picture | None:
        """A still picture of the current state, for front ends that cannot run the widget."""
        return None

    def snapshot(self) -> dict[str, Any]:
        """The current state as the browser gets it, in plain JSON (binary arrays in base64).

        A page without a kernel draws the widget from it with the same module:
        hover, stepping and highlighting work; the settings stay as saved.
        """
        payload = _data_to_json(self.data, self)
        buffers = {
            path: base64.b64encode(bytes(view)).decode("ascii") for path, view in payload["buffers"].items()
        }
        shot = {
            "module": self.module_file,
            "title": self.title,
            "spec": self.spec,
            "settings": self.settings,
            "data": {"json": payload["json"], "buffers": buffers},
        }
        if self.has_trait("position"):
            shot["position"] = self.position
        return shot

    # -- the one update path ----------------------------------------------------------------
    def settled(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """:meth:`settle` applied until nothing moves (a new size may then clear a preset)."""
        for _ in range(8):
            moved = self.settle(old, dict(new))
            if moved == new:
                return new
            old, new = new, moved
        raise ValueError("these settings keep changing each other; choose them one at a time")

    def _on_settings(self, change: dict[str, Any]) -> None:
        old, new = change.get("old") or {}, change["new"]
        if new is self._settling:  # the settled settings, just written below
            self._settling = None
            self.refresh()
            return
        try:
            settled = self.settled(old, new)
        except (ValueError, TypeError) as error:
            self.error = str(error)
            return
        self.changing(old, settled)
        if settled != new:
            self._settling = settled
            self.settings = settled  # observed again: refreshes
            return
        self.refresh()

    def refresh(self) -> None:
        """Recompute from ``settings``; on a refused setting keep the last picture and say why."""
        settings = dict(self.settings)
        try:
            # A state just computed for lookahead is what the browser already shows: reuse it.
            ready = self._computed_ahead.pop(_key(settings), None)
            state, data = ready if ready is not None else self.compute(settings)
        except (ValueError, TypeError) as error:
            self.error = str(error)
            return
        spec = self.controls_spec(settings)
        if spec != self.spec:
            self.spec = spec
        self.state = state
        # Error first: the browser redraws on data and then finds no stale message.
        self.error = ""
        # The settings go with the state: the browser matches them against what it drew ahead.
        self.data = {**data, "_settings": settings}

    # -- lookahead ----------------------------------------------------------------------------
    #: Seconds of computing spent on one lookahead request for every control's neighbours
    #: (a request naming one control always gets all of that control's).
    AHEAD_SECONDS = 0.03
    #: How many states sent ahead are not sent again (the browser keeps the last 96 it received).
    AHEAD_REMEMBERED = 48

    def neighbours(self, settings: dict[str, Any], first: str | None = None) -> list[dict[str, Any]]:
        """The settings one step away from ``settings`` on each visible control.

        One step is the slider's step (or the next option of a menu), within the
        control's range. With ``first`` naming a control (the one a student is
        moving, or has just focused), only that control's neighbours, four steps
        each way: the other controls' would change at its next step anyway.
        """
        specs = [
            s for s in self.spec if s["kind"] != "button" and not s.get("hidden") and not s.get("disabled")
        ]
        if any(s["name"] == first for s in specs):
            specs = [s for s in specs if s["name"] == first]
        found: list[dict[str, Any]] = []
        for spec in specs:
            name, value = spec["name"], settings.get(spec["name"])
            reach = (1, -1, 2, -2, 3, -3, 4, -4) if name == first else (1, -1)
            if spec["kind"] in ("range", "number"):
                candidates = [value + k * spec["step"] for k in reach if isinstance(value, int)]
                candidates = [v for v in candidates if spec["min"] <= v <= spec["max"]]
            elif spec["kind"] == "select":
                options = [v for _, v in spec["options"]]
                index = options.index(value) if value in options else None
                candidates = (
                    []
                    if index is None
                    else [options[index + k] for k in reach if 0 <= index + k < len(options)]
                )
            else:
                candidates = []
            found += [{**settings, name: v} for v in candidates]
        return found

    def ahead(self, first: str | None = None) -> tuple[list[dict[str, Any]], list[memoryview]]:
        """The lookahead message for the current settings: ``(entries, buffers)``.

        Each entry holds a neighbour's ``settings`` (as the browser would send
        them), its state as ``json`` (for the settings they settle at, which the
        state also holds as ``_settings``) and the index in ``buffers`` of each
        binary array (``buffers``: path -> index). Settings the state function
        refuses are left out.
        """
        settings = dict(self.settings)
        entries: list[dict[str, Any]] = []
        buffers: list[memoryview] = []
        index_of: dict[bytes, int] = {}  # an array shared by several states is sent once
        start = time.perf_counter()
        for asked in self.neighbours(settings, first):
            moves_first = first in asked and asked[first] != settings.get(first)
            if not moves_first and time.perf_counter() - start > self.AHEAD_SECONDS:
                break
            key = _key(asked)
            if key in self._sent_ahead:
                continue
            try:
                near = self.settled(settings, asked)
                state, data = self.compute(near)
            except (ValueError, TypeError):
                continue
            # Filed under the settings the browser will send; drawn from those they settle at.
            payload = _data_to_json({**data, "_settings": near}, self)
            paths = {}
            for path, view in payload["buffers"].items():
                paths[path] = index_of.setdefault(bytes(view), len(buffers))
                if paths[path] == len(buffers):
                    buffers.append(view)
            entries.append({"settings": asked, "json": payload["json"], "buffers": paths})
            self._sent_ahead[key] = None
            self._computed_ahead[_key(near)] = (state, data)
        for remembered in (self._sent_ahead, self._computed_ahead):
            while len(remembered) > self.AHEAD_REMEMBERED:
                del remembered[next(iter(remembered))]
        return entries, buffers

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        # The browser asks for lookahead after each change it sends; anything else is ignored.
        if not isinstance(content, dict) or content.get("kind") != "ahead":
            return
        if content.get("fresh") is True:
            self._sent_ahead.clear()  # a new or reloaded page holds nothing yet
        first = content.get("first")
        entries, views = self.ahead(first if isinstance(first, str) else None)
        # Always answered, even with nothing new: the browser asks again only after an answer.
        self.send({"kind": "ahead", "entries": entries}, views)

    def __repr__(self) -> str:
        # A stable text form for saved notebooks (no memory address).
        return f"{type(self).__name__}(title={self.title!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        picture = self.picture()
        if picture is not None and data is not None:
            # Front ends without a widget manager show the picture of the saved state: a viewer
            # the SVG, JupyterLab the PNG (it renders no SVG from an untrusted notebook, and a
            # freshly cloned notebook is untrusted). JupyterLab prefers the live view.
            png = base64.b64encode(picture.png()).decode("ascii")
            data = {**data, "image/svg+xml": picture.svg(), "image/png": png}
        if self.module_file and self.data and data is not None:
            data = {**data, SNAPSHOT_MIME: self.snapshot()}
        return data, metadata


def floats(array: Any) -> dict[str, Any]:
    """An array for the browser: its shape and its values as float32 bytes (sent as binary)."""
    import numpy as np

    values = np.ascontiguousarray(array, dtype=np.float32)
    return {"shape": list(values.shape), "values": memoryview(values.tobytes())}
