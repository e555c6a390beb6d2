"""The static site (``make html``) opened from disk in Chromium.

Every link leads to a page with its figures, and with the network cut every page
loads all it needs from the site itself and typesets every formula.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import nbformat
import pytest
from lab_page import NOTEBOOKS, ROOT, WCAG_22_AA

from convkit import shapes

sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402

from convkit.widgets.base import SNAPSHOT_MIME  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium_path) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build_site.build_site(out)
    return out


def _stored_pictures(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum(
        "image/png" in data and SNAPSHOT_MIME not in data  # a widget's picture is drawn as inline SVG
        for cell in nb.cells
        for data in (output.get("data", {}) for output in cell.get("outputs", []))
    )


def _links(page) -> list[str]:
    return page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")


def test_every_link_of_the_site_opens_a_page_with_its_figures(site: Path, page):
    index = site.joinpath("index.html").as_uri()
    expected = {f"{p.stem}.html": _stored_pictures(p) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    seen, queue = set(), [index]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        page.goto(url, wait_until="load")
        name = Path(url.removeprefix("file://")).relative_to(site).as_posix()
        assert page.title(), f"{name}: page has no title"
        pictures = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete && i.naturalWidth > 0, i.alt || i.src.slice(0, 40)])"
        )
        broken = [alt for ok, alt in pictures if not ok]
        assert not broken, f"{name}: pictures that do not load: {broken}"
        if name in expected:
            assert len(pictures) >= expected[name], (
                f"{name}: {len(pictures)} pictures on the page, {expected[name]} in the notebook"
            )
        for link in _links(page):
            target = urldefrag(urljoin(url, link))[0]
            if target.startswith("file://"):
                assert Path(target.removeprefix("file://")).is_file(), f"{name}: dead link {link}"
                queue.append(target)
    visited = {Path(u.removeprefix("file://")).relative_to(site).as_posix() for u in seen}
    assert visited >= {"index.html", "readme.html", *expected}, visited


def test_next_links_walk_the_course_in_order(site: Path, page):
    page.goto(site.joinpath("index.html").as_uri())
    walked = []
    while page.locator("a[rel=next]").count():
        page.locator("a[rel=next]").first.click()
        page.wait_for_load_state("load")
        walked.append(Path(page.url.removeprefix("file://")).name)
        assert page.locator("a[rel=prev]").count() or len(walked) == 1
    assert walked == [f"{p.stem}.html" for p in sorted(NOTEBOOKS.glob("*.ipynb"))]


# Schemes that stay on this machine: the site's own files and inline data.
LOCAL = ("file:", "data:", "blob:", "about:")

# MathJax 3's startup promise settles once the page's first typesetting is done.
WAIT_FOR_MATHJAX = """() => window.MathJax && MathJax.startup
    ? MathJax.startup.promise.then(() => true) : false"""

# What MathJax made of the page: formulas drawn, formulas with a TeX error, the text of
# the markdown cells (typeset math and code taken out) and every script's address.
INSPECT = """() => {
    const prose = [...document.querySelectorAll(".jp-RenderedMarkdown")].map(cell => {
        const copy = cell.cloneNode(true);
        copy.querySelectorAll("code, pre, script, mjx-container").forEach(node => node.remove());
        return copy.textContent;
    });
    return {
        typeset: document.querySelectorAll("mjx-container[jax=SVG] > svg").length,
        errors: [...document.querySelectorAll("mjx-container [data-mjx-error]")]
            .map(node => node.getAttribute("data-mjx-error")),
        prose: prose.join("\\n"),
        scripts: [...document.scripts].map(s => s.src).filter(Boolean),
    };
}"""


def _markdown_formulas(notebook: Path) -> int:
    """Formulas in a notebook's markdown cells, counted from its source (code spans left out)."""
    nb = nbformat.read(notebook, as_version=4)
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = re.sub(r"```.*?```|`[^`]*`", "", cell.source, flags=re.DOTALL)
            count += len(re.findall(r"\$\$.+?\$\$|(?<!\\)\$[^$\n]+?\$", text, flags=re.DOTALL))
    return count


