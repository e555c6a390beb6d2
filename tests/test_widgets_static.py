"""The widgets' browser code ships inside the package and loads nothing from the network."""

from __future__ import annotations

import base64
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import tomllib
from PIL import Image

import convkit.widgets
from convkit.widgets import explorer, params, playground, stepper, template
from convkit.widgets.base import SNAPSHOT_MIME, STATIC

ROOT = Path(__file__).resolve().parents[1]
WIDGET_MODULES = {
    "explorer.js": explorer.Explorer,
    "stepper.js": stepper.Stepper,
    "playground.js": playground.Playground,
    "template.js": template.TemplateMatcher,
    "params.js": params.ParameterCounter,
}
URL = re.compile(r"https?://|//[a-z0-9-]+\.[a-z]", re.IGNORECASE)


def test_static_files_live_inside_the_installed_package():
    assert STATIC.parent == Path(convkit.widgets.__file__).parent
    for name in ["_common.js", "widgets.css", *WIDGET_MODULES]:
        assert (STATIC / name).is_file(), name


@pytest.mark.parametrize("path", sorted(STATIC.glob("*.*")), ids=lambda p: p.name)
def test_no_static_file_names_an_address_or_imports_a_module(path):
    text = path.read_text(encoding="utf-8")
    assert not URL.search(text), f"{path.name}: {URL.search(text)[0]!r}"
    # a plain ES module: no import of another file, no fetch, no dynamic loading
    assert not re.search(r"^\s*import\s|\bimport\(|\bfetch\(|XMLHttpRequest|WebSocket", text, re.M)


@pytest.mark.parametrize("name, widget", sorted(WIDGET_MODULES.items()))
def test_each_widget_class_loads_the_common_helpers_and_its_own_module(name, widget):
    assert widget._esm.startswith((STATIC / "_common.js").read_text(encoding="utf-8"))
    assert widget._esm.endswith((STATIC / name).read_text(encoding="utf-8"))
    assert "export default" in widget._esm


def test_pyproject_ships_the_static_files_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["convkit.widgets"]
    shipped = {p.name for pattern in patterns for p in STATIC.glob(pattern.removeprefix("static/"))}
    assert shipped == {p.name for p in STATIC.iterdir() if p.is_file()}
    assert any(d.startswith("anywidget") for d in config["project"]["dependencies"])


MAKERS = {
    "explorer.js": explorer.explorer,
    "stepper.js": stepper.stepper,
    "playground.js": playground.playground,
    "template.js": template.template_matcher,
    "params.js": params.parameter_counter,
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_each_widget_saves_a_snapshot_a_page_can_draw_it_from_without_a_kernel(name):
    widget = MAKERS[name]()
    bundle, _ = widget._repr_mimebundle_()
    shot = json.loads(json.dumps(bundle[SNAPSHOT_MIME]))  # plain JSON, as saved in a notebook
    assert shot["module"] == name and (STATIC / name).is_file()
    assert shot["settings"] == widget.settings and shot["spec"] == widget.spec
    # Decoded as the page decodes it (ckUnpack): the JSON, with each array put back at its path.
    data = json.loads(shot["data"]["json"])
    for path, text in shot["data"]["buffers"].items():
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = base64.b64decode(text)
    assert data == _plain(widget.data)


def _plain(value):
    """A state as the kernel holds it, arrays as bytes and tuples as lists (what JSON keeps)."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_each_widget_saves_its_picture_as_svg_and_as_png_for_untrusted_notebooks(name):
    # JupyterLab renders no SVG from an untrusted notebook, but it does render a PNG.
    bundle, _ = MAKERS[name]()._repr_mimebundle_()
    svg = ET.fromstring(bundle["image/svg+xml"])
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"], validate=True)))
    assert png.format == "PNG" and png.mode == "RGB"
    assert png.size == (int(svg.get("width")), int(svg.get("height")))
    assert svg.get("role") == "img" and svg.get("aria-label")
    # Not a blank canvas: the cells, bars or maps of the state are drawn in colour.
    assert len(png.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


def _saved_label(widget) -> str:
    """The text alternative of a widget's saved picture, checked to be the same in SVG and PNG."""
    bundle, _ = widget._repr_mimebundle_()
    svg = ET.fromstring(bundle["image/svg+xml"])
    title = svg.find("{http://www.w3.org/2000/svg}title")
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert svg.get("aria-label") == title.text == png.text["Description"]
    return title.text


def test_saved_pictures_state_their_shapes_and_the_position_drawn_in_svg_and_png():
    import torch
    import torch.nn.functional as F
    from torch import nn

    # The explorer's lecture example: 3×5 input, 3×3 kernel, padding (2, 1), stride (2, 2).
    w = explorer.explorer("lecture: 3×5, padding (2, 1), stride (2, 2)")
    y = F.conv2d(torch.zeros(1, 1, 3, 5), torch.zeros(1, 1, 3, 3), padding=(2, 1), stride=2)
    label = _saved_label(w)
    assert f"→ output 1 × {y.shape[2]} × {y.shape[3]}" in label and "padding (2, 1), stride (2, 2)" in label
    assert label.endswith("reads input rows -2 to 0, columns -1 to 1")  # footprints 0·2 − 2 + (0, 1, 2)
    # The stepper at its second position: the lecture's (1, 2, 3, 4) ⊛ (3, 2).
    w = stepper.stepper()
    w.position = 1
    y = F.conv1d(torch.tensor([[[1.0, 2, 3, 4]]]), torch.tensor([[[3.0, 2]]]))[0, 0]
    assert _saved_label(w).endswith(
        f"output {len(y)}; position 1 of 0–2: y[1] = {y[1]:g} from input x[1 to 2]"
    )
    conv = sum(p.numel() for p in nn.Conv2d(3, 3, 3).parameters())
    assert f"nn.Conv2d(3, 3, 3) has {conv:,} parameters" in _saved_label(params.parameter_counter())
    y = F.conv2d(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 3, 3))  # an MNIST digit, 3×3 kernel
    assert f"output 1×{y.shape[2]}×{y.shape[3]}" in _saved_label(playground.playground())
    w = template.template_matcher()
    s, (H, W) = w.settings, w.state.image.shape
    maps = F.conv2d(torch.zeros(1, 1, H, W), torch.zeros(1, 1, s["height"], s["width"])).shape[2:]
    label = _saved_label(w)
    assert f"patch {s['height']}×{s['width']} at (row {s['top']}, col {s['left']})" in label
    assert f"= {maps[0]}×{maps[1]}" in label


def test_a_notebook_executed_as_make_notebooks_executes_it_saves_each_widgets_png():
    # `make notebooks`: nbconvert's ExecutePreprocessor, widget state not stored.
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    source = "from convkit.widgets.params import parameter_counter\nparameter_counter()"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    ExecutePreprocessor(timeout=120, kernel_name="python3", store_widget_state=False).preprocess(notebook)
    saved = nbformat.reads(nbformat.writes(notebook), as_version=4)
    (output,) = saved.cells[0].outputs
    assert {"image/png", "image/svg+xml", SNAPSHOT_MIME} <= set(output["data"])
    png = Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"])))
    assert png.format == "PNG" and "widgets" not in saved.metadata
