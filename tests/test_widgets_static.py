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
