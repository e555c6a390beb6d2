"""Render the course into a static site: ``python tools/build_site.py [OUT]`` (``make html``).

Every ``notebooks/*.ipynb`` becomes one page with its stored outputs (nbconvert's
JupyterLab template, pictures embedded), in course order, with previous / next
links above and below. ``index.html`` lists the notebooks with one line each and
``readme.html`` is the README. All links are relative, so the folder opens from
disk (``site/index.html``) or from any static web server.

Notebooks are saved without widget state, so a widget view cannot come alive in
a static page. A course widget saves a snapshot of its state beside the view
(``convkit.widgets.base.SNAPSHOT_MIME``): the page draws it with the widget's
own drawing code (``widgets/``, classic scripts, since pages opened from disk
cannot load ES modules), hover and stepping included, with its controls
disabled. Other widget views get their saved picture, or a note saying where
they run.

The site works offline: every script it loads is a file of the site. The formulas
are typeset in the browser by MathJax 3 (``tex-svg-full.js``: one file, SVG output,
no web fonts), copied into ``mathjax/`` from the PyPI package
``django-static-mathjax`` (a plain MathJax distribution, despite the name) that
``make install`` installs; the CDN scripts of nbconvert's template (require.js,
mermaid, the widget manager) are left out (see ``site_templates/notebook.html.j2``).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

import jinja2
import mathjax
import mistune
import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor

from convkit.widgets.base import SNAPSHOT_MIME

__all__ = ["Page", "course_pages", "build_site", "main"]

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "site_templates"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATIC = ROOT / "lib" / "convkit" / "widgets" / "static"
WIDGET_NOTE = (
    "<div class='course-widget-note'><b>Interactive widget.</b> It runs when you open "
    "this notebook in JupyterLab (<code>make lab</code>); the notebook is saved without "
    "widget state, so this static page cannot show its controls.</div>"
)


# MathJax's single-file TeX-to-SVG component, and its licence, as packaged.
MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax"
MATHJAX_FILES = ("es5/tex-svg-full.js", "LICENSE")


class Page(NamedTuple):
    """One notebook of the course: its file, output page, title and one-line summary."""

    source: Path
    html_name: str
    title: str
    summary: str


class _StaticWidgetNote(Preprocessor):
    """Replace widget views by their saved picture, else by a note saying where they run.

    Even with saved widget state, a live widget would need the widget manager from
    a CDN, which the offline site does not load.
    """

    def preprocess(self, nb, resources):
        modules = resources.setdefault("course_widgets", [])
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                shot = output.get("data", {}).get(SNAPSHOT_MIME)
                if shot is not None and output["data"].get("image/svg+xml"):
                    # Drawn live by widgets/<module> on the page; the picture until then.
                    state = json.dumps(shot).replace("</", "<\\/")
                    output["data"] = {
                        "text/html": (
                            f"<div class='ck-site-widget' data-module='{html.escape(shot['module'])}'>"
                            f"<script type='application/json'>{state}</script>"
                            f"{output['data']['image/svg+xml']}</div>"
                        )
                    }
                    if shot["module"] not in modules:
                        modules.append(shot["module"])
                    continue
                view = output.get("data", {}).get(WIDGET_MIME)
                if view is not None:
                    # A picture saved beside the view is the widget's static state: keep it.
                    pictures = {k: v for k, v in output["data"].items() if k.startswith("image/")}
                    output["data"] = {"text/html": WIDGET_NOTE} if not pictures else pictures
        return nb, resources


def _plain(markdown_text: str) -> str:
    """Markdown reduced to one line of plain prose (links keep their text)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown_text)
    text = re.sub(r"[*_`]", "", text)
    return " ".join(text.split())


def _readme_summaries(readme: Path) -> dict[str, str]:
    """The README's table of notebooks: ``| `NN_name` | what it teaches |`` rows, by stem."""
    if not readme.is_file():
        return {}
    rows = re.findall(
        r"^\|\s*`(\d\d_\w+)`\s*\|\s*(.+?)\s*\|\s*$", readme.read_text(encoding="utf-8"), flags=re.MULTILINE
    )
    return dict(rows)