def _site_pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html")) + sorted(site.glob("exercises/*.html"))


def test_every_page_works_offline_and_typesets_every_formula(site: Path, page):
    left = []

    def refuse(route):
        left.append(route.request.url)
        route.abort()

    page.context.route(lambda url: not url.startswith(LOCAL), refuse)
    page.on("request", lambda request: None if request.url.startswith(LOCAL) else left.append(request.url))
    sources = {f"{p.stem}.html": p for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    sources |= {f"exercises/{p.stem}.html": p for p in sorted((ROOT / "exercises").glob("*.ipynb"))}
    pages = _site_pages(site)
    assert {p.relative_to(site).as_posix() for p in pages} >= set(sources)
    for path in pages:
        name = path.relative_to(site).as_posix()
        page.goto(path.as_uri(), wait_until="load")
        has_mathjax = page.evaluate(WAIT_FOR_MATHJAX)
        found = page.evaluate(INSPECT)
        assert not left, f"{name}: requests that leave file://: {left}"
        for script in found["scripts"]:
            assert script.startswith("file://"), f"{name}: script from {script}"
            assert Path(script.removeprefix("file://")).is_file(), f"{name}: missing script {script}"
        expected = _markdown_formulas(sources[name]) if name in sources else 0
        if expected:
            assert has_mathjax, f"{name}: {expected} formulas but MathJax did not start"
            assert found["typeset"] >= expected, f"{name}: {found['typeset']} of {expected} formulas drawn"
        assert not found["errors"], f"{name}: formulas MathJax could not read: {found['errors']}"
        raw = re.findall(r"\$[^$]+\$|\\\(|\\\[|\\begin\{", found["prose"])
        assert not raw, f"{name}: LaTeX left untypeset: {raw[:5]}"


def _first_snapshot(notebook: Path, module: str) -> dict:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            shot = output.get("data", {}).get(build_site.SNAPSHOT_MIME)
            if shot is not None and shot["module"] == module:
                return shot
    raise AssertionError(f"no {module} snapshot saved in {notebook.name}")


def test_a_saved_explorer_is_live_on_its_page_without_a_kernel(site: Path, page):
    left = []
    page.context.route(
        lambda url: not url.startswith(LOCAL), lambda route: (left.append(route.request.url), route.abort())
    )
    notebook = NOTEBOOKS / "05_padding_stride_dilation.ipynb"
    s = _first_snapshot(notebook, "explorer.js")["settings"]
    page.goto(site.joinpath(f"{notebook.stem}.html").as_uri(), wait_until="load")
    widget = page.locator(".ck-site-live .ck-widget").first
    widget.wait_for(state="visible")
    # Hovering an output cell lights the input cells it reads, as in JupyterLab.
    for i, j in [(0, 0), (1, 1)]:
        widget.locator(f"rect[data-g=out][data-r='{i}'][data-c='{j}']").hover()
        rows = shapes.footprint(i, s["kernel_h"], s["stride_h"], s["padding_h"], s["dilation_h"])
        cols = shapes.footprint(j, s["kernel_w"], s["stride_w"], s["padding_w"], s["dilation_w"])
        lit = widget.locator("rect[data-g=in].lit").evaluate_all(
            "rects => rects.map(r => [Number(r.dataset.r), Number(r.dataset.c)])"
        )
        assert {tuple(c) for c in lit} == {(r, c) for r in rows for c in cols}, (i, j)
    # Its settings cannot change without Python: the controls are there, but disabled.
    controls = widget.locator(".ck-controls input, .ck-controls select")
    assert controls.count() > 0
    assert all(controls.nth(k).is_disabled() for k in range(controls.count()))
    assert not left, f"requests that leave file://: {left}"


def test_a_setting_changed_on_a_static_page_says_it_needs_python_and_keeps_the_picture(site: Path, page):
    page.goto(site.joinpath("06_filter_gallery.html").as_uri(), wait_until="load")
    widget = page.locator(".ck-site-live .ck-playground").first
    widget.wait_for(state="visible")
    cell = widget.locator(".ck-body input").first
    output = widget.locator("canvas").nth(1)
    before, picture = cell.input_value(), output.evaluate("c => c.toDataURL()")
    cell.fill("5")
    cell.press("Enter")
    banner = widget.locator(".ck-error")
    banner.wait_for(state="visible")
    assert "needs Python" in banner.inner_text()
    assert cell.input_value() == before and output.evaluate("c => c.toDataURL()") == picture


def test_every_page_passes_axe_cores_wcag_2_2_aa_rules(site: Path, page, axe):
    found = {}
    for path in _site_pages(site):
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate(WAIT_FOR_MATHJAX)
        # The saved widgets are drawn live on the page: check them as a reader meets them.
        for widget in page.locator(".ck-site-widget").all():
            widget.locator(".ck-widget[data-drawn]").wait_for(state="attached")
        # Violations in full; passes and the rest summarised, which spares axe most of its work.
        options = {"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]}
        results = axe.run(page, options=options)
        for rule in results.response["violations"]:
            for node in rule["nodes"]:
                found.setdefault(path.relative_to(site).as_posix(), []).append(
                    f"{rule['id']} at {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}"
                )
    assert not found, "\n".join(f"{name}: {len(v)} failing nodes, first {v[:3]}" for name, v in found.items())