def _summary(nb: nbformat.NotebookNode) -> str:
    """The notebook's first "what you will learn" item, else its first sentence of prose."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", cell.source):
            paragraph = paragraph.strip()
            if paragraph.startswith("- "):
                return _plain(paragraph.splitlines()[0][2:]).rstrip(";.,")
            if paragraph and not paragraph.startswith(("#", "---", "|", "*", ">", "<")):
                text = _plain(paragraph)
                sentence = re.match(r"(.+?[.!?])(\s|$)", text)
                return sentence[1] if sentence else text
    return ""


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if heading:
                return _plain(heading[1])
    return fallback


def course_pages(notebooks: Path = ROOT / "notebooks", readme: Path = ROOT / "README.md") -> list[Page]:
    """The course notebooks in order (their file names start with the number).

    Each summary is the notebook's line in the README's table of notebooks
    when it has one, so the index and the README say the same thing.
    """
    listed = _readme_summaries(readme)
    pages = []
    for path in sorted(notebooks.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        summary = listed.get(path.stem) or _summary(nb)
        pages.append(Page(path, f"{path.stem}.html", _title(nb, path.stem), summary))
    return pages


def _inline(markdown: mistune.Markdown, text: str) -> str:
    """One line of markdown as HTML, without the paragraph around it."""
    return re.sub(r"^<p>|</p>\s*$", "", markdown(text).strip())


def _nav(previous: Page | None, following: Page | None) -> str:
    left = (
        f"<a rel='prev' href='{previous.html_name}'>← {html.escape(previous.title)}</a>"
        if previous
        else "<span></span>"
    )
    right = (
        f"<a rel='next' href='{following.html_name}'>{html.escape(following.title)} →</a>"
        if following
        else "<span></span>"
    )
    return (
        f"<nav class='course-nav'>{left}<a href='index.html'>Course index</a>"
        f"<a href='readme.html'>About</a>{right}</nav>"
    )


def _relink(text: str, pages: list[Page], exercises: list[Path] = (), up: str = "") -> str:
    """Point links to course notebooks and exercises (``….ipynb``) at their pages in the site.

    ``up`` is the way back to the site's root from the page being written
    (``"../"`` for a page in ``exercises/``).
    """
    targets = [(r"(?:\.\./)?(?:notebooks/)?", p.source.name, p.html_name) for p in pages]
    targets += [
        # a notebook's footer links the student's copy (my-exercises/), which the site shows as the exercise
        (
            r"(?:\.\./)?(?:(?:my-)?exercises/)?" if up else r"(?:\.\./)?(?:my-)?exercises/",
            e.name,
            f"exercises/{e.stem}.html",
        )
        for e in exercises
    ]
    for prefix, name, page in targets:
        text = re.sub(
            rf"""href=(["']){prefix}{re.escape(name)}(#[^"']*)?\1""",
            lambda m, page=page: f"href={m[1]}{up}{page}{m[2] or ''}{m[1]}",
            text,
        )
    return text


def _widget_script(module: str) -> str:
    """A widget's ES module (with the shared helpers) as a classic script registering its render."""
    code = (WIDGET_STATIC / "_common.js").read_text(encoding="utf-8") + "\n"
    code += (WIDGET_STATIC / module).read_text(encoding="utf-8")
    ending = "export default { render };"
    if code.rstrip().count(ending) != 1 or not code.rstrip().endswith(ending):
        raise ValueError(f"{module} must end with {ending!r}")
    register = f"(window.ckSiteWidgets = window.ckSiteWidgets || {{}})[{json.dumps(module)}] = render;"
    return "(() => {\n" + code.rstrip()[: -len(ending)] + register + "\n})();\n"


def _with_widget_scripts(body: str, modules: list[str], out: Path) -> str:
    """Add the live widgets' style, drawing code and start-up script to a page that has any."""
    if not modules:
        return body
    folder = out / "widgets"
    folder.mkdir(exist_ok=True)
    shutil.copy(WIDGET_STATIC / "widgets.css", folder / "widgets.css")
    shutil.copy(TEMPLATES / "widgets_boot.js", folder / "boot.js")
    tags = ["<link rel='stylesheet' href='widgets/widgets.css'>"]
    for module in modules:
        (folder / module).write_text(_widget_script(module), encoding="utf-8")
        tags.append(f"<script src='widgets/{html.escape(module)}'></script>")
    tags.append("<script src='widgets/boot.js'></script>")
    head, tail = body.rsplit("</body>", 1)
    return head + "\n".join(tags) + "\n</body>" + tail


def build_site(
    out: Path, notebooks: Path = ROOT / "notebooks", readme: Path = ROOT / "README.md"
) -> list[Path]:
    """Write the site into ``out`` (emptied first); return the pages written, index first."""
    pages = course_pages(notebooks, readme)
    if not pages:
        raise ValueError(f"no notebooks found in {notebooks}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "mathjax").mkdir()
    for name in MATHJAX_FILES:
        shutil.copy(MATHJAX / name, out / "mathjax" / Path(name).name)

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES)],
        template_file="notebook.html.j2",
        embed_images=True,
    )
    exporter.register_preprocessor(_StaticWidgetNote(), enabled=True)
    exercises = sorted((notebooks.parent / "exercises").glob("*.ipynb"))
    written = []
    for i, page in enumerate(pages):
        nav = _nav(pages[i - 1] if i > 0 else None, pages[i + 1] if i + 1 < len(pages) else None)
        body, resources = exporter.from_filename(
            str(page.source), resources={"course_nav": nav, "course_root": ""}
        )
        body = _with_widget_scripts(body, resources.get("course_widgets", []), out)
        (out / page.html_name).write_text(_relink(body, pages, exercises), encoding="utf-8")
        written.append(out / page.html_name)
    # The exercises, read-only: each notebook links to its own, to be done in JupyterLab.
    if exercises:
        (out / "exercises").mkdir()
    for exercise in exercises:
        course = next((p for p in pages if p.source.name == exercise.name), None)
        back = (
            f"<a href='../{course.html_name}'>← {html.escape(course.title)}</a>"
            if course
            else "<span></span>"
        )
        nav = (
            f"<nav class='course-nav'>{back}<a href='../index.html'>Course index</a>"
            f"<span>Exercises: open <code>exercises/{exercise.name}</code> in JupyterLab "
            f"to work on them</span></nav>"
        )
        body, _ = exporter.from_filename(str(exercise), resources={"course_nav": nav, "course_root": "../"})
        target = out / "exercises" / f"{exercise.stem}.html"
        target.write_text(_relink(body, pages, exercises, up="../"), encoding="utf-8")
        written.append(target)

    shell = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False)
    frame = shell.get_template("page.html.j2")
    markdown = mistune.create_markdown(plugins=["table", "strikethrough", "url"])
    course = "\n".join(
        f"<li><a href='{p.html_name}'>{html.escape(p.title)}</a>"
        f"<span class='summary'>{_inline(markdown, p.summary)}</span></li>"
        for p in pages
    )
    first = (
        f"<nav class='course-nav'><a href='readme.html'>About the course</a>"
        f"<a rel='next' href='{pages[0].html_name}'>Start: {html.escape(pages[0].title)} →</a></nav>"
    )
    index = frame.render(
        title="Convolutions for deep learning: the course",
        nav=first,
        body=(
            "<h1>Convolutions for deep learning, hands-on</h1>"
            "<p>The notebooks in order, with the outputs they were saved with. "
            "To run them and use the widgets, open them in JupyterLab with "
            "<code>make lab</code>.</p>"
            f"<ol class='course'>{course}</ol>"
        ),
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    about = frame.render(
        title="About the course",
        nav=_nav(None, pages[0]),
        # a code block wider than the page scrolls: tabindex lets a keyboard reach and scroll it
        body=re.sub(
            r"<pre(?=[\s>])",
            '<pre tabindex="0"',
            _relink(markdown(readme.read_text(encoding="utf-8")), pages),
        ),
    )
    (out / "readme.html").write_text(about, encoding="utf-8")
    return [out / "index.html", out / "readme.html", *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "site"), help="output folder")
    args = parser.parse_args(argv)
    written = build_site(Path(args.out))
    print(f"wrote {len(written)} pages to {args.out}; open {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
